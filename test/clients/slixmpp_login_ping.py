#!/usr/bin/python3
# A real slixmpp client: STARTTLS, SCRAM-SHA-1, bind, ping the server. Prints JSON lines.
import asyncio, json, ssl, sys
import slixmpp

port, jid, password = int(sys.argv[1]), sys.argv[2], sys.argv[3]

def out(**kw):
    print(json.dumps(kw), flush=True)

class Client(slixmpp.ClientXMPP):
    def __init__(self):
        super().__init__(jid, password, sasl_mech="SCRAM-SHA-1")
        # Herald's test server uses a generated self-signed certificate.
        self.ssl_context.check_hostname = False
        self.ssl_context.verify_mode = ssl.CERT_NONE
        self.register_plugin("xep_0199")
        self.add_event_handler("session_start", self.start)
        self.add_event_handler("failed_auth", lambda _: (out(event="failed_auth"), self.disconnect()))
        self.add_event_handler("tls_success", lambda _: out(event="tls"))
        self.add_event_handler("auth_success", lambda _: out(event="auth", mech=self["feature_mechanisms"].mech.name))

    async def start(self, _):
        out(event="session", jid=str(self.boundjid))
        rtt = await self["xep_0199"].ping(jid=self.boundjid.domain, timeout=5)
        out(event="pong", rtt=rtt)
        self.disconnect()

c = Client()
c.connect(address=("127.0.0.1", port), force_starttls=True, disable_starttls=False)
c.add_event_handler("disconnected", lambda _: asyncio.get_event_loop().stop())
loop = asyncio.get_event_loop()
loop.call_later(15, loop.stop)
loop.run_forever()
out(event="done")
