#!/usr/bin/python3
# Stream management (XEP-0198) with a real client: slixmpp's xep_0198 plugin. Alice enables SM with
# resumption, her TCP connection is cut (no </stream:stream>), Bob sends her messages meanwhile,
# she reconnects and resumes. Prints JSON lines: what happened and every message Alice received.
import asyncio, json, ssl, sys
import slixmpp

port, password = int(sys.argv[1]), sys.argv[2]
ALICE, BOB = "alice@localhost/slix", "bob@localhost/peer"


def out(**kw):
    print(json.dumps(kw), flush=True)


class Client(slixmpp.ClientXMPP):
    def __init__(self, jid, sm):
        super().__init__(jid, password, sasl_mech="SCRAM-SHA-1")
        # Herald's test server uses a generated self-signed certificate.
        self.ssl_context.check_hostname = False
        self.ssl_context.verify_mode = ssl.CERT_NONE
        if sm:
            self.register_plugin("xep_0198")

    def go(self):
        self.connect(address=("127.0.0.1", port), force_starttls=True, disable_starttls=False)


alice, bob = Client(ALICE, True), Client(BOB, False)
ready = {"alice": asyncio.Event(), "bob": asyncio.Event(), "resumed": asyncio.Event(), "gone": asyncio.Event()}
received = []


def on_message(msg):
    received.append(msg["id"])
    out(event="message", id=msg["id"], body=msg["body"], delayed=bool(msg.xml.find("{urn:xmpp:delay}delay") is not None))


alice.add_event_handler("message", on_message)
alice.add_event_handler("sm_enabled", lambda st: (out(event="sm_enabled", id=bool(st["id"]), resume=st["resume"]), ready["alice"].set()))
alice.add_event_handler("session_resumed", lambda _: (out(event="resumed"), ready["resumed"].set()))
alice.add_event_handler("sm_failed", lambda _: out(event="sm_failed"))
alice.add_event_handler("session_start", lambda _: out(event="session_start"))
alice.add_event_handler("disconnected", lambda _: ready["gone"].set())
bob.add_event_handler("session_start", lambda _: ready["bob"].set())
bob.add_event_handler("message", lambda msg: out(event="bob_got", type=msg["type"], id=msg["id"]))


def send_from_bob(id):
    msg = bob.make_message(mto=ALICE, mbody=f"message {id}", mtype="chat")
    msg["id"] = id
    msg.send()


async def wait_messages(n, timeout=10):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while len(received) < n and loop.time() < deadline:
        await asyncio.sleep(0.05)


async def main():
    alice.go()
    bob.go()
    await asyncio.wait_for(ready["alice"].wait(), 15)
    await asyncio.wait_for(ready["bob"].wait(), 15)
    send_from_bob("m0")
    await wait_messages(1)
    # Cut the TCP connection: no closing stream tag, as when a phone loses its network.
    alice.transport.abort()
    await asyncio.wait_for(ready["gone"].wait(), 10)
    out(event="dropped")
    for i in range(1, 4):
        send_from_bob(f"m{i}")
    await asyncio.sleep(0.5)
    alice.go()
    await asyncio.wait_for(ready["resumed"].wait(), 15)
    await wait_messages(4)
    await asyncio.sleep(1)  # anything sent twice would arrive now
    out(event="received", ids=received)
    alice.disconnect()
    bob.disconnect()
    await asyncio.sleep(0.3)


try:
    asyncio.get_event_loop().run_until_complete(asyncio.wait_for(main(), 40))
except Exception as e:  # reported to the test, which fails on it
    out(event="error", error=repr(e))
out(event="done")
