// `herald import prosody`: a real Debian Prosody (internal_hashed, internal file store, PEP, a
// pubsub component) is filled by real clients, stopped, imported into Herald's LevelDB with the
// real `herald` executable, and then Herald, started on that configuration, must let the same
// users in with the same passwords (SCRAM-SHA-1 with Prosody's keys; PLAIN, which upgrades the
// account to every mechanism) and serve their rosters, vCards, private XML, offline messages, PEP
// and pubsub nodes with their configuration, affiliations, subscriptions and items, and their
// message archives (MAM queries answer what Prosody's did: same ids, stamps, bodies, order). A
// second import changes nothing and duplicates nothing (offline messages already delivered stay gone).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { freePort } from "../helpers/ports.js";
import { startHeraldProcess } from "./herald-process.js";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { RawClient } from "../helpers/xmpp-client.js";
import type { Element } from "../../src/xml/stanza.js";
import { mamQuery, queryIq } from "../mam/helpers.js";
import {
  NS_OWNER,
  NS_PUBSUB,
  PLAIN_USER_PASSWORD,
  PROSODY_USERS,
  archiveOf,
  expectResult,
  populateProsody,
  prosodyInstalled,
  startProsody,
  waitFor,
  type ProsodyArchives,
} from "./prosody-data.js";

const HERALD = fileURLToPath(new URL("../../bin/herald", import.meta.url));
let dir: string;
let c2sPort: number;
let prosodyArchives: ProsodyArchives;


function importProsody() {
  return spawnSync(process.execPath, [HERALD, "import", "prosody", join(dir, "prosody", "data"), "-c", "herald.cfg.lua"], {
    cwd: dir,
    encoding: "utf8",
    timeout: 60000,
  });
}

let heraldOutput = "";

async function startHerald(): Promise<ChildProcess> {
  const { child, output } = await startHeraldProcess(process.execPath, [HERALD, "start", "-c", "herald.cfg.lua"], { cwd: dir, timeoutMs: 30000 });
  child.on("exit", () => (heraldOutput += output()));
  return child;
}

async function stopHerald(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  child.kill("SIGTERM");
  await exited;
}

/** A row of the summary table: [imported, unchanged, skipped]. */
function summaryRow(stdout: string, name: string): number[] {
  const line = stdout.split("\n").find((l) => l.startsWith(`${name}  `));
  if (!line) throw new Error(`no row '${name}' in:\n${stdout}`);
  return line.slice(name.length).trim().split(/\s+/).map(Number);
}

let resources = 0;
const login = (user: keyof typeof PROSODY_USERS, mechanism: "SCRAM-SHA-1" | "SCRAM-SHA-256" | "PLAIN", password: string = PROSODY_USERS[user]) =>
  RawClient.login(c2sPort, user, password, { mechanism, resource: `herald${++resources}` });

function itemIds(r: Element): string[] {
  return r.getChild("pubsub", NS_PUBSUB)!.getChild("items")!.childElements("item").map((i) => i.attrs.id!);
}

function formValues(r: Element, ns: string, child: string): Map<string, string> {
  const x = r.getChild("pubsub", ns)!.getChild(child)!.getChild("x", "jabber:x:data")!;
  return new Map(x.childElements("field").map((f) => [f.attrs.var!, f.childElements("value").map((v) => v.getText()).join(",")]));
}

beforeAll(async () => {
  if (!existsSync(fileURLToPath(new URL("../../dist/bin/cli.js", import.meta.url)))) throw new Error("run `npm run build` first");
  if (!prosodyInstalled()) throw new Error("this test needs Debian's prosody package (apt-get install prosody; .ci/run installs it)");
  dir = mkdtempSync(join(tmpdir(), "herald-import-"));
  const prosodyPort = await freePort();
  const prosody = await startProsody(join(dir, "prosody"), prosodyPort);
  try {
    prosodyArchives = await populateProsody(prosodyPort);
  } finally {
    await prosody.stop();
  }
  c2sPort = await freePort();
  const [tls, http, https] = [await freePort(), await freePort(), await freePort()];
  writeFileSync(
    join(dir, "herald.cfg.lua"),
    `data_path = "herald-data"
c2s_ports = { ${c2sPort} }
c2s_direct_tls_ports = { ${tls} }
http_ports = { ${http} }
https_ports = { ${https} }
interfaces = { "127.0.0.1" }
log = "info"
modules_enabled = { "roster"; "presence"; "message"; "offline"; "disco"; "vcard"; "private"; "blocklist"; "pep"; "mam" }
VirtualHost "localhost"
Component "pubsub.localhost" "pubsub"
	admins = { "alice@localhost" }
VirtualHost "plain.localhost"
`,
  );
}, 120000);

