#!/usr/bin/python3
# Two real slixmpp clients add each other (subscribe / approve both ways), see each other's
# presence, then one leaves and the other sees it go. Prints one JSON object per line on stdout
# for test/im/presence-slixmpp.test.ts; exits 0 when everything happened, 1 on timeout.
#
# Usage: roster_presence.py HOST PORT JID_A PASSWORD_A JID_B PASSWORD_B

import asyncio
import json
import logging
import ssl
import sys

import slixmpp

HOST, PORT, JID_A, PW_A, JID_B, PW_B = sys.argv[1], int(sys.argv[2]), *sys.argv[3:7]


def out(**kw):
    print(json.dumps(kw), flush=True)


class Client(slixmpp.ClientXMPP):
    def __init__(self, name, jid, password, other, status):
        super().__init__(jid, password)
        self.name = name
        self.other = other
        self.status = status
        # Herald's test certificate is self-signed.
        self.ssl_context.check_hostname = False
        self.ssl_context.verify_mode = ssl.CERT_NONE
        # Answer subscription requests ourselves, to show each step.
        self.auto_authorize = None
        self.auto_subscribe = False
        self.started = asyncio.Event()
        self.friends = asyncio.Event()
        self.saw_other = asyncio.Event()
        self.saw_other_leave = asyncio.Event()
        self.add_event_handler("session_start", self.on_start)
        self.add_event_handler("presence_subscribe", self.on_subscribe)
        self.add_event_handler("presence_subscribed", self.on_subscribed)
        self.add_event_handler("roster_update", self.on_roster)
        self.add_event_handler("presence_available", self.on_available)
        self.add_event_handler("presence_unavailable", self.on_unavailable)

    async def on_start(self, _event):
        roster = await self.get_roster()
        out(who=self.name, event="roster", ver=roster["roster"]["ver"], items=len(roster["roster"]))
        self.send_presence(pstatus=self.status)
        self.started.set()

    def on_subscribe(self, pres):
        out(who=self.name, event="subscribe", frm=pres["from"].bare)
        self.send_presence(pto=pres["from"].bare, ptype="subscribed")
        if self.client_roster[pres["from"].bare]["subscription"] in ("none", "from") and not self.client_roster[pres["from"].bare]["pending_out"]:
            self.send_presence(pto=pres["from"].bare, ptype="subscribe")

    def on_subscribed(self, pres):
        out(who=self.name, event="subscribed", frm=pres["from"].bare)

    def on_roster(self, iq):
        for jid, item in iq["roster"]["items"].items():
            out(who=self.name, event="push", jid=str(jid), subscription=item["subscription"], ask=item["ask"])
            if str(jid) == self.other and item["subscription"] == "both":
                self.friends.set()

    def on_available(self, pres):
        if pres["from"].bare == self.other:
            out(who=self.name, event="available", frm=str(pres["from"]), status=pres["status"])
            self.saw_other.set()

    def on_unavailable(self, pres):
        if pres["from"].bare == self.other:
            out(who=self.name, event="unavailable", frm=str(pres["from"]))
            # An unavailable from the bare JID is Herald's (and Prosody's) acknowledgement of a
            # subscription request; a resource going offline comes from its full JID.
            if pres["from"].resource:
                self.saw_other_leave.set()


async def main():
    a = Client("a", JID_A, PW_A, JID_B, "Romeo here")
    b = Client("b", JID_B, PW_B, JID_A, "Juliet here")
    for c in (a, b):
        c.connect((HOST, PORT))
    await asyncio.wait_for(asyncio.gather(a.started.wait(), b.started.wait()), 15)
    a.send_presence(pto=JID_B, ptype="subscribe")
    await asyncio.wait_for(asyncio.gather(a.friends.wait(), b.friends.wait(), a.saw_other.wait(), b.saw_other.wait()), 15)
    out(event="friends", a=a.client_roster[JID_B]["subscription"], b=b.client_roster[JID_A]["subscription"])
    b.disconnect()
    await asyncio.wait_for(a.saw_other_leave.wait(), 15)
    a.disconnect()
    await asyncio.sleep(0.2)
    out(event="done")


if __name__ == "__main__":
    logging.basicConfig(level=logging.ERROR)
    try:
        asyncio.get_event_loop().run_until_complete(main())
    except asyncio.TimeoutError:
        out(event="timeout")
        sys.exit(1)
