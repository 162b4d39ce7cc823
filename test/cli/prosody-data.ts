// A real Prosody (the Debian package) with internal_hashed accounts and the internal file store,
// filled over the wire by real clients: what `herald import prosody` is tested against.

import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { RawClient } from "../helpers/xmpp-client.js";
import { waitForPort } from "../helpers/ports.js";
import type { Element } from "../../src/xml/stanza.js";
import { forwardedOf, mamQuery, NS_MAM, NS_SID, stanzaIds } from "../mam/helpers.js";

export const PROSODY_USERS = { alice: "alice-pw", bob: "bob pw é", carol: "Carol-Ünïcode-pw" } as const;
/** dave@plain.localhost, a host with authentication = "internal_plain" (the password is stored). */
export const PLAIN_USER_PASSWORD = "dave's plain pw";

export function prosodyInstalled(): boolean {
  return spawnSync("sh", ["-c", "command -v prosody && command -v prosodyctl"], { encoding: "utf8" }).status === 0;
}

export function prosodyConfig(dir: string, port: number): string {
  return `-- Prosody for the import test: its own data directory, loopback only, no TLS.
data_path = "${dir}/data"
pidfile = "${dir}/prosody.pid"
run_as_root = true
log = { { levels = { min = "info" }, to = "file", filename = "${dir}/prosody.log" } }
admin_socket = "${dir}/prosody.sock"
certificates = "${dir}/certs"
authentication = "internal_hashed"
storage = "internal"
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
interfaces = { "127.0.0.1" }
c2s_ports = { ${port} }
c2s_direct_tls_ports = { }
s2s_ports = { }
component_ports = { }
http_ports = { }
https_ports = { }
modules_enabled = { "roster"; "saslauth"; "disco"; "pep"; "private"; "vcard"; "offline"; "blocklist"; "mam"; "posix"; "admin_shell" }
modules_disabled = { "s2s"; "tls" }
VirtualHost "localhost"
Component "pubsub.localhost" "pubsub"
	admins = { "alice@localhost" }
VirtualHost "plain.localhost"
	authentication = "internal_plain"
`;
}

function prosodyctl(cfg: string, ...args: string[]): void {
  const r = spawnSync("prosodyctl", ["--config", cfg, ...args], { encoding: "utf8", timeout: 30000 });
  if (r.status !== 0) throw new Error(`prosodyctl ${args.join(" ")}: ${r.stdout}${r.stderr}`);
}

