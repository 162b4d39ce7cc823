// A real client: slixmpp's XEP-0363 plugin (with aiohttp) discovers Herald's upload component,
// uploads a file over the HTTP listener and fetches it back.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fileURLToPath } from "node:url";
import { startTestServer, type TestServer } from "../helpers/harness.js";
import { runPython } from "../helpers/python.js";

const script = fileURLToPath(new URL("./slixmpp_upload.py", import.meta.url));
let ts: TestServer;

beforeAll(async () => {
  ts = await startTestServer({
    config: `
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
http_host = "127.0.0.1"
VirtualHost "localhost"
Component "upload.localhost" "http_file_share"
  http_file_share_size_limit = 1000000
`,
    ports: { https: [] },
  });
  await ts.addUser("romeo", "pw");
});
afterAll(() => ts?.stop());

describe("slixmpp XEP-0363", () => {
  it("uploads a file with upload_file and reads it back from the GET URL", async () => {
    const run = await runPython(script, [String(ts.c2sPort), "romeo@localhost/slix", "pw"], 40000);
    expect(run.events, run.stderr).toEqual([
      { event: "session" },
      { event: "uploaded", service: "upload.localhost", max: 1000000 },
      { event: "fetched", status: 200, type: "text/plain", length: "1560", same: true },
      { event: "too-big" },
      { event: "done" },
    ]);
  }, 60000);
});
