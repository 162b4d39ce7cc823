#!/usr/bin/python3
# A real client, slixmpp's XEP-0060 plugin, against Herald's pubsub component. Two accounts: the
# owner (an admin) and a subscriber. Prints JSON lines, one per step.
#
#   slixmpp_pubsub.py PORT OWNER_JID SUBSCRIBER_JID PASSWORD run    # create ... purge, keep one item
#   slixmpp_pubsub.py PORT OWNER_JID SUBSCRIBER_JID PASSWORD check  # after a restart: read, then delete
import asyncio, json, ssl, sys
import xml.etree.ElementTree as ET
import slixmpp

port, owner_jid, sub_jid, password, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
SERVICE = "pubsub.localhost"
NODE = "slix"
ATOM = "http://www.w3.org/2005/Atom"


def out(**kw):
    print(json.dumps(kw), flush=True)


def entry(title):
    e = ET.Element("{%s}entry" % ATOM)
    t = ET.SubElement(e, "{%s}title" % ATOM)
    t.text = title
    return e


class Client(slixmpp.ClientXMPP):
    def __init__(self, jid):
        super().__init__(jid, password, sasl_mech="SCRAM-SHA-1")
        self.ssl_context.check_hostname = False
        self.ssl_context.verify_mode = ssl.CERT_NONE
        self.register_plugin("xep_0004")
        self.register_plugin("xep_0030")
        self.register_plugin("xep_0060")
        self.ready = asyncio.get_event_loop().create_future()
        self.events = asyncio.Queue()
        self.add_event_handler("session_start", lambda _: self.ready.done() or self.ready.set_result(True))
        self.add_event_handler("failed_auth", lambda _: out(event="failed_auth", jid=jid))
        for kind in ("publish", "retract", "purge", "delete"):
            self.add_event_handler("pubsub_" + kind, self.make_handler(kind))

    def make_handler(self, kind):
        def handler(msg):
            event = msg["pubsub_event"]
            if kind == "publish":
                item = event["items"]["item"]
                payload = item["payload"]
                title = payload.find("{%s}title" % ATOM) if payload is not None else None
                self.events.put_nowait({"kind": kind, "node": event["items"]["node"], "id": item["id"], "title": title.text if title is not None else None})
            elif kind == "retract":
                self.events.put_nowait({"kind": kind, "node": event["items"]["node"], "id": event["items"]["retract"]["id"]})
            elif kind == "purge":
                self.events.put_nowait({"kind": kind, "node": event["purge"]["node"]})
            else:
                self.events.put_nowait({"kind": kind, "node": event["delete"]["node"]})
        return handler

    async def next_event(self):
        return await asyncio.wait_for(self.events.get(), 5)


async def run(owner, sub):
    ps, sps = owner["xep_0060"], sub["xep_0060"]
    await ps.create_node(SERVICE, NODE)
    out(event="created", node=NODE)

    form = (await ps.get_node_config(SERVICE, NODE))["pubsub_owner"]["configure"]["form"]
    out(event="config", max_items=form.get_fields()["pubsub#max_items"]["value"])
    submit = owner["xep_0004"].make_form(ftype="submit")
    submit.add_field(var="FORM_TYPE", ftype="hidden", value="http://jabber.org/protocol/pubsub#node_config")
    submit.add_field(var="pubsub#title", value="Slixmpp feed")
    submit.add_field(var="pubsub#max_items", value="10")
    await ps.set_node_config(SERVICE, NODE, submit)
    out(event="configured")

    result = await sps.subscribe(SERVICE, NODE, bare=False)
    out(event="subscribed", subscription=result["pubsub"]["subscription"]["subscription"])

    await ps.publish(SERVICE, NODE, id="one", payload=entry("First"))
    out(event="notified", **(await sub.next_event()))
    await ps.publish(SERVICE, NODE, id="two", payload=entry("Second"))
    out(event="notified", **(await sub.next_event()))

    items = await sps.get_items(SERVICE, NODE)
    out(event="items", ids=[i["id"] for i in items["pubsub"]["items"]])

    await ps.retract(SERVICE, NODE, "one", notify=True)
    out(event="notified", **(await sub.next_event()))

    await ps.purge(SERVICE, NODE)
    out(event="notified", **(await sub.next_event()))

    await ps.publish(SERVICE, NODE, id="keep", payload=entry("Kept"))
    out(event="notified", **(await sub.next_event()))


async def check(owner, sub):
    ps, sps = owner["xep_0060"], sub["xep_0060"]
    form = (await ps.get_node_config(SERVICE, NODE))["pubsub_owner"]["configure"]["form"]
    fields = form.get_fields()
    out(event="config", title=fields["pubsub#title"]["value"], max_items=fields["pubsub#max_items"]["value"])
    items = await sps.get_items(SERVICE, NODE)
    out(event="items", ids=[i["id"] for i in items["pubsub"]["items"]])
    subs = await sps.get_subscriptions(SERVICE, NODE)
    out(event="subscriptions", states=[s["subscription"] for s in subs["pubsub"]["subscriptions"]])
    await ps.delete_node(SERVICE, NODE)
    out(event="notified", **(await sub.next_event()))


async def main():
    owner, sub = Client(owner_jid), Client(sub_jid)
    for c in (owner, sub):
        c.connect(address=("127.0.0.1", port), force_starttls=True, disable_starttls=False)
    await asyncio.wait_for(asyncio.gather(owner.ready, sub.ready), 10)
    out(event="session")
    try:
        await (run(owner, sub) if mode == "run" else check(owner, sub))
    except Exception as e:  # report, so the test shows what failed
        out(event="error", error=repr(e))
    for c in (owner, sub):
        c.disconnect()
    await asyncio.sleep(0.2)
    out(event="done")


asyncio.get_event_loop().run_until_complete(main())