afterAll(() => {
  if (process.env.HERALD_TEST_LOG) console.log(heraldOutput);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("herald import prosody", () => {
  it("imports a real Prosody's data; the users log in with their passwords and find their data; a re-run changes nothing", async () => {
    const first = importProsody();
    expect(first.status, first.stderr + first.stdout).toBe(0);
    expect(summaryRow(first.stdout, "accounts")).toEqual([4, 0, 0]);
    expect(summaryRow(first.stdout, "roster items")).toEqual([2, 0, 0]);
    expect(summaryRow(first.stdout, "offline messages")).toEqual([2, 0, 0]);
    expect(summaryRow(first.stdout, "pubsub items")).toEqual([4, 0, 0]);
    expect(summaryRow(first.stdout, "PEP items")).toEqual([3, 0, 0]);
    // Prosody archived the chat for alice and bob, and alice's two messages to carol for both.
    const prosodyBodies = prosodyArchives.alice.map((m) => m.body);
    expect(prosodyBodies).toEqual(["Hi Bob", "Hello Alice & all", "Tea at five?", "Hello while you were away", "and another & one"]);
    expect(prosodyArchives.bob.map((m) => m.body)).toEqual(prosodyBodies.slice(0, 3));
    const archived = prosodyArchives.alice.length + prosodyArchives.bob.length + 2;
    expect(summaryRow(first.stdout, "archived messages (MAM)")).toEqual([archived, 0, 0]);
    expect(first.stderr).toMatch(/100% \(\d+\/\d+ files\)/);

    let herald = await startHerald();
    try {
      // SCRAM-SHA-1 with the keys Prosody stored; SCRAM-SHA-256 has no keys yet; a wrong password fails.
      const alice = await login("alice", "SCRAM-SHA-1");
      await expect(login("alice", "SCRAM-SHA-256")).rejects.toThrow(/authentication failed/);
      await expect(login("alice", "PLAIN", "not-her-password")).rejects.toThrow(/authentication failed/);
      // PLAIN verifies against the SCRAM-SHA-1 keys and stores the full set: then SCRAM-SHA-256 works.
      await expect(login("bob", "SCRAM-SHA-256")).rejects.toThrow(/authentication failed/);
      const bobPlain = await login("bob", "PLAIN");
      bobPlain.close();
      const bob = await login("bob", "SCRAM-SHA-256");
      (await login("bob", "SCRAM-SHA-1")).close();

      // An internal_plain account gets Herald's full credentials from its stored password.
      (await RawClient.login(c2sPort, "dave", PLAIN_USER_PASSWORD, { mechanism: "SCRAM-SHA-256", domain: "plain.localhost", resource: "d" })).close();
      await expect(RawClient.login(c2sPort, "dave", "wrong", { mechanism: "PLAIN", domain: "plain.localhost", resource: "d" })).rejects.toThrow(/authentication failed/);

      // Herald must be stopped for an import: its database is in use.
      const busy = importProsody();
      expect(busy.status).toBe(1);
      expect(busy.stderr).toContain("stop Herald before importing");

      // The roster, as Prosody had it.
      const roster = await expectResult(alice, "<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>");
      const items = roster.getChild("query", "jabber:iq:roster")!.childElements("item");
      expect(items.map((i) => [i.attrs.jid, i.attrs.subscription, i.attrs.name])).toEqual([["bob@localhost", "both", "Bobby"]]);
      expect(items[0].childElements("group").map((g) => g.getText()).sort()).toEqual(["Friends", "Work"]);
      const bobRoster = await expectResult(bob, "<iq type='get' id='r2'><query xmlns='jabber:iq:roster'/></iq>");
      expect(bobRoster.getChild("query", "jabber:iq:roster")!.childElements("item").map((i) => [i.attrs.jid, i.attrs.subscription])).toEqual([["alice@localhost", "both"]]);

      // vCard (read by bob) and private XML.
      const vcard = await expectResult(bob, "<iq type='get' id='v1' to='alice@localhost'><vCard xmlns='vcard-temp'/></iq>");
      const v = vcard.getChild("vCard", "vcard-temp")!;
      expect(v.getChildText("FN")).toBe("Alice Liddell");
      expect(v.getChild("EMAIL")!.getChildText("USERID")).toBe("alice@example.org");
      const priv = await expectResult(alice, "<iq type='get' id='pr1'><query xmlns='jabber:iq:private'><prefs xmlns='urn:example:prefs'/></query></iq>");
      const prefs = priv.getChild("query", "jabber:iq:private")!.getChild("prefs", "urn:example:prefs")!;
      expect(prefs.getChildText("colour")).toBe("blue");
      expect(prefs.getChild("size")!.attrs.n).toBe("3");
      const notes = await expectResult(alice, "<iq type='get' id='pr2'><query xmlns='jabber:iq:private'><storage xmlns='storage:rosternotes'/></query></iq>");
      expect(notes.getChild("query", "jabber:iq:private")!.getChild("storage", "storage:rosternotes")!.getChildText("note")).toBe("met at the café");

      const blocked = await expectResult(alice, "<iq type='get' id='b1'><blocklist xmlns='urn:xmpp:blocking'/></iq>");
      expect(blocked.getChild("blocklist", "urn:xmpp:blocking")!.childElements("item").map((i) => i.attrs.jid).sort()).toEqual(["nuisance.example", "spammer@example.net"]);

      // Offline messages reach carol when she comes online, with their delay.
      const carol = await login("carol", "SCRAM-SHA-1");
      carol.send("<presence/>");
      const m1 = await waitFor(carol, (e) => e.name === "message", "the first offline message");
      const m2 = await waitFor(carol, (e) => e.name === "message", "the second offline message");
      expect([m1.getChildText("body"), m2.getChildText("body")]).toEqual(["Hello while you were away", "and another & one"]);
      expect(m1.attrs.from).toBe("alice@localhost/setup");
      expect(m1.attrs.type).toBe("chat");
      expect(m2.getChildText("subject")).toBe("Second");
      expect(m1.getChild("delay", "urn:xmpp:delay")?.attrs.stamp).toMatch(/^\d{4}-\d\d-\d\dT/);

      // PEP: items, configuration, subscriptions.
      const tune = await expectResult(bob, `<iq type='get' id='pp1' to='alice@localhost'><pubsub xmlns='${NS_PUBSUB}'><items node='http://jabber.org/protocol/tune'/></pubsub></iq>`);
      expect(itemIds(tune)).toEqual(["current"]);
      const tuneEl = tune.getChild("pubsub", NS_PUBSUB)!.getChild("items")!.getChild("item")!.getChild("tune", "http://jabber.org/protocol/tune")!;
      expect(tuneEl.getChildText("artist")).toBe("Yes");
      expect(tuneEl.attrs.stamp).toBeUndefined();
      const notesItems = await expectResult(carol, `<iq type='get' id='pp2' to='alice@localhost'><pubsub xmlns='${NS_PUBSUB}'><items node='urn:example:notes'/></pubsub></iq>`);
      expect(itemIds(notesItems).sort()).toEqual(["n1", "n2"]);
      const pepCfg = await expectResult(alice, `<iq type='get' id='pp3'><pubsub xmlns='${NS_OWNER}'><configure node='urn:example:notes'/></pubsub></iq>`);
      const pc = formValues(pepCfg, NS_OWNER, "configure");
      expect(pc.get("pubsub#access_model")).toBe("open");
      expect(pc.get("pubsub#max_items")).toBe("10");
      const pepSubs = await expectResult(alice, `<iq type='get' id='pp4'><pubsub xmlns='${NS_OWNER}'><subscriptions node='urn:example:notes'/></pubsub></iq>`);
      expect(pepSubs.getChild("pubsub", NS_OWNER)!.getChild("subscriptions")!.childElements("subscription").map((s) => [s.attrs.jid, s.attrs.subscription])).toEqual([["bob@localhost", "subscribed"]]);

      // The pubsub component: nodes, configuration, affiliations, subscriptions, items.
      const P = "pubsub.localhost";
      const musings = await expectResult(bob, `<iq type='get' id='ps1' to='${P}'><pubsub xmlns='${NS_PUBSUB}'><items node='princely_musings'/></pubsub></iq>`);
      expect(itemIds(musings).sort()).toEqual(["by-bob", "second", "soliloquy"]);
      const cfg = formValues(await expectResult(alice, `<iq type='get' id='ps2' to='${P}'><pubsub xmlns='${NS_OWNER}'><configure node='princely_musings'/></pubsub></iq>`), NS_OWNER, "configure");
      expect([cfg.get("pubsub#title"), cfg.get("pubsub#max_items"), cfg.get("pubsub#notify_retract")]).toEqual(["Princely Musings", "5", "0"]);
      const affs = await expectResult(alice, `<iq type='get' id='ps3' to='${P}'><pubsub xmlns='${NS_OWNER}'><affiliations node='princely_musings'/></pubsub></iq>`);
      expect(affs.getChild("pubsub", NS_OWNER)!.getChild("affiliations")!.childElements("affiliation").map((a) => `${a.attrs.jid}=${a.attrs.affiliation}`).sort()).toEqual(["alice@localhost=owner", "bob@localhost=publisher"]);
      const subs = await expectResult(alice, `<iq type='get' id='ps4' to='${P}'><pubsub xmlns='${NS_OWNER}'><subscriptions node='princely_musings'/></pubsub></iq>`);
      expect(subs.getChild("pubsub", NS_OWNER)!.getChild("subscriptions")!.childElements("subscription").map((s) => [s.attrs.jid, s.attrs.subscription])).toEqual([["bob@localhost/setup", "subscribed"]]);
      // members_only is a whitelist: carol (a member) reads it, bob may not.
      const secret = await expectResult(carol, `<iq type='get' id='ps5' to='${P}'><pubsub xmlns='${NS_PUBSUB}'><items node='members_only'/></pubsub></iq>`);
      expect(itemIds(secret)).toEqual(["secret"]);
      const denied = await bob.iq(`<iq type='get' id='ps6' to='${P}'><pubsub xmlns='${NS_PUBSUB}'><items node='members_only'/></pubsub></iq>`);
      expect(denied.attrs.type).toBe("error");

      // The message archives: what Prosody answered, with the same ids (the stanza ids bob saw) and stamps.
      expect(await archiveOf(alice)).toEqual(prosodyArchives.alice);
      expect(await archiveOf(bob)).toEqual(prosodyArchives.bob);
      expect(prosodyArchives.bobSaw).toEqual([prosodyArchives.bob[0].id, prosodyArchives.bob[2].id]);
      expect((await archiveOf(carol)).map((m) => [m.from, m.body])).toEqual([
        ["alice@localhost/setup", "Hello while you were away"],
        ["alice@localhost/setup", "and another & one"],
      ]);
      // Filters and paging work on the imported items (`with` is the other party's bare JID).
      const withBob = await mamQuery(alice, queryIq({ fields: { with: "bob@localhost" } }));
      expect(withBob.ids).toEqual(prosodyArchives.alice.slice(0, 3).map((m) => m.id));
      const afterFirst = await mamQuery(alice, queryIq({ rsm: { max: 2, after: prosodyArchives.alice[0].id } }));
      expect(afterFirst.bodies).toEqual(["Hello Alice & all", "Tea at five?"]);
      for (const c of [alice, bob, carol]) c.close();
    } finally {
      await stopHerald(herald);
    }

    // Again: nothing new, nothing duplicated; carol's delivered messages do not come back.
    const second = importProsody();
    expect(second.status, second.stderr + second.stdout).toBe(0);
    expect(summaryRow(second.stdout, "archived messages (MAM)")).toEqual([0, prosodyArchives.alice.length + prosodyArchives.bob.length + 2, 0]);
    for (const row of ["accounts", "roster items", "blocked JIDs", "vCards", "private XML", "offline messages", "archived messages (MAM)", "PEP nodes", "PEP items", "PEP subscriptions", "pubsub nodes", "pubsub items", "pubsub subscriptions", "pubsub affiliations"]) {
      expect(summaryRow(second.stdout, row)[0], row).toBe(0);
    }
    herald = await startHerald();
    try {
      // bob's upgraded credentials were kept (SCRAM-SHA-256 still works).
      (await login("bob", "SCRAM-SHA-256")).close();
      const carol = await login("carol", "PLAIN");
      carol.send("<presence/>");
      // Her own presence comes back; a round trip later, no message has come.
      await waitFor(carol, (e) => e.name === "presence", "her own presence");
      await expectResult(carol, "<iq type='get' id='c1'><query xmlns='jabber:iq:roster'/></iq>");
      await carol.nothing(300);
      const alice = await login("alice", "SCRAM-SHA-1");
      const roster = await expectResult(alice, "<iq type='get' id='r3'><query xmlns='jabber:iq:roster'/></iq>");
      expect(roster.getChild("query", "jabber:iq:roster")!.childElements("item")).toHaveLength(1);
      const musings = await expectResult(alice, `<iq type='get' id='ps7' to='pubsub.localhost'><pubsub xmlns='${NS_PUBSUB}'><items node='princely_musings'/></pubsub></iq>`);
      expect(itemIds(musings)).toHaveLength(3);
      expect(await archiveOf(alice)).toEqual(prosodyArchives.alice);
      const subs = await expectResult(alice, `<iq type='get' id='ps8' to='pubsub.localhost'><pubsub xmlns='${NS_OWNER}'><subscriptions node='princely_musings'/></pubsub></iq>`);
      expect(subs.getChild("pubsub", NS_OWNER)!.getChild("subscriptions")!.childElements("subscription")).toHaveLength(1);
      for (const c of [alice, carol]) c.close();
    } finally {
      await stopHerald(herald);
    }
  }, 180000);
});
