// A real web client: Converse.js (Strophe.js underneath) in headless Chromium logs in to Herald, once
// over WebSocket (RFC 7395) and once over BOSH (XEP-0206, from a page on another origin, so Chromium
// checks Herald's CORS headers), sends a message to a raw client and shows the raw client's answer.
// Needs Debian's chromium at /usr/bin/chromium (`bash .ci/run` installs it); skipped without it.
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from "vitest";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { extname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { startTestServer, type TestServer } from "../helpers/harness.js";
import { RawClient } from "../helpers/xmpp-client.js";

const CHROMIUM = "/usr/bin/chromium";
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.warn(`Converse.js test skipped: ${CHROMIUM} is absent (bash .ci/run installs Debian's chromium)`);
const DIST = fileURLToPath(new URL("../../node_modules/converse.js/dist/", import.meta.url));

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".wasm": "application/wasm",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".woff2": "font/woff2",
  ".woff": "font/woff",
  ".ttf": "font/ttf",
  ".mp3": "audio/mpeg",
  ".ogg": "audio/ogg",
  ".map": "application/json",
};

type Transport = "websocket" | "bosh";

/** The page: Converse from node_modules, logging in automatically over Herald's WebSocket or BOSH. */
function page(transport: Transport, url: string): string {
  const settings = {
    ...(transport === "websocket" ? { websocket_url: url } : { bosh_service_url: url }),
    authentication: "login",
    auto_login: true,
    jid: "alice@localhost",
    password: "wonderland",
    discover_connection_methods: false,
    view_mode: "fullscreen",
    assets_path: "/dist/",
    allow_non_roster_messaging: true,
    play_sounds: false,
    show_desktop_notifications: false,
    i18n: "en",
    // No lookups outside loopback.
    autocomplete_providers_url: "",
    loglevel: process.env.HERALD_CONVERSE_DEBUG ? "debug" : "warn",
  };
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Herald and Converse.js</title>
<link rel="stylesheet" href="/dist/converse.min.css">
<script type="module" src="/dist/converse.min.js"></script>
</head><body class="reset">
<script type="module">converse.initialize(${JSON.stringify(settings)});</script>
</body></html>`;
}

/** Serves /websocket and /bosh (a page for each) and Converse's files. */
function serve(urls: Record<Transport, () => string>): Promise<HttpServer> {
  const http = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? "/", "http://127.0.0.1").pathname);
    if (path === "/websocket" || path === "/bosh") {
      const transport = path.slice(1) as Transport;
      res.writeHead(200, { "content-type": TYPES[".html"] }).end(page(transport, urls[transport]()));
      return;
    }
    const file = path.startsWith("/dist/") ? resolve(DIST, path.slice("/dist/".length)) : "";
    if (!file.startsWith(DIST) || !existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream" }).end(readFileSync(file));
  });
  return new Promise((ok) => http.listen(0, "127.0.0.1", () => ok(http)));
}

// The modules of Herald's embedded default configuration, so Converse meets an everyday server.
const CONFIG = `
modules_enabled = {
  "roster"; "disco"; "ping"; "carbons"; "blocklist"; "private"; "pep"; "vcard4"; "vcard_legacy";
  "version"; "uptime"; "time"; "lastactivity"; "bosh";
}
c2s_require_encryption = true
VirtualHost "localhost"
`;

let ts: TestServer;
let http: HttpServer;

beforeAll(async () => {
  if (!haveChromium) return;
  ts = await startTestServer({ config: CONFIG });
  await ts.server.accounts("localhost").create("alice", "wonderland");
  await ts.server.accounts("localhost").create("bob", "builder");
  await befriend();
  http = await serve({
    websocket: () => `ws://127.0.0.1:${ts.httpPort}/xmpp-websocket`,
    // The page is on another origin than /http-bind: Chromium checks Herald's CORS headers.
    bosh: () => `http://127.0.0.1:${ts.httpPort}/http-bind`,
  });
}, 60000);

afterAll(async () => {
  http?.closeAllConnections();
  await new Promise((ok) => (http ? http.close(ok) : ok(undefined)));
  await ts?.stop();
});

