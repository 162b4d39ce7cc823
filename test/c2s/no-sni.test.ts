// TLS handshakes without SNI (clients connecting by IP address, @xmpp/client's xmpps://): every TLS
// listener answers with the first VirtualHost's certificate, as it does for an unknown name.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { request } from "node:https";
import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect, type TLSSocket } from "node:tls";
import { client, xml } from "@xmpp/client";
import { startTestServer, type TestServer } from "../helpers/harness.js";

let ts: TestServer;

beforeAll(async () => {
  // Two hosts: without SNI the first one's certificate is the answer.
  ts = await startTestServer({ config: `modules_enabled = { "ping" }\nc2s_require_encryption = true\nVirtualHost "first.test"\nVirtualHost "second.test"\n` });
  await ts.server.accounts("first.test").create("ana", "s3cret");
});
afterAll(() => ts?.stop());

/** A TLS handshake that sends no server name: host is an IP address and no servername is given. */
function handshake(opts: { port: number } | { socket: Socket }): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ ...opts, host: "127.0.0.1", rejectUnauthorized: false }, () => resolve(s));
    s.once("error", reject);
  });
}

function subjectOf(s: TLSSocket): string {
  return new X509Certificate(s.getPeerCertificate(true).raw).subject;
}

function readUntil(sock: Socket, pattern: RegExp, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = "";
    const t = setTimeout(() => {
      sock.off("data", onData);
      reject(new Error(`no ${pattern} within ${timeoutMs} ms; got: ${buf}`));
    }, timeoutMs);
    const onData = (d: Buffer) => {
      buf += d.toString("utf8");
      if (pattern.test(buf)) {
        clearTimeout(t);
        sock.off("data", onData);
        resolve(buf);
      }
    };
    sock.on("data", onData);
  });
}

const OPEN = (to: string) =>
  `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='${to}' version='1.0'>`;

describe("TLS without SNI", () => {
  it("direct TLS (XEP-0368): the handshake completes with the first VirtualHost's certificate", async () => {
    const s = await handshake({ port: ts.tlsPort });
    try {
      expect(s.servername).toBeFalsy(); // nothing was sent: the server had to choose
      expect(subjectOf(s)).toContain("CN=first.test");
      s.write(OPEN("second.test"));
      // The stream itself still picks the host from its 'to'.
      expect(await readUntil(s, /<\/stream:features>/)).toContain("from='second.test'");
    } finally {
      s.destroy();
    }
  });

  it("openssl s_client -noservername completes the handshake on the direct TLS port", async () => {
    const out = await new Promise<string>((resolve) => {
      const child = execFile(
        "openssl",
        ["s_client", "-connect", `127.0.0.1:${ts.tlsPort}`, "-noservername", "-brief"],
        { timeout: 15000 },
        (_err, stdout, stderr) => resolve(`${stdout}\n${stderr}`),
      );
      child.stdin?.end("");
    });
    expect(out).not.toMatch(/handshake failure|alert/i);
    expect(out).toMatch(/CONNECTION ESTABLISHED/);
    expect(out).toMatch(/first\.test/);
  });

  it("STARTTLS: the upgraded stream gets the first VirtualHost's certificate", async () => {
    const plain = await new Promise<Socket>((resolve, reject) => {
      const s = netConnect({ port: ts.c2sPort, host: "127.0.0.1" }, () => resolve(s));
      s.once("error", reject);
    });
    try {
      plain.write(OPEN("second.test"));
      await readUntil(plain, /<\/stream:features>/);
      plain.write("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
      await readUntil(plain, /<proceed/);
      const s = await handshake({ socket: plain });
      expect(subjectOf(s)).toContain("CN=first.test");
      s.write(OPEN("second.test"));
      expect(await readUntil(s, /<\/stream:features>/)).toContain("SCRAM-SHA-1");
      s.destroy();
    } finally {
      plain.destroy();
    }
  });

  it("HTTPS (WebSocket listener): the handshake completes with the first VirtualHost's certificate", async () => {
    const subject = await new Promise<string>((resolve, reject) => {
      const req = request({ host: "127.0.0.1", port: ts.httpsPort, path: "/xmpp-websocket", rejectUnauthorized: false }, (res) => {
        resolve(new X509Certificate((res.socket as TLSSocket).getPeerCertificate(true).raw).subject);
        res.resume();
      });
      req.once("error", reject);
      req.end();
    });
    expect(subject).toContain("CN=first.test");
  });

  it("@xmpp/client logs in over xmpps://127.0.0.1 (no SNI)", async () => {
    // The client verifies certificates by default; a self-signed one for a name, reached by IP
    // address, is accepted by hand in real clients. This file runs in its own process.
    process.env.NODE_TLS_REJECT_UNAUTHORIZED = "0";
    const xmpp = client({ service: `xmpps://127.0.0.1:${ts.tlsPort}`, domain: "first.test", username: "ana", password: "s3cret", resource: "ip", timeout: 15000 }); // its 2 s default per step is short for a loaded 2-core machine
    xmpp.on("error", () => {});
    try {
      const jid = await xmpp.start();
      expect(String(jid)).toBe("ana@first.test/ip");
      const pong = await xmpp.iqCaller.request(xml("iq", { type: "get", to: "first.test" }, xml("ping", { xmlns: "urn:xmpp:ping" })));
      expect(pong.attrs.type).toBe("result");
    } finally {
      await xmpp.stop().catch(() => {});
      delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
    }
  });
});