/** Start Prosody in DIR on PORT (foreground process, daemonize off); returns a stopper. */
export async function startProsody(dir: string, port: number): Promise<{ stop(): Promise<void> }> {
  mkdirSync(join(dir, "data"), { recursive: true });
  mkdirSync(join(dir, "certs"), { recursive: true });
  const cfg = join(dir, "prosody.cfg.lua");
  writeFileSync(cfg, prosodyConfig(dir, port));
  for (const [u, pw] of Object.entries(PROSODY_USERS)) prosodyctl(cfg, "register", u, "localhost", pw);
  prosodyctl(cfg, "register", "dave", "plain.localhost", PLAIN_USER_PASSWORD);
  const child = spawn("prosody", ["--config", cfg, "-F"], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  try {
    await waitForPort(port, { what: "prosody", timeoutMs: 20000 });
  } catch (err) {
    child.kill("SIGKILL");
    const log = existsSync(join(dir, "prosody.log")) ? readFileSync(join(dir, "prosody.log"), "utf8") : "";
    throw new Error(`${(err as Error).message}\n${out}\n${log}`);
  }
  return {
    async stop() {
      if (child.exitCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}

/** The next stanza matching `pred`, skipping others. */
export async function waitFor(c: RawClient, pred: (el: Element) => boolean, what: string): Promise<Element> {
  for (;;) {
    let el: Element;
    try {
      el = await c.next(10000);
    } catch (err) {
      throw new Error(`waiting for ${what}: ${(err as Error).message}`);
    }
    if (pred(el)) return el;
  }
}

export async function expectResult(c: RawClient, iq: string): Promise<Element> {
  const r = await c.iq(iq, 10000);
  if (r.attrs.type !== "result") throw new Error(`iq failed: ${iq}\n-> ${r}`);
  return r;
}

export const NS_PUBSUB = "http://jabber.org/protocol/pubsub";
export const NS_OWNER = "http://jabber.org/protocol/pubsub#owner";

function form(fields: Record<string, string>, formType: string): string {
  const f = Object.entries({ FORM_TYPE: formType, ...fields })
    .map(([k, v]) => `<field var='${k}'><value>${v}</value></field>`)
    .join("");
  return `<x xmlns='jabber:x:data' type='submit'>${f}</x>`;
}

/** One message of an archive query's answer. */
export interface ArchivedMessage {
  id: string;
  stamp: string;
  from: string;
  to: string;
  body: string;
}

/** Every message of `c`'s own archive, oldest first, as its server answers a MAM query. */
export async function archiveOf(c: RawClient): Promise<ArchivedMessage[]> {
  const q = await mamQuery(c, `<iq type='set' id='mam-all'><query xmlns='${NS_MAM}' queryid='all'><set xmlns='http://jabber.org/protocol/rsm'><max>50</max></set></query></iq>`);
  if (q.iq.attrs.type !== "result" || q.fin?.attrs.complete !== "true") throw new Error(`archive query failed: ${q.iq}`);
  return q.results.map((r) => {
    const result = r.getChild("result", NS_MAM)!;
    const m = forwardedOf(r)!;
    const stamp = result.getChild("forwarded", "urn:xmpp:forward:0")!.getChild("delay", "urn:xmpp:delay")!.attrs.stamp!;
    return { id: result.attrs.id!, stamp, from: m.attrs.from!, to: m.attrs.to!, body: m.getChildText("body") ?? "" };
  });
}

/** What Prosody's message archive held when it stopped. */
export interface ProsodyArchives {
  alice: ArchivedMessage[];
  bob: ArchivedMessage[];
  /** The stanza ids by bob@localhost on the messages bob received live (the ids of his archive). */
  bobSaw: string[];
}

/**
 * Everything the import must carry over, made through Prosody: a mutual (both) roster between
 * alice and bob with a name and a group; alice's vCard, private XML and blocklist; offline messages to
 * carol; alice's PEP nodes and items (one node with publish-options); component nodes with
 * configuration, affiliations, subscriptions and items; a chat between alice and bob in their
 * message archives (mod_mam).
 */
export async function populateProsody(port: number): Promise<ProsodyArchives> {
  const login = (u: keyof typeof PROSODY_USERS, mech: "SCRAM-SHA-1" | "PLAIN" = "SCRAM-SHA-1") =>
    RawClient.login(port, u, PROSODY_USERS[u], { noTls: true, mechanism: mech, resource: "setup" });
  const alice = await login("alice");
  const bob = await login("bob", "PLAIN");
  for (const c of [alice, bob]) c.send("<presence/>");

  await expectResult(alice, "<iq type='set' id='r1'><query xmlns='jabber:iq:roster'><item jid='bob@localhost' name='Bobby'><group>Friends</group><group>Work</group></item></query></iq>");
  alice.send("<presence to='bob@localhost' type='subscribe'/>");
  await waitFor(bob, (e) => e.name === "presence" && e.attrs.type === "subscribe", "alice's subscription request");
  bob.send("<presence to='alice@localhost' type='subscribed'/>");
  bob.send("<presence to='alice@localhost' type='subscribe'/>");
  await waitFor(alice, (e) => e.name === "presence" && e.attrs.type === "subscribe", "bob's subscription request");
  alice.send("<presence to='bob@localhost' type='subscribed'/>");
  for (const [c, other] of [[alice, "bob@localhost"], [bob, "alice@localhost"]] as const) {
    for (let i = 0; ; i++) {
      const r = await expectResult(c, `<iq type='get' id='rg${i}'><query xmlns='jabber:iq:roster'/></iq>`);
      const item = r.getChild("query", "jabber:iq:roster")?.childElements("item").find((x) => x.attrs.jid === other);
      if (item?.attrs.subscription === "both" && item.attrs.ask === undefined) break;
      if (i > 50) throw new Error(`the subscription did not become mutual: ${r}`);
      await new Promise((res) => setTimeout(res, 100));
    }
  }

  // A chat, archived by mod_mam for both; bob reads the stanza ids of what reaches him.
  const bobSaw: string[] = [];
  const chat: Array<[RawClient, RawClient, string, string]> = [
    [alice, bob, "bob@localhost", "Hi Bob"],
    [bob, alice, "alice@localhost", "Hello Alice &amp; all"],
    [alice, bob, "bob@localhost", "Tea at five?"],
  ];
  for (const [i, [from, to, jid, body]] of chat.entries()) {
    from.send(`<message to='${jid}' type='chat' id='chat${i}'><body>${body}</body><active xmlns='http://jabber.org/protocol/chatstates'/></message>`);
    const got = await waitFor(to, (e) => e.name === "message" && e.attrs.id === `chat${i}`, `chat message ${i}`);
    if (to === bob) bobSaw.push(...stanzaIds(got, "bob@localhost"));
    if (got.getChild("stanza-id", NS_SID) === undefined) throw new Error(`no stanza-id from Prosody: ${got}`);
  }

  await expectResult(alice, "<iq type='set' id='v1'><vCard xmlns='vcard-temp'><FN>Alice Liddell</FN><NICKNAME>ali</NICKNAME><EMAIL><USERID>alice@example.org</USERID></EMAIL></vCard></iq>");
  await expectResult(alice, "<iq type='set' id='p1'><query xmlns='jabber:iq:private'><prefs xmlns='urn:example:prefs'><colour>blue</colour><size n='3'/></prefs></query></iq>");
  await expectResult(alice, "<iq type='set' id='p2'><query xmlns='jabber:iq:private'><storage xmlns='storage:rosternotes'><note jid='bob@localhost'>met at the café</note></storage></query></iq>");

  await expectResult(alice, "<iq type='set' id='b1'><block xmlns='urn:xmpp:blocking'><item jid='spammer@example.net'/><item jid='nuisance.example'/></block></iq>");

  // carol is offline: this one is kept for her.
  alice.send("<message to='carol@localhost' type='chat' id='off1'><body>Hello while you were away</body></message>");
  alice.send("<message to='carol@localhost' id='off2'><subject>Second</subject><body>and another &amp; one</body></message>");

  // PEP: a node with the defaults, and one made with publish-options.
  await expectResult(alice, `<iq type='set' id='pep1'><pubsub xmlns='${NS_PUBSUB}'><publish node='http://jabber.org/protocol/tune'><item id='current'><tune xmlns='http://jabber.org/protocol/tune'><artist>Yes</artist><title>Heart of the Sunrise</title></tune></item></publish></pubsub></iq>`);
  await expectResult(alice, `<iq type='set' id='pep2'><pubsub xmlns='${NS_PUBSUB}'><publish node='urn:example:notes'><item id='n1'><note xmlns='urn:example:notes'>first</note></item></publish><publish-options>${form({ "pubsub#access_model": "open", "pubsub#max_items": "10" }, "http://jabber.org/protocol/pubsub#publish-options")}</publish-options></pubsub></iq>`);
  await expectResult(alice, `<iq type='set' id='pep3'><pubsub xmlns='${NS_PUBSUB}'><publish node='urn:example:notes'><item id='n2'><note xmlns='urn:example:notes'>second</note></item></publish><publish-options>${form({ "pubsub#access_model": "open", "pubsub#max_items": "10" }, "http://jabber.org/protocol/pubsub#publish-options")}</publish-options></pubsub></iq>`);
  await expectResult(bob, `<iq type='set' id='pep4' to='alice@localhost'><pubsub xmlns='${NS_PUBSUB}'><subscribe node='urn:example:notes' jid='bob@localhost'/></pubsub></iq>`);

  // The pubsub component: alice (an admin there) makes two nodes.
  const P = "pubsub.localhost";
  await expectResult(alice, `<iq type='set' id='ps1' to='${P}'><pubsub xmlns='${NS_PUBSUB}'><create node='princely_musings'/><configure>${form({ "pubsub#title": "Princely Musings", "pubsub#max_items": "5", "pubsub#notify_retract": "0" }, "http://jabber.org/protocol/pubsub#node_config")}</configure></pubsub></iq>`);
  await expectResult(alice, `<iq type='set' id='ps2' to='${P}'><pubsub xmlns='${NS_PUBSUB}'><create node='members_only'/><configure>${form({ "pubsub#access_model": "whitelist" }, "http://jabber.org/protocol/pubsub#node_config")}</configure></pubsub></iq>`);
  for (const [id, text] of [["soliloquy", "To be, or not to be"], ["second", "That is the question"]]) {
    await expectResult(alice, `<iq type='set' id='pi-${id}' to='${P}'><pubsub xmlns='${NS_PUBSUB}'><publish node='princely_musings'><item id='${id}'><entry xmlns='http://www.w3.org/2005/Atom'><title>${text}</title></entry></item></publish></pubsub></iq>`);
  }
  await expectResult(alice, `<iq type='set' id='pa1' to='${P}'><pubsub xmlns='${NS_OWNER}'><affiliations node='princely_musings'><affiliation jid='bob@localhost' affiliation='publisher'/></affiliations></pubsub></iq>`);
  await expectResult(alice, `<iq type='set' id='pa2' to='${P}'><pubsub xmlns='${NS_OWNER}'><affiliations node='members_only'><affiliation jid='carol@localhost' affiliation='member'/></affiliations></pubsub></iq>`);
  await expectResult(bob, `<iq type='set' id='ps3' to='${P}'><pubsub xmlns='${NS_PUBSUB}'><subscribe node='princely_musings' jid='bob@localhost/setup'/></pubsub></iq>`);
  await expectResult(bob, `<iq type='set' id='pi-bob' to='${P}'><pubsub xmlns='${NS_PUBSUB}'><publish node='princely_musings'><item id='by-bob'><entry xmlns='http://www.w3.org/2005/Atom'><title>From Bob</title></entry></item></publish></pubsub></iq>`);
  await expectResult(alice, `<iq type='set' id='pi-m' to='${P}'><pubsub xmlns='${NS_PUBSUB}'><publish node='members_only'><item id='secret'><data xmlns='urn:example:data'>for members</data></item></publish></pubsub></iq>`);

  // A last round trip so that the offline messages are surely stored.
  await expectResult(alice, "<iq type='get' id='last'><query xmlns='jabber:iq:roster'/></iq>");
  const archives: ProsodyArchives = { alice: await archiveOf(alice), bob: await archiveOf(bob), bobSaw };
  alice.close();
  bob.close();
  await Promise.all([alice.waitClosed(), bob.waitClosed()]).catch(() => {});
  return archives;
}
