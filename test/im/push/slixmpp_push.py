#!/usr/bin/python3
# A slixmpp client registers an app server for push notifications (XEP-0357 <enable/>, sent as a
# raw iq: slixmpp has no XEP-0357 plugin) and disconnects. Prints JSON lines.
#   slixmpp_push.py PORT JID PASSWORD APP_SERVER NODE
import asyncio, json, ssl, sys
import xml.etree.ElementTree as ET
import slixmpp

port, jid, password, app_server, node = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]


def out(**kw):
    print(json.dumps(kw), flush=True)


async def main():
    client = slixmpp.ClientXMPP(jid, password, sasl_mech="SCRAM-SHA-1")
    client.ssl_context.check_hostname = False
    client.ssl_context.verify_mode = ssl.CERT_NONE
    client.register_plugin("xep_0030")
    started = asyncio.get_event_loop().create_future()
    gone = asyncio.get_event_loop().create_future()
    client.add_event_handler("session_start", lambda _: started.done() or started.set_result(True))
    client.add_event_handler("disconnected", lambda _: gone.done() or gone.set_result(True))
    client.connect(address=("127.0.0.1", port), force_starttls=True, disable_starttls=False)
    await asyncio.wait_for(started, 10)
    info = await client["xep_0030"].get_info(jid=slixmpp.JID(jid).bare, timeout=10)
    out(event="disco", push="urn:xmpp:push:0" in info["disco_info"]["features"])
    iq = client.make_iq_set()
    iq.append(ET.fromstring(f"<enable xmlns='urn:xmpp:push:0' jid='{app_server}' node='{node}'/>"))
    reply = await iq.send(timeout=10)
    out(event="enabled", type=reply["type"])
    client.disconnect()
    await asyncio.wait_for(gone, 10)


loop = asyncio.get_event_loop()
try:
    loop.run_until_complete(asyncio.wait_for(main(), 40))
except Exception as e:  # report, the test asserts on the events
    out(event="error", error=repr(e))
out(event="done")
