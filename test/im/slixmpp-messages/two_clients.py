#!/usr/bin/python3
# Two real slixmpp clients: they exchange messages, then one goes offline, the other writes to it,
# and it gets those messages (with a XEP-0203 delay) when it comes back. Prints JSON lines.
#   two_clients.py PORT ROMEO_JID JULIET_JID PASSWORD
import asyncio, json, ssl, sys
import slixmpp

port, romeo_jid, juliet_jid, password = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]


def out(**kw):
    print(json.dumps(kw), flush=True)


class Client(slixmpp.ClientXMPP):
    def __init__(self, name, jid):
        super().__init__(jid, password, sasl_mech="SCRAM-SHA-1")
        self.name = name
        # Herald's test server uses a generated self-signed certificate.
        self.ssl_context.check_hostname = False
        self.ssl_context.verify_mode = ssl.CERT_NONE
        self.register_plugin("xep_0203")  # delayed delivery
        self.inbox = asyncio.Queue()
        self.started = asyncio.get_event_loop().create_future()
        self.gone = asyncio.get_event_loop().create_future()
        self.add_event_handler("session_start", self.on_start)
        self.add_event_handler("message", lambda msg: self.inbox.put_nowait(msg))
        self.add_event_handler("disconnected", lambda _: self.gone.done() or self.gone.set_result(True))
        self.add_event_handler("failed_auth", lambda _: out(event="failed_auth", who=name))

    async def on_start(self, _):
        self.send_presence()
        out(event="online", who=self.name, jid=str(self.boundjid))
        if not self.started.done():
            self.started.set_result(True)

    async def up(self):
        self.connect(address=("127.0.0.1", port), force_starttls=True, disable_starttls=False)
        await asyncio.wait_for(self.started, 10)
        await asyncio.sleep(0.3)  # let the available presence reach the server

    async def receive(self):
        msg = await asyncio.wait_for(self.inbox.get(), 10)
        delay = msg["delay"]
        stamp = delay["stamp"]
        return {
            "who": self.name,
            "from": str(msg["from"]),
            "type": msg["type"],
            "body": msg["body"],
            "delay_from": str(delay["from"]) if stamp else None,
            "delayed": bool(stamp),
        }

    async def down(self):
        self.send_presence(ptype="unavailable")
        self.disconnect()
        await asyncio.wait_for(self.gone, 10)


async def main():
    romeo = Client("romeo", romeo_jid)
    juliet = Client("juliet", juliet_jid)
    await romeo.up()
    await juliet.up()

    # Live conversation: Romeo writes to Juliet's bare JID, she answers his full JID.
    romeo.send_message(mto=slixmpp.JID(juliet_jid).bare, mbody="Hello Juliet!", mtype="chat")
    got = await juliet.receive()
    out(event="received", **got)
    juliet.send_message(mto=got["from"], mbody="Hello Romeo!", mtype="chat")
    out(event="received", **(await romeo.receive()))

    # Juliet leaves; Romeo writes twice; Juliet comes back on a new connection.
    await juliet.down()
    out(event="offline", who="juliet")
    await asyncio.sleep(0.5)
    romeo.send_message(mto=slixmpp.JID(juliet_jid).bare, mbody="Are you there?", mtype="chat")
    romeo.send_message(mto=slixmpp.JID(juliet_jid).bare, mbody="I will wait.", mtype="chat")
    await asyncio.sleep(0.5)
    juliet2 = Client("juliet", juliet_jid)
    await juliet2.up()
    out(event="received", **(await juliet2.receive()))
    out(event="received", **(await juliet2.receive()))

    await juliet2.down()
    await romeo.down()


loop = asyncio.get_event_loop()
try:
    loop.run_until_complete(asyncio.wait_for(main(), 40))
except Exception as e:  # report, the test asserts on the events
    out(event="error", error=repr(e))
out(event="done")
