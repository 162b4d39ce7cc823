// Failures an admin must see at the default log level (info): failed authentications with the
// address, TLS handshakes that fail, stream errors Herald sends, stanza errors that report a server
// failure; at most a few lines per kind and address a minute.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { createLogger, LogRouter, RateLimitedLog, type LogLevel } from "../../src/util/logger.js";
import { startTestServer, type TestServer } from "../helpers/harness.js";
import { RawClient } from "../helpers/xmpp-client.js";

type Line = { level: LogLevel; line: string };

function capture(level: LogLevel): { router: LogRouter; lines: Line[] } {
  const lines: Line[] = [];
  return { router: new LogRouter([{ level, write: (line, l) => lines.push({ level: l, line }) }]), lines };
}

describe("RateLimitedLog", () => {
  it("passes `limit` lines per key and window, then reports how many it held back", () => {
    const { router, lines } = capture("info");
    let now = 1_000_000;
    const log = new RateLimitedLog(createLogger(router, "c2s"), 3, 60_000, 100, () => now);
    for (let i = 0; i < 5; i++) log.warn("auth 192.0.2.1", `failure ${i}`);
    log.warn("auth 192.0.2.2", "other address");
    expect(lines.map((l) => l.line.slice(l.line.indexOf("warn") + 6))).toEqual(["failure 0", "failure 1", "failure 2", "other address"]);
    log.flush(); // the window has not ended: nothing to report yet
    expect(lines).toHaveLength(4);
    now += 60_000;
    log.flush();
    expect(lines).toHaveLength(5);
    expect(lines[4].level).toBe("warn");
    expect(lines[4].line).toMatch(/auth 192\.0\.2\.1: 2 more lines like the above suppressed within 60 s$/);
    log.warn("auth 192.0.2.1", "a new window");
    expect(lines[5].line).toMatch(/a new window$/);
  });

  it("writes nothing below the sinks' level, and the summary comes with the next line once the window is over", () => {
    const { router, lines } = capture("warn");
    let now = 0;
    const log = new RateLimitedLog(createLogger(router, "c2s"), 1, 1000, 100, () => now);
    log.info("tls 192.0.2.1", "not shown");
    log.warn("auth 192.0.2.1", "one");
    log.warn("auth 192.0.2.1", "two");
    now = 1500;
    log.warn("auth 192.0.2.1", "three");
    expect(lines.map((l) => l.line.replace(/^.* warn  /, ""))).toEqual(["one", "auth 192.0.2.1: 1 more line like the above suppressed within 1 s", "three"]);
  });

  it("keeps a bounded number of keys", () => {
    const { router, lines } = capture("info");
    const log = new RateLimitedLog(createLogger(router, "c2s"), 1, 60_000, 10, () => 0);
    for (let i = 0; i < 50; i++) {
      log.info(`tls 10.0.0.${i}`, `a ${i}`);
      log.info(`tls 10.0.0.${i}`, `b ${i}`);
    }
    // Keys pushed out early report what they held back; every address got its first line.
    expect(lines.filter((l) => /a \d+$/.test(l.line))).toHaveLength(50);
    expect((log as unknown as { entries: Map<string, unknown> }).entries.size).toBeLessThanOrEqual(10);
  });
});

