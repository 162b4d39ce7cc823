// The embedded default configuration (`herald start` without a file), run as it is, on free ports:
// a newcomer's account can use what disco advertises there, and the XEPs the README lists are on.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defaultConfig } from "../../prosody-compat/config/index.js";
import { Server } from "../../src/server.js";
import { LogRouter, type LogLevel } from "../../src/util/logger.js";
import { defaultConfigText, shippedModules } from "../../modules/index.js";
import { request as httpsRequest } from "node:https";
import { RawClient } from "../helpers/xmpp-client.js";
import type { Element } from "../../src/xml/stanza.js";

const NS_DISCO_INFO = "http://jabber.org/protocol/disco#info";
let server: Server;
let dataDir: string;
let alice: RawClient;
const lines: Array<{ level: LogLevel; line: string }> = [];

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "herald-default-"));
  server = new Server({
    config: defaultConfig(defaultConfigText),
    ...shippedModules,
    baseDir: dataDir,
    dataPathOverride: dataDir,
    adminSocket: false,
    logRouter: new LogRouter([{ level: "info", write: (line, level) => lines.push({ level, line }) }]),
    portOverride: { c2s: [0], c2s_direct_tls: [0], http: [0], https: [0] },
    interfaceOverride: ["127.0.0.1"],
  });
  await server.start();
  await server.accounts("localhost").create("alice", "s3cret");
  alice = await RawClient.login(server.port("c2s"), "alice", "s3cret", { resource: "laptop" });
});
afterAll(async () => {
  alice?.close();
  await server?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

function features(info: Element): string[] {
  return info.getChild("query", NS_DISCO_INFO)!.childElements("feature").map((f) => f.attrs.var);
}

describe("the embedded default configuration", () => {
  it("starts without warnings", () => {
    expect(lines.filter((l) => l.level === "warn" || l.level === "error").map((l) => l.line)).toEqual([]);
  });

  it("a local account creates a pubsub node, as disco's create-nodes promises, and publishes to it", async () => {
    const info = await alice.iq(`<iq type='get' id='d1' to='pubsub.localhost'><query xmlns='${NS_DISCO_INFO}'/></iq>`);
    expect(features(info)).toContain("http://jabber.org/protocol/pubsub#create-nodes");
    const created = await alice.iq("<iq type='set' id='c1' to='pubsub.localhost'><pubsub xmlns='http://jabber.org/protocol/pubsub'><create node='alice-news'/></pubsub></iq>");
    expect(created.attrs.type, String(created)).toBe("result");
    const published = await alice.iq(
      "<iq type='set' id='p1' to='pubsub.localhost'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='alice-news'><item id='1'><entry xmlns='http://www.w3.org/2005/Atom'><title>hello</title></entry></item></publish></pubsub></iq>",
    );
    expect(published.attrs.type, String(published)).toBe("result");
  });

  it("group chat is served at conference.localhost, which the server's disco#items lists", async () => {
    const items = await alice.iq("<iq type='get' id='i1' to='localhost'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>");
    const jids = items.getChild("query", "http://jabber.org/protocol/disco#items")!.childElements("item").map((i) => i.attrs.jid);
    expect(jids).toContain("conference.localhost");
    const info = await alice.iq(`<iq type='get' id='d3' to='conference.localhost'><query xmlns='${NS_DISCO_INFO}'/></iq>`);
    expect(features(info)).toContain("http://jabber.org/protocol/muc");
    alice.send("<presence to='lobby@conference.localhost/alice'><x xmlns='http://jabber.org/protocol/muc'/></presence>");
    let self: Element;
    do self = await alice.next(4000);
    while (self.name !== "presence");
    expect(self.toString()).toContain("code='201'");
  });

  it("every XEP the README lists is on: contact addresses (XEP-0157) and external services (XEP-0215) too", async () => {
    const info = await alice.iq(`<iq type='get' id='d2' to='localhost'><query xmlns='${NS_DISCO_INFO}'/></iq>`);
    // README "What it does", Everyday XEPs: 0030, 0199, 0092, 0202, 0012, 0077, 0054, 0049, 0191,
    // 0280, 0215 (0157 is the form below; offline messages, XEP-0160, is "msgoffline").
    const readme = [
      NS_DISCO_INFO, "urn:xmpp:ping", "jabber:iq:version", "urn:xmpp:time", "jabber:iq:last", "jabber:iq:register",
      "vcard-temp", "jabber:iq:private", "urn:xmpp:blocking", "urn:xmpp:carbons:2", "urn:xmpp:extdisco:2", "msgoffline",
    ];
    expect(readme.filter((f) => !features(info).includes(f))).toEqual([]);
    const forms = info.getChild("query", NS_DISCO_INFO)!.childElements("x", "jabber:x:data");
    const formTypes = forms.map((x) => x.childElements("field").find((f) => f.attrs.var === "FORM_TYPE")?.getChildText("value"));
    expect(formTypes).toContain("http://jabber.org/network/serverinfo");
    const services = await alice.iq("<iq type='get' id='s1' to='localhost'><services xmlns='urn:xmpp:extdisco:2'/></iq>");
    expect(services.attrs.type, String(services)).toBe("result");
  });

  it("offers file upload (XEP-0363) at upload.localhost, served over HTTPS", async () => {
    const items = await alice.iq("<iq type='get' id='u1' to='localhost'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>");
    expect(items.getChild("query", "http://jabber.org/protocol/disco#items")!.childElements("item").map((i) => i.attrs.jid)).toContain("upload.localhost");
    const slotIq = await alice.iq("<iq type='get' id='u2' to='upload.localhost'><request xmlns='urn:xmpp:http:upload:0' filename='hi.txt' size='2' content-type='text/plain'/></iq>");
    const slot = slotIq.getChild("slot", "urn:xmpp:http:upload:0");
    expect(slot, String(slotIq)).toBeDefined();
    const putUrl = new URL(slot!.getChild("put")!.attrs.url);
    expect(putUrl.origin).toBe(`https://upload.localhost:${server.port("https")}`);
    const auth = slot!.getChild("put")!.getChild("header")!.getText();
    // The generated certificate is self-signed, and upload.localhost needs no DNS here: 127.0.0.1.
    const call = (method: string, body?: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = httpsRequest(
          { host: "127.0.0.1", port: server.port("https"), path: putUrl.pathname, method, rejectUnauthorized: false, servername: "localhost", headers: body === undefined ? {} : { authorization: auth, "content-type": "text/plain", "content-length": String(body.length) } },
          (res) => {
            let data = "";
            res.on("data", (d) => (data += d));
            res.on("end", () => resolve({ status: res.statusCode ?? 0, body: data }));
          },
        );
        req.on("error", reject);
        req.end(body);
      });
    expect((await call("PUT", "hi")).status).toBe(201);
    expect(await call("GET")).toEqual({ status: 200, body: "hi" });
  });

  it("serves BOSH at /http-bind and advertises it in host-meta (XEP-0156)", async () => {
    const port = server.port("http");
    const created = await fetch(`http://127.0.0.1:${port}/http-bind`, {
      method: "POST",
      body: "<body xmlns='http://jabber.org/protocol/httpbind' xmlns:xmpp='urn:xmpp:xbosh' rid='1' to='localhost' wait='5' hold='1' xmpp:version='1.0'/>",
    });
    const text = await created.text();
    expect(text).toMatch(/ sid='[0-9a-f]{32}'/);
    expect(text).toContain("<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>");
    const meta = (await (await fetch(`http://127.0.0.1:${port}/.well-known/host-meta.json`)).json()) as { links: Array<{ rel: string }> };
    expect(meta.links.map((l) => l.rel)).toEqual(["urn:xmpp:alt-connections:xbosh", "urn:xmpp:alt-connections:websocket"]);
  });
});
