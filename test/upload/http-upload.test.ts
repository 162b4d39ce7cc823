// XEP-0363 HTTP File Upload end to end: slots from the http_file_share component over c2s, then
// PUT and GET over Herald's HTTP listener (Node's fetch), with the limits, quotas and expiry.

import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { statSync, existsSync } from "node:fs";
import { join } from "node:path";
import { startTestServer, type TestServer } from "../helpers/harness.js";
import { RawClient } from "../helpers/xmpp-client.js";
import type { Element } from "../../src/xml/stanza.js";
import { errorCondition as condition } from "../helpers/errors.js";

const NS = "urn:xmpp:http:upload:0";
const NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas";

const CONFIG = `
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
http_host = "127.0.0.1"
VirtualHost "localhost"

Component "upload.localhost" "http_file_share"
  http_file_share_size_limit = 1000
  http_file_share_daily_quota = 1500
  http_file_share_allowed_file_types = { "text/plain", "image/*", "application/pdf" }

Component "quota.localhost" "http_file_share"
  http_paths = { file_share = "/share2" }
  http_file_share_global_quota = 100

Component "closed.localhost" "http_file_share"
  http_paths = { file_share = "/closed" }
  http_file_share_access = { "juliet@localhost" }

Component "brief.localhost" "http_file_share"
  http_paths = { file_share = "/brief" }
  http_file_share_expires_after = 1
`;

let ts: TestServer;

beforeAll(async () => {
  ts = await startTestServer({ config: CONFIG, ports: { https: [] } });
  for (const u of ["romeo", "juliet", "mercutio"]) await ts.addUser(u, "pw");
});
afterEach(() => ts?.closeClients());
afterAll(() => ts?.stop());

function login(user: string): Promise<RawClient> {
  return ts.login(user);
}

let n = 0;
function request(c: RawClient, to: string, filename: string, size: number | string, type = "text/plain"): Promise<Element> {
  return c.iq(`<iq type='get' id='r${++n}' to='${to}'><request xmlns='${NS}' filename='${filename}' size='${size}' content-type='${type}'/></iq>`);
}

function slotOf(iq: Element): { put: string; get: string; auth: string } {
  const slot = iq.getChild("slot", NS);
  if (!slot) throw new Error(`no slot: ${String(iq)}`);
  const put = slot.getChild("put")!;
  return { put: put.attrs.url, get: slot.getChild("get")!.attrs.url, auth: put.getChild("header")!.getText() };
}

function put(url: string, body: string | Buffer, headers: Record<string, string>): Promise<Response> {
  return fetch(url, { method: "PUT", body, headers });
}

