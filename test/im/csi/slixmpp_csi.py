#!/usr/bin/python3
# A slixmpp client with XEP-0352 goes inactive; another one sends it a chat state (held back by the
# server) and then a message with a body (sent at once, after the chat state). Prints JSON lines.
#   slixmpp_csi.py PORT PHONE_JID SENDER_JID PASSWORD
import asyncio, json, ssl, sys
import slixmpp

port, phone_jid, sender_jid, password = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]


def out(**kw):
    print(json.dumps(kw), flush=True)


class Client(slixmpp.ClientXMPP):
    def __init__(self, jid):
        super().__init__(jid, password, sasl_mech="SCRAM-SHA-1")
        self.ssl_context.check_hostname = False
        self.ssl_context.verify_mode = ssl.CERT_NONE
        self.register_plugin("xep_0085")  # chat states
        self.register_plugin("xep_0199")  # ping
        self.register_plugin("xep_0203")  # delayed delivery
        self.register_plugin("xep_0352")  # client state indication
        self.inbox = asyncio.Queue()
        self.started = asyncio.get_event_loop().create_future()
        self.add_event_handler("session_start", lambda _: self.started.done() or self.started.set_result(True))
        # slixmpp reports a message that carries only a chat state as "chatstate", not "message".
        self.add_event_handler("message", lambda msg: msg["body"] and self.inbox.put_nowait(msg))
        self.add_event_handler("chatstate", lambda msg: msg["body"] or self.inbox.put_nowait(msg))
        self.add_event_handler("csi_enabled", lambda _: out(event="csi_enabled", jid=str(self.boundjid)))

    async def up(self):
        self.connect(address=("127.0.0.1", port), force_starttls=True, disable_starttls=False)
        await asyncio.wait_for(self.started, 10)


async def main():
    phone = Client(phone_jid)
    sender = Client(sender_jid)
    await phone.up()
    out(event="step", step="phone up")
    await sender.up()
    out(event="step", step="sender up")
    if not phone["xep_0352"].enabled:
        out(event="error", error="csi not enabled")
        return
    phone["xep_0352"].send_inactive()
    await phone["xep_0199"].ping(jid=slixmpp.JID("localhost"), timeout=10)  # the server has it
    state = sender.make_message(mto=phone_jid, mtype="chat")
    state["id"] = "state1"
    state["chat_state"] = "composing"
    state.send()
    await sender["xep_0199"].ping(jid=slixmpp.JID("localhost"), timeout=10)  # handled by now
    out(event="step", step="pinged")
    early = not phone.inbox.empty()
    text = sender.make_message(mto=phone_jid, mbody="Are you up?", mtype="chat")
    text["id"] = "text1"
    text.send()
    for _ in range(2):
        msg = await asyncio.wait_for(phone.inbox.get(), 10)
        out(event="received", id=msg["id"], body=msg["body"], chat_state=msg["chat_state"], delayed=bool(msg["delay"]["stamp"]), early=early)
    phone.disconnect()
    sender.disconnect()


loop = asyncio.get_event_loop()
try:
    loop.run_until_complete(asyncio.wait_for(main(), 40))
except Exception as e:  # report, the test asserts on the events
    out(event="error", error=repr(e))
out(event="done")
