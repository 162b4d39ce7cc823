#!/usr/bin/python3
# A real client, slixmpp's XEP-0045 plugin, against Herald's MUC component: an owner creates and
# configures a room, a second user joins, they talk, the owner sets the subject, makes the other a
# member, kicks him, he rejoins and gets the history, the owner destroys the room.
# Prints JSON lines, one per step.
#
#   slixmpp_muc.py PORT OWNER_JID OTHER_JID PASSWORD
import asyncio, json, ssl, sys
import slixmpp
from slixmpp.jid import JID

port, owner_jid, other_jid, password = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
ROOM = JID("slixroom@conference.localhost")


def out(**kw):
    print(json.dumps(kw), flush=True)


def codes(pres):
    return sorted(int(c) for c in pres["muc"]["status_codes"])


class Client(slixmpp.ClientXMPP):
    def __init__(self, jid):
        super().__init__(jid, password, sasl_mech="SCRAM-SHA-1")
        self.ssl_context.check_hostname = False
        self.ssl_context.verify_mode = ssl.CERT_NONE
        for p in ("xep_0004", "xep_0030", "xep_0045", "xep_0203"):
            self.register_plugin(p)
        self.ready = asyncio.get_event_loop().create_future()
        self.messages = asyncio.Queue()
        self.presences = asyncio.Queue()
        self.subjects = asyncio.Queue()
        self.add_event_handler("session_start", self.started)
        self.add_event_handler("groupchat_message", lambda m: self.messages.put_nowait(m))
        self.add_event_handler("groupchat_presence", lambda p: self.presences.put_nowait(p))
        self.add_event_handler("groupchat_subject", lambda m: self.subjects.put_nowait(m))

    def started(self, _):
        self.send_presence()
        if not self.ready.done():
            self.ready.set_result(True)


async def next_of(queue, pred):
    while True:
        item = await asyncio.wait_for(queue.get(), 5)
        if pred(item):
            return item


async def run(owner, other):
    muc, omuc = owner.plugin["xep_0045"], other.plugin["xep_0045"]
    pres, _subject, _occ, _hist = await muc.join_muc_wait(ROOM, "Owner", timeout=5)
    out(event="created", codes=codes(pres), affiliation=pres["muc"]["affiliation"])
    form = await muc.get_room_config(ROOM)
    fields = form.get_fields()
    out(event="form", has_whois="muc#roomconfig_whois" in fields, has_persistent="muc#roomconfig_persistentroom" in fields)
    submit = form
    submit["type"] = "submit"
    submit.set_values({"muc#roomconfig_roomname": "Slix room", "muc#roomconfig_persistentroom": True})
    await muc.set_room_config(ROOM, submit)
    out(event="configured")
    info = await other.plugin["xep_0030"].get_info(jid=ROOM)
    out(event="info", name=[i[3] for i in info["disco_info"]["identities"]][0], persistent="muc_persistent" in info["disco_info"]["features"])

    pres, _subject, occupants, _hist = await omuc.join_muc_wait(ROOM, "Other", timeout=5)
    out(event="joined", codes=codes(pres), role=pres["muc"]["role"], occupants=sorted(p["from"].resource for p in occupants))

    owner.send_message(mto=ROOM, mbody="hello room", mtype="groupchat")
    msg = await next_of(other.messages, lambda m: m["body"] == "hello room")
    out(event="message", frm=str(msg["from"]), has_stanza_id=msg.xml.find("{urn:xmpp:sid:0}stanza-id") is not None)

    muc.set_subject(ROOM, "Slixmpp testing")
    subj = await next_of(other.subjects, lambda m: m["subject"] == "Slixmpp testing")
    out(event="subject", frm=str(subj["from"]))

    await muc.set_affiliation(ROOM, "member", jid=JID(other_jid).bare)
    members = await muc.get_affiliation_list(ROOM, "member")
    out(event="members", jids=[str(j) for j in members])

    await muc.set_role(ROOM, "Other", "none", reason="testing kicks")
    kicked = await next_of(other.presences, lambda p: p["type"] == "unavailable")
    out(event="kicked", codes=codes(kicked))

    pres, _subject, _occ, hist = await omuc.join_muc_wait(ROOM, "Other", maxstanzas=1, timeout=5)
    out(event="rejoined", history=[m["body"] for m in hist], affiliation=pres["muc"]["affiliation"])

    await muc.destroy(ROOM, reason="done", altroom=JID("elsewhere@conference.localhost"))
    gone = await next_of(other.presences, lambda p: p["type"] == "unavailable")
    destroy = gone.xml.find("{http://jabber.org/protocol/muc#user}x/{http://jabber.org/protocol/muc#user}destroy")
    out(event="destroyed", alternate=destroy.get("jid") if destroy is not None else None)


async def main():
    owner, other = Client(owner_jid), Client(other_jid)
    for c in (owner, other):
        c.connect(address=("127.0.0.1", port), force_starttls=True, disable_starttls=False)
    await asyncio.wait_for(asyncio.gather(owner.ready, other.ready), 10)
    out(event="session")
    try:
        await run(owner, other)
    except Exception as e:  # report, so the test shows what failed
        out(event="error", error=repr(e))
    for c in (owner, other):
        c.disconnect()
    await asyncio.sleep(0.2)
    out(event="done")


asyncio.get_event_loop().run_until_complete(main())
