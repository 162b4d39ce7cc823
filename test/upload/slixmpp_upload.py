#!/usr/bin/python3
# A real client: slixmpp's XEP-0363 plugin finds the upload service through disco, asks for a slot,
# PUTs the file with aiohttp, then fetches the GET URL back. Prints JSON lines.
import asyncio, io, json, ssl, sys
import aiohttp
import slixmpp
from slixmpp.plugins.xep_0363.http_upload import FileTooBig

port, jid, password = int(sys.argv[1]), sys.argv[2], sys.argv[3]
DATA = "Two households, both alike in dignity.\n".encode() * 40

def out(**kw):
    print(json.dumps(kw), flush=True)

class Client(slixmpp.ClientXMPP):
    def __init__(self):
        super().__init__(jid, password)
        self.ssl_context.check_hostname = False
        self.ssl_context.verify_mode = ssl.CERT_NONE
        self.register_plugin("xep_0030")
        self.register_plugin("xep_0128")
        self.register_plugin("xep_0363")
        self.add_event_handler("session_start", self.start)

    async def start(self, _):
        out(event="session")
        try:
            # slixmpp 1.8's upload_file discovery (get_info_from_domain) hands asyncio.wait bare
            # coroutines, which Python 3.11 refuses: walk disco#items/#info the same way here.
            items = await self["xep_0030"].get_items(jid=self.boundjid.domain, timeout=10)
            for item in items["disco_items"]["items"]:
                info = await self["xep_0030"].get_info(jid=item[0], timeout=10)
                if ("store", "file") in [(i[0], i[1]) for i in info["disco_info"]["identities"]] and "urn:xmpp:http:upload:0" in info["disco_info"]["features"]:
                    self["xep_0363"].upload_service = info["from"]
                    for form in info["disco_info"].iterables:
                        values = form["values"]
                        if values["FORM_TYPE"] == ["urn:xmpp:http:upload:0"]:
                            self["xep_0363"].max_file_size = int(values["max-file-size"])
            url = await self["xep_0363"].upload_file("prologue.txt", input_file=io.BytesIO(DATA), content_type="text/plain", domain=self.boundjid.domain, timeout=10)
            out(event="uploaded", service=str(self["xep_0363"].upload_service), max=self["xep_0363"].max_file_size)
            async with aiohttp.ClientSession() as http:
                async with http.get(url) as r:
                    body = await r.read()
                    out(event="fetched", status=r.status, type=r.headers.get("Content-Type"), length=r.headers.get("Content-Length"), same=(body == DATA))
            try:
                await self["xep_0363"].upload_file("huge.txt", size=10**9, input_file=io.BytesIO(b""), content_type="text/plain", timeout=10)
                out(event="huge-accepted")
            except FileTooBig:
                out(event="too-big")
        except Exception as e:
            out(event="error", error=repr(e))
        self.disconnect()

c = Client()
c.connect(address=("127.0.0.1", port), force_starttls=False, disable_starttls=True)
c.add_event_handler("disconnected", lambda _: asyncio.get_event_loop().stop())
loop = asyncio.get_event_loop()
loop.call_later(25, loop.stop)
loop.run_forever()
out(event="done")
