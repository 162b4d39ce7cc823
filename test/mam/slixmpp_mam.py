#!/usr/bin/python3
# A real client library pages through a message archive: slixmpp (Debian's python3-slixmpp) with
# its XEP-0313 plugin. Romeo sends N chat messages to Juliet; Juliet checks disco for MAM, then
# iterates over her archive forwards and backwards (RSM pages of 10) and queries with a `with`
# filter. Prints one JSON object per line for test/mam/slixmpp.test.ts; exits 1 on timeout.
#
# Usage: slixmpp_mam.py HOST PORT JID_A PASSWORD_A JID_B PASSWORD_B N

import asyncio
import json
import logging
import ssl
import sys

import slixmpp

HOST, PORT, JID_A, PW_A, JID_B, PW_B = sys.argv[1], int(sys.argv[2]), *sys.argv[3:7]
N = int(sys.argv[7])


def out(**kw):
    print(json.dumps(kw), flush=True)


class Client(slixmpp.ClientXMPP):
    def __init__(self, jid, password):
        super().__init__(jid, password)
        # Herald's test certificate is self-signed.
        self.ssl_context.check_hostname = False
        self.ssl_context.verify_mode = ssl.CERT_NONE
        for plugin in ("xep_0030", "xep_0059", "xep_0297", "xep_0313", "xep_0359"):
            self.register_plugin(plugin)
        self.started = asyncio.Event()
        self.received = []
        self.all_received = asyncio.Event()
        self.add_event_handler("session_start", self.on_start)
        self.add_event_handler("message", self.on_message)

    async def on_start(self, _event):
        self.send_presence()
        self.started.set()

    def on_message(self, msg):
        if msg["type"] == "chat" and msg["body"]:
            sid = msg.xml.find("{urn:xmpp:sid:0}stanza-id")
            self.received.append({"body": msg["body"], "sid": None if sid is None else sid.get("id"), "by": None if sid is None else sid.get("by")})
            if len(self.received) == N:
                self.all_received.set()


def body_of(result):
    return result["mam_result"]["forwarded"]["stanza"]["body"]


async def main():
    a = Client(JID_A, PW_A)
    b = Client(JID_B, PW_B)
    for c in (a, b):
        c.connect((HOST, PORT))
    await asyncio.wait_for(asyncio.gather(a.started.wait(), b.started.wait()), 20)
    for i in range(N):
        a.send_message(mto=JID_B, mbody=f"line {i}", mtype="chat")
    await asyncio.wait_for(b.all_received.wait(), 20)
    out(event="received", count=len(b.received), with_sid=sum(1 for r in b.received if r["sid"] and r["by"] == JID_B))

    info = await b["xep_0030"].get_info(jid=JID_B)
    features = info["disco_info"]["features"]
    out(event="disco", mam="urn:xmpp:mam:2" in features, sid="urn:xmpp:sid:0" in features)

    forwards = []
    ids = []
    async for result in b["xep_0313"].iterate(rsm={"max": 10}):
        forwards.append(body_of(result))
        ids.append(result["mam_result"]["id"])
    out(event="forwards", bodies=forwards, ids_match=ids == [r["sid"] for r in b.received])

    backwards = []
    async for result in b["xep_0313"].iterate(rsm={"max": 10}, reverse=True):
        backwards.append(body_of(result))
    out(event="backwards", bodies=backwards)

    page = await b["xep_0313"].retrieve(with_jid=slixmpp.JID(JID_A), rsm={"max": 5})
    out(event="with", bodies=[body_of(r) for r in page["mam"]["results"]], count=int(page["mam_fin"]["rsm"]["count"]),
        complete=page["mam_fin"].xml.get("complete"))

    sent = await a["xep_0313"].retrieve(with_jid=slixmpp.JID(JID_B), rsm={"max": 3})
    out(event="sender", bodies=[body_of(r) for r in sent["mam"]["results"]])

    for c in (a, b):
        c.disconnect()
    await asyncio.sleep(0.2)
    out(event="done")


if __name__ == "__main__":
    logging.basicConfig(level=logging.ERROR)
    try:
        asyncio.get_event_loop().run_until_complete(main())
    except asyncio.TimeoutError:
        out(event="timeout")
        sys.exit(1)
