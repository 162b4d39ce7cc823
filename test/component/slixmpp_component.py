#!/usr/bin/python3
# A real external component (XEP-0114) written with slixmpp's ComponentXMPP: it connects to Herald's
# component port, authenticates with the handshake, answers disco#info (XEP-0030 plugin), echoes
# messages to any JID at its domain, sends one message from a subdomain JID, and leaves when told
# "bye". Prints JSON lines.
import asyncio, json, sys
import slixmpp

port, jid, secret = int(sys.argv[1]), sys.argv[2], sys.argv[3]

def out(**kw):
    print(json.dumps(kw), flush=True)

class Echo(slixmpp.ComponentXMPP):
    def __init__(self):
        super().__init__(jid, secret, "127.0.0.1", port)
        self.register_plugin("xep_0030")
        self["xep_0030"].add_identity(category="gateway", itype="echo", name="Slixmpp echo gateway", jid=jid)
        self.add_event_handler("session_start", self.start)
        self.add_event_handler("message", self.message)

    async def start(self, _):
        out(event="session")

    def message(self, msg):
        body = msg["body"]
        out(event="message", frm=str(msg["from"]), to=str(msg["to"]), body=body)
        if body == "bye":
            self.disconnect()
            return
        msg.reply("echo: " + body).send()
        # A JID at a subdomain of the component's domain may be used too.
        self.send_message(mto=msg["from"], mfrom="relay@sub." + jid, mbody="via subdomain", mtype="chat")

c = Echo()
c.connect()
c.add_event_handler("disconnected", lambda _: asyncio.get_event_loop().stop())
loop = asyncio.get_event_loop()
loop.call_later(30, loop.stop)
loop.run_forever()
out(event="done")
