// A real client written in Go: go-sendxmpp (Debian's package) sends a file with XEP-0363 — it asks
// Herald's upload component for a slot, PUTs the file — and a message with the URL, which the
// recipient fetches back.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTestServer, type TestServer } from "../helpers/harness.js";
import { RawClient } from "../helpers/xmpp-client.js";

const GO_SENDXMPP = "/usr/bin/go-sendxmpp";
const available = existsSync(GO_SENDXMPP);
if (!available) process.stderr.write(`${GO_SENDXMPP} is not installed (Debian package go-sendxmpp): the go-sendxmpp test is skipped\n`);

let ts: TestServer;
let dir: string;

beforeAll(async () => {
  if (!available) return;
  dir = mkdtempSync(join(tmpdir(), "herald-gosendxmpp-"));
  ts = await startTestServer({
    config: `
http_host = "127.0.0.1"
VirtualHost "localhost"
Component "upload.localhost" "http_file_share"
`,
    ports: { https: [] },
  });
  for (const u of ["romeo", "juliet"]) await ts.addUser(u, "pw");
});
afterAll(async () => {
  await ts?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!available)("go-sendxmpp XEP-0363", () => {
  it("uploads a file and the recipient fetches it from the URL in the message", async () => {
    const juliet = await RawClient.login(ts.c2sPort, "juliet", "pw");
    try {
      juliet.send("<presence/>");
      await juliet.next();
      const file = join(dir, "sonnet.txt");
      const content = "Shall I compare thee to a summer's day?\n".repeat(20);
      writeFileSync(file, content);
      // Asynchronously: the server runs in this process.
      const run = await new Promise<{ status: number | null; output: string }>((resolve, reject) => {
        const child = spawn(GO_SENDXMPP, ["-u", "romeo@localhost", "-p", "pw", "-j", `127.0.0.1:${ts.c2sPort}`, "-n", "-h", file, "juliet@localhost"], {
          env: { ...process.env, HOME: dir },
          stdio: ["ignore", "pipe", "pipe"],
        });
        let output = "";
        child.stdout.on("data", (d) => (output += d));
        child.stderr.on("data", (d) => (output += d));
        const timer = setTimeout(() => child.kill("SIGKILL"), 30000);
        child.on("error", reject);
        child.on("close", (status) => {
          clearTimeout(timer);
          resolve({ status, output });
        });
      });
      expect(run.status, run.output).toBe(0);
      let msg = await juliet.next(10000);
      while (msg.name !== "message") msg = await juliet.next(10000);
      const url = msg.getChildText("body")!.trim();
      expect(url).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${ts.httpPort}/file_share/[^/]+/sonnet\\.txt$`));
      const got = await fetch(url);
      expect(got.status).toBe(200);
      expect(await got.text()).toBe(content);
    } finally {
      juliet.close();
    }
  }, 60000);
});