describe("failures in the log of a running server (level info)", () => {
  let ts: TestServer;
  const lines: Line[] = [];
  beforeAll(async () => {
    ts = await startTestServer({ config: `modules_enabled = { "ping" }\nc2s_require_encryption = true\nVirtualHost "localhost"\n` });
    ts.server.logRouter.sinks.push({ level: "info", write: (line, level) => lines.push({ level, line }) });
    await ts.server.accounts("localhost").create("romeo", "right");
    await ts.server.accounts("localhost").create("juliet", "right");
  });
  afterAll(() => ts?.stop());
  beforeEach(() => {
    lines.length = 0;
  });

  const waitFor = async (re: RegExp): Promise<Line> => {
    for (let i = 0; i < 250; i++) {
      const found = lines.find((l) => re.test(l.line));
      if (found) return found;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`no log line matching ${re}; got:\n${lines.map((l) => l.line).join("\n")}`);
  };

  it("a failed authentication: warn, with the address", async () => {
    const c = await RawClient.connect(ts.c2sPort);
    await c.stream();
    await c.starttls();
    await c.stream();
    const r = await c.auth("SCRAM-SHA-1", "romeo", "wrong");
    expect(r.name).toBe("failure");
    const line = await waitFor(/Failed authentication/);
    expect(line.level).toBe("warn");
    expect(line.line).toContain("Failed authentication from 127.0.0.1 to localhost: not-authorized");
    c.close();
  });

  it("a stream error sent: info, with the address and the condition", async () => {
    const c = await RawClient.connect(ts.c2sPort);
    await c.stream();
    c.send("<message xmlns='jabber:client'/>"); // a stanza before authenticating
    await c.waitClosed();
    const line = await waitFor(/Closing the stream/);
    expect(line.level).toBe("info");
    expect(line.line).toMatch(/of an unauthenticated client at 127\.0\.0\.1 \(c2s\S*\) with <not-authorized\/>/);
  });

  it("what a peer sends cannot start a line of its own in the log", async () => {
    const c = await RawClient.connect(ts.c2sPort);
    c.write("<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='x&#10;2030-01-01T00:00:00.000Z general error forged' version='1.0'>");
    await c.waitClosed();
    const line = await waitFor(/host-unknown/);
    expect(line.line).toContain("does not serve x\\u000a2030-01-01T00:00:00.000Z general error forged");
    expect(line.line).not.toContain("\n");
  });

  it("TLS handshakes that fail: direct TLS, HTTPS and STARTTLS; a peer that only hangs up is not reported", async () => {
    // A client speaking plain XMPP to the direct TLS port (a misconfigured client).
    const plain = netConnect({ port: ts.tlsPort, host: "127.0.0.1" });
    plain.on("error", () => {});
    plain.write("<?xml version='1.0'?><stream:stream to='localhost' version='1.0'>\r\n\r\n");
    expect((await waitFor(/TLS handshake with .* \(direct TLS\)/)).level).toBe("info");

    const http = netConnect({ port: ts.httpsPort, host: "127.0.0.1" });
    http.on("error", () => {});
    http.write("GET /xmpp-websocket HTTP/1.1\r\nHost: localhost\r\n\r\n");
    const https = await waitFor(/TLS handshake with .* \(HTTPS\)/);
    expect(https.line).toContain("TLS handshake with 127.0.0.1 failed (HTTPS)");

    // STARTTLS, then bytes that are no TLS ClientHello.
    const st = await new Promise<Socket>((resolve, reject) => {
      const s = netConnect({ port: ts.c2sPort, host: "127.0.0.1" }, () => resolve(s));
      s.once("error", reject);
    });
    st.on("error", () => {});
    let got = "";
    st.on("data", (d: Buffer) => (got += d.toString()));
    st.write("<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>");
    for (let i = 0; i < 250 && !got.includes("</stream:features>"); i++) await new Promise((r) => setTimeout(r, 20));
    st.write("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    for (let i = 0; i < 250 && !got.includes("<proceed"); i++) await new Promise((r) => setTimeout(r, 20));
    st.write("this is not a TLS ClientHello, it is plain text sent by mistake\r\n\r\n");
    expect((await waitFor(/TLS handshake with 127\.0\.0\.1 failed \(STARTTLS\)/)).level).toBe("info");

    for (const s of [plain, http, st]) s.destroy();
    // A connection that is opened and closed without a word: a port check, not worth a line.
    lines.length = 0;
    await new Promise<void>((resolve) => {
      const s = tlsConnect({ port: ts.tlsPort, host: "127.0.0.1", rejectUnauthorized: false }, () => {
        s.destroy();
        resolve();
      });
      s.on("error", () => resolve());
    });
    const quiet = netConnect({ port: ts.tlsPort, host: "127.0.0.1" }, () => quiet.destroy());
    quiet.on("error", () => {});
    await new Promise((r) => setTimeout(r, 300));
    expect(lines.filter((l) => /TLS handshake/.test(l.line))).toEqual([]);
  });

  it("a stanza error for a server failure is a warning; the same condition from another client is not", async () => {
    const host = ts.server.hosts.get("localhost")!;
    host.bus.on("iq-get/host/urn:example:broken:query", () => {
      throw new Error("a module with a bug");
    });
    const romeo = await RawClient.login(ts.c2sPort, "romeo", "right", { resource: "r" });
    const juliet = await RawClient.login(ts.c2sPort, "juliet", "right", { resource: "j" });
    try {
      const r = await romeo.iq("<iq type='get' id='b1' to='localhost'><query xmlns='urn:example:broken'/></iq>");
      expect(r.getChild("error")!.getChild("internal-server-error", "urn:ietf:params:xml:ns:xmpp-stanzas")).toBeDefined();
      const line = await waitFor(/Sent <internal-server-error\/>/);
      expect(line.level).toBe("warn");
      expect(line.line).toContain("(iq id 'b1', from localhost) to romeo@localhost/r at 127.0.0.1");

      lines.length = 0;
      romeo.send(`<message type='error' id='m1' to='${juliet.jid}'><error type='wait'><internal-server-error xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>`);
      const got = await juliet.next();
      expect(got.attrs.from).toBe(romeo.jid);
      await new Promise((r) => setTimeout(r, 100));
      expect(lines.filter((l) => /Sent </.test(l.line))).toEqual([]);
    } finally {
      romeo.close();
      juliet.close();
    }
  });
});

describe("log_failures_per_minute", () => {
  it("caps the lines of one kind from one address", async () => {
    const ts = await startTestServer({ config: `log_failures_per_minute = 2\nc2s_require_encryption = true\nVirtualHost "localhost"\n` });
    const lines: string[] = [];
    ts.server.logRouter.sinks.push({ level: "info", write: (line) => lines.push(line) });
    try {
      for (let i = 0; i < 4; i++) {
        const c = await RawClient.connect(ts.c2sPort);
        await c.stream();
        c.send("<message xmlns='jabber:client'/>");
        await c.waitClosed();
      }
      await new Promise((r) => setTimeout(r, 100));
      expect(lines.filter((l) => /Closing the stream/.test(l))).toHaveLength(2);
    } finally {
      await ts.stop();
    }
  });
});