describe("XEP-0363 HTTP file upload", () => {
  it("advertises the service: identity store/file, the feature and max-file-size", async () => {
    const romeo = await login("romeo");
    const items = await romeo.iq("<iq type='get' id='i1' to='localhost'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>");
    expect(items.getChild("query", "http://jabber.org/protocol/disco#items")!.childElements("item").map((i) => i.attrs.jid)).toContain("upload.localhost");
    const info = await romeo.iq("<iq type='get' id='i2' to='upload.localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>");
    const q = info.getChild("query", "http://jabber.org/protocol/disco#info")!;
    expect(q, String(info)).toBeDefined();
    expect(q.childElements("identity").map((i) => `${i.attrs.category}/${i.attrs.type}`)).toContain("store/file");
    expect(q.childElements("feature").map((f) => f.attrs.var)).toContain(NS);
    const form = q.getChild("x", "jabber:x:data");
    expect(form, String(info)).toBeDefined();
    const fields = Object.fromEntries(form!.childElements("field").map((f) => [f.attrs.var, f.getChildText("value")]));
    expect(fields).toMatchObject({ FORM_TYPE: NS, "max-file-size": "1000" });
  });

  it("a file PUT with the slot's authorization is served back by GET and HEAD with its type and length", async () => {
    const romeo = await login("romeo");
    const body = "Hello, Juliet! ✓";
    const size = Buffer.byteLength(body);
    const slot = slotOf(await request(romeo, "upload.localhost", "greeting.txt", size));
    expect(slot.put).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${ts.httpPort}/file_share/[^/]+/greeting\\.txt$`));
    expect(slot.get).toBe(slot.put);

    const created = await put(slot.put, body, { Authorization: slot.auth, "Content-Type": "text/plain" });
    expect(created.status).toBe(201);

    const got = await fetch(slot.get);
    expect(got.status).toBe(200);
    expect(got.headers.get("content-type")).toBe("text/plain");
    expect(got.headers.get("content-length")).toBe(String(size));
    expect(got.headers.get("content-disposition")).toBe("inline; filename*=UTF-8''greeting.txt");
    expect(got.headers.get("x-content-type-options")).toBe("nosniff");
    expect(await got.text()).toBe(body);

    const head = await fetch(slot.get, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("content-length")).toBe(String(size));
    const notModified = await fetch(slot.get, { headers: { "If-Modified-Since": head.headers.get("last-modified")! } });
    expect(notModified.status).toBe(304);

    // Stored in the data directory, readable by the server's user only.
    const id = decodeURIComponent(new URL(slot.get).pathname.split("/")[2]);
    const file = join(ts.dataDir, "http_file_share", "upload.localhost", id);
    expect(statSync(file).mode & 0o777).toBe(0o600);

    // A slot takes one file.
    const again = await put(slot.put, body, { Authorization: slot.auth, "Content-Type": "text/plain" });
    expect(again.status).toBe(409);
  });

  it("other types are offered for download, not shown inline", async () => {
    const romeo = await login("romeo");
    const slot = slotOf(await request(romeo, "upload.localhost", "paper.pdf", 4, "application/pdf"));
    expect((await put(slot.put, "%PDF", { Authorization: slot.auth, "Content-Type": "application/pdf" })).status).toBe(201);
    const got = await fetch(slot.get);
    expect(got.headers.get("content-type")).toBe("application/pdf");
    expect(got.headers.get("content-disposition")).toBe("attachment; filename*=UTF-8''paper.pdf");
  });

  it("refuses uploads without a valid authorization, for another slot, or of another size", async () => {
    const romeo = await login("romeo");
    const a = slotOf(await request(romeo, "upload.localhost", "a.txt", 5));
    const b = slotOf(await request(romeo, "upload.localhost", "b.txt", 5));
    expect((await put(a.put, "12345", { "Content-Type": "text/plain" })).status).toBe(401);
    const tampered = a.auth.slice(0, -2) + (a.auth.endsWith("AA") ? "BB" : "AA");
    expect((await put(a.put, "12345", { Authorization: tampered, "Content-Type": "text/plain" })).status).toBe(401);
    expect((await put(a.put, "12345", { Authorization: b.auth, "Content-Type": "text/plain" })).status).toBe(400);
    expect((await put(a.put, "123456", { Authorization: a.auth, "Content-Type": "text/plain" })).status).toBe(413);
    expect((await put(a.put, "1234", { Authorization: a.auth, "Content-Type": "text/plain" })).status).toBe(413);
    expect((await put(a.put, "12345", { Authorization: a.auth, "Content-Type": "image/png" })).status).toBe(400);
    // Nothing was stored by the refused attempts: the GET URL has no file yet.
    expect((await fetch(a.get)).status).toBe(404);
    expect((await put(a.put, "12345", { Authorization: a.auth, "Content-Type": "text/plain" })).status).toBe(201);
    expect(await (await fetch(a.get)).text()).toBe("12345");
    expect((await fetch(`http://127.0.0.1:${ts.httpPort}/file_share/nosuchslot/x.txt`)).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${ts.httpPort}/file_share/nosuchslot/x.txt`, { method: "DELETE" })).status).toBe(405);
  });

  it("takes a chunked upload of the slot's size, and refuses a longer one", async () => {
    const romeo = await login("romeo");
    const chunked = (chunks: string[]) =>
      new ReadableStream<Uint8Array>({
        start(controller) {
          for (const c of chunks) controller.enqueue(Buffer.from(c));
          controller.close();
        },
      });
    const putStream = (url: string, auth: string, chunks: string[]) =>
      fetch(url, { method: "PUT", body: chunked(chunks), headers: { Authorization: auth, "Content-Type": "text/plain" }, duplex: "half" } as RequestInit);
    const long = slotOf(await request(romeo, "upload.localhost", "long.txt", 6));
    const refused = await putStream(long.put, long.auth, ["1234", "5678"]);
    expect(refused.status).toBe(413);
    expect((await fetch(long.get)).status).toBe(404);
    const exact = slotOf(await request(romeo, "upload.localhost", "exact.txt", 8));
    expect((await putStream(exact.put, exact.auth, ["1234", "5678"])).status).toBe(201);
    expect(await (await fetch(exact.get)).text()).toBe("12345678");
  });

  it("answers bad requests with the errors Prosody gives, file-too-large naming the limit", async () => {
    const romeo = await login("romeo");
    const big = await request(romeo, "upload.localhost", "big.txt", 1001);
    expect(big.attrs.type).toBe("error");
    expect(condition(big)).toBe("not-acceptable");
    expect(big.getChild("error")!.getChild("file-too-large", NS)!.getChildText("max-file-size")).toBe("1000");
    const negative = await request(romeo, "upload.localhost", "neg.txt", -5);
    expect(condition(negative)).toBe("bad-request");
    const notNumber = await request(romeo, "upload.localhost", "nan.txt", "lots");
    expect(condition(notNumber)).toBe("bad-request");
    const slash = await request(romeo, "upload.localhost", "../etc/passwd", 10);
    expect(condition(slash)).toBe("bad-request");
    const exe = await request(romeo, "upload.localhost", "evil.exe", 10, "application/x-executable");
    expect(condition(exe)).toBe("not-acceptable");
    expect(exe.getChild("error")!.getChildText("text", NS_STANZAS)).toBe("File type not allowed");
  });

  it("keeps to the daily quota per uploader", async () => {
    const juliet = await login("juliet");
    expect(slotOf(await request(juliet, "upload.localhost", "1.png", 1000, "image/png")).put).toBeTruthy();
    const over = await request(juliet, "upload.localhost", "2.png", 501, "image/png");
    expect(over.getChild("error")?.attrs.type).toBe("wait");
    expect(condition(over)).toBe("resource-constraint");
    // What is left of the day's quota can still be used, and others have their own.
    expect(slotOf(await request(juliet, "upload.localhost", "3.png", 500, "image/png")).put).toBeTruthy();
    const mercutio = await login("mercutio");
    expect(slotOf(await request(mercutio, "upload.localhost", "4.png", 1000, "image/png")).put).toBeTruthy();
  });

  it("with http_file_share_access, only the JIDs listed may upload", async () => {
    const romeo = await login("romeo");
    const refused = await request(romeo, "closed.localhost", "x.txt", 3);
    expect(refused.getChild("error")?.attrs.type).toBe("auth");
    expect(condition(refused)).toBe("forbidden");
    const juliet = await login("juliet");
    expect(slotOf(await request(juliet, "closed.localhost", "x.txt", 3)).put).toContain("/closed/");
  });

  it("keeps to the global quota, on its own path", async () => {
    const romeo = await login("romeo");
    const slot = slotOf(await request(romeo, "quota.localhost", "x.bin", 80, "application/octet-stream"));
    expect(slot.put).toContain(`:${ts.httpPort}/share2/`);
    const over = await request(romeo, "quota.localhost", "y.bin", 21, "application/octet-stream");
    expect(condition(over)).toBe("resource-constraint");
    expect(over.getChild("error")!.getChildText("text", NS_STANZAS)).toBe("Server global storage quota reached");
  });

  it("deletes files once they expire", async () => {
    const romeo = await login("romeo");
    const slot = slotOf(await request(romeo, "brief.localhost", "soon.txt", 3));
    expect((await put(slot.put, "bye", { Authorization: slot.auth, "Content-Type": "text/plain" })).status).toBe(201);
    const id = decodeURIComponent(new URL(slot.get).pathname.split("/")[2]);
    const file = join(ts.dataDir, "http_file_share", "brief.localhost", id);
    expect(existsSync(file)).toBe(true);
    // Expiry after 1 s; the timer runs every second. Wait up to 30 s for it under load.
    const deadline = Date.now() + 30000;
    while (existsSync(file) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    expect(existsSync(file)).toBe(false);
    expect((await fetch(slot.get)).status).toBe(404);
  });

  it("serves uploaded files after a restart (LevelDB)", async () => {
    const romeo = await login("romeo");
    const slot = slotOf(await request(romeo, "upload.localhost", "kept.txt", 4));
    expect((await put(slot.put, "kept", { Authorization: slot.auth, "Content-Type": "text/plain" })).status).toBe(201);
    romeo.close();
    ts = await ts.restart();
    // The restarted server listens on another free port: the path is what stays.
    const path = new URL(slot.get).pathname;
    const got = await fetch(`http://127.0.0.1:${ts.httpPort}${path}`);
    expect(got.status).toBe(200);
    expect(await got.text()).toBe("kept");
  });
});