/** A fresh headless Chromium (its own profile), its console kept in `log`. */
async function openBrowser(log: string[]): Promise<{ browser: BrowserContext; tab: Page; close(): Promise<void> }> {
  const profile = mkdtempSync(join(tmpdir(), "herald-chromium-"));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-proxy-server",
    ],
    viewport: { width: 1200, height: 800 },
  });
  // Nothing leaves loopback (the login page links a few images on conversejs.org).
  await browser.route((url) => url.hostname !== "127.0.0.1", (route) => route.abort());
  const tab = browser.pages()[0] ?? (await browser.newPage());
  tab.on("console", (m) => log.push(`${m.type()}: ${m.text()}`));
  tab.on("pageerror", (e) => log.push(`pageerror: ${e.message}`));
  tab.on("requestfailed", (r) => log.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ""}`));
  tab.on("response", (r) => {
    if (r.status() >= 400) log.push(`HTTP ${r.status()}: ${r.url()}`);
  });
  return {
    browser,
    tab,
    async close() {
      await browser.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** alice and bob subscribe to each other (raw clients), so bob is in the roster Converse shows. */
async function befriend(): Promise<void> {
  const [a, b] = await Promise.all([
    RawClient.login(ts.c2sPort, "alice", "wonderland", { resource: "setup" }),
    RawClient.login(ts.c2sPort, "bob", "builder", { resource: "setup" }),
  ]);
  const ping = (c: RawClient, id: string) => c.iq(`<iq type='get' id='${id}'><ping xmlns='urn:xmpp:ping'/></iq>`);
  a.send("<presence type='subscribe' to='bob@localhost'/>");
  await ping(a, "a1");
  b.send("<presence type='subscribed' to='alice@localhost'/><presence type='subscribe' to='alice@localhost'/>");
  await ping(b, "b1");
  a.send("<presence type='subscribed' to='bob@localhost'/>");
  await ping(a, "a2");
  a.close();
  b.close();
  await Promise.all([a.waitClosed(), b.waitClosed()]);
}


describe.skipIf(!haveChromium)(
  haveChromium ? "Converse.js in Chromium" : `Converse.js in Chromium (skipped: ${CHROMIUM} is absent; bash .ci/run installs Debian's chromium)`,
  () => {
    it.each<Transport>(["websocket", "bosh"])("logs in over %s and exchanges messages with a raw client", { timeout: 60000 }, async (transport) => {
      // On failure, show what Converse logged (HERALD_CONVERSE_DEBUG=1 for its XMPP traffic too).
      const browserLog: string[] = [];
      onTestFailed(() => console.log(`Browser console:\n${browserLog.join("\n")}`));
      const host = ts.server.hosts.get("localhost")!;
      // The other transport's session (if it ran first) has ended with its browser.
      await expect.poll(() => host.sessionsOf("alice").length, { timeout: 20000 }).toBe(0);
      const { tab, close } = await openBrowser(browserLog);
      try {
        const { port } = http.address() as AddressInfo;
        await tab.goto(`http://127.0.0.1:${port}/${transport}`);

        // Logged in: Herald has alice bound, and Converse shows her roster and profile.
        await expect.poll(() => host.sessionsOf("alice").length, { timeout: 20000 }).toBe(1);
        const alice = host.sessionsOf("alice")[0];
        expect(alice.fullJid).toMatch(/^alice@localhost\/.+/);
        expect(alice.transportKind).toBe(transport);
        await tab.locator("converse-roster").waitFor({ state: "attached", timeout: 20000 });
        await tab.locator("converse-user-profile").waitFor({ state: "attached", timeout: 20000 });

        // bob is online on a raw socket; alice clicks him in Converse's roster and types into the chat.
        const bob = await RawClient.login(ts.c2sPort, "bob", "builder", { resource: "raw" });
        try {
          bob.send("<presence/>");
          const contact = tab.locator("converse-roster a.open-chat[data-jid='bob@localhost']");
          await contact.waitFor({ timeout: 20000 });
          await contact.click();
          const textarea = tab.locator("converse-chat[jid='bob@localhost'] textarea.chat-textarea");
          await textarea.waitFor({ timeout: 20000 });
          await textarea.fill("Hello Bob, from Converse");
          await textarea.press("Enter");
          let got = await bob.next(20000);
          while (got.name !== "message" || got.getChildText("body") === undefined) got = await bob.next(20000);
          expect(got.attrs.from).toBe(alice.fullJid);
          expect(got.attrs.to).toBe("bob@localhost");
          expect(got.getChildText("body")).toBe("Hello Bob, from Converse");

          // bob to alice: the message appears in Converse's chat view.
          bob.send(`<message type='chat' to='${alice.fullJid}' id='b1'><body>Hi Alice, this is Bob on a raw socket</body></message>`);
          const shown = tab.locator("converse-chat[jid='bob@localhost'] .chat-msg__text", { hasText: "Hi Alice, this is Bob on a raw socket" });
          await shown.waitFor({ timeout: 20000 });
          expect(await shown.count()).toBe(1);
          // HERALD_CONVERSE_SCREENSHOT=file.png keeps a picture of the chat.
          if (process.env.HERALD_CONVERSE_SCREENSHOT) await tab.screenshot({ path: process.env.HERALD_CONVERSE_SCREENSHOT.replace(/\.png$/, `-${transport}.png`) });
        } finally {
          bob.close();
        }
      } finally {
        await close();
      }
    });
  },
);
