// The importer on data in the forms older Prosody versions wrote (which Debian's 0.12 no longer
// writes, so test/cli/import-prosody.test.ts cannot produce them), and on broken files.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MemoryStorage } from "../../src/storage/memory.js";
import { pepStore } from "../../modules/lib/pubsub/pep-store.js";
import { importProsody } from "./prosody.js";

let dir: string;

function put(path: string, text: string): void {
  const full = join(dir, path);
  mkdirSync(join(full, ".."), { recursive: true });
  writeFileSync(full, text);
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "herald-prosody-data-"));
  // A pending subscription request kept as just `true`, and a group list.
  put("localhost/roster/alice.dat", `return { [false] = { ["version"] = 7; ["pending"] = { ["eve@example.net"] = true; }; }; ["bob@localhost"] = { ["subscription"] = "to"; ["ask"] = "subscribe"; ["groups"] = { ["B"] = true; ["A"] = true; }; }; };`);
  // Blocklist entries as `true`.
  put("localhost/blocklist/alice.dat", `return { [false] = { ["created"] = 1700000000; }; ["spam@example.net"] = true; };`);
  // Archive records without key and without when (time from the stamp attribute).
  put(
    "localhost/offline/alice.list",
    `item({ { "old one"; ["name"] = "body"; ["attr"] = {}; }; ["name"] = "message"; ["attr"] = { ["from"] = "bob@localhost/x"; ["to"] = "alice@localhost"; ["stamp"] = "2020-01-02T03:04:05Z"; }; });\n`,
  );
  // A PEP node stored as just `true` (persist_items), with one item.
  put("localhost/pep/alice.dat", `return { ["urn:example:old"] = true; };`);
  put("localhost/pep_urn%3aexample%3aold/alice.list", `item({ ["name"] = "x"; ["attr"] = { ["xmlns"] = "urn:example:old"; ["stamp"] = "2021-01-01T00:00:00Z"; }; ["key"] = "i1"; ["when"] = 1609459200; ["with"] = "alice@localhost"; });\n`);
  // A MAM archive: a record with key, when and a full JID in with (and a stanza-id claiming to be
  // the archive's, which is not kept); one without key and when (time from the stamp); one that is
  // not a message.
  put(
    "localhost/archive/alice.list",
    [
      `item({ { "hi"; ["name"] = "body"; ["attr"] = {}; }; { ["name"] = "stanza-id"; ["attr"] = { ["xmlns"] = "urn:xmpp:sid:0"; ["by"] = "alice@localhost"; ["id"] = "forged"; }; }; ["name"] = "message"; ["attr"] = { ["from"] = "bob@localhost/x"; ["to"] = "alice@localhost"; ["xmlns"] = "jabber:client"; ["stamp"] = "1970-01-01T00:00:01Z"; }; ["key"] = "m1"; ["when"] = 1; ["with"] = "Bob@localhost/x"; });`,
      `item({ { "old"; ["name"] = "body"; ["attr"] = {}; }; ["name"] = "message"; ["attr"] = { ["to"] = "bob@localhost"; ["xml:lang"] = "de"; ["stamp"] = "2020-01-02T03:04:05Z"; }; ["with"] = "bob@localhost"; });`,
      `item({ ["name"] = "presence"; ["attr"] = {}; ["key"] = "p1"; ["when"] = 3; });`,
      "",
    ].join("\n"),
  );
  // A host whose mod_mam has another archive_store.
  put("mam%2elocalhost/mam_log/zed.list", `item({ { "z"; ["name"] = "body"; ["attr"] = {}; }; ["name"] = "message"; ["attr"] = { ["to"] = "a@mam.localhost"; }; ["key"] = "z1"; ["when"] = 5; ["with"] = "a@mam.localhost"; });\n`);
  // A file that is not data: reported with its place, the rest still imported.
  put("localhost/vcard/mallory.dat", `return os.execute("touch /tmp/pwned");`);
  // A host Herald does not serve.
  put("other%2eexample/accounts/x.dat", `return { ["password"] = "x"; };`);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("importProsody on older and broken data", () => {
  it("imports the older forms, reports what it cannot take, and keeps going", async () => {
    const storage = new MemoryStorage();
    await storage.open();
    const hosts = [
      { name: "localhost", kind: "VirtualHost" as const },
      { name: "mam.localhost", kind: "VirtualHost" as const, archiveStore: "mam_log" },
    ];
    const summary = await importProsody({ dataPath: dir, storage, hosts });

    const roster = await storage.map("localhost", "roster").getAll("alice");
    expect(roster.get("bob@localhost")).toEqual({ subscription: "to", ask: "subscribe", groups: ["A", "B"] });
    const meta = roster.get("") as { ver: number; pending: Record<string, { n: string; a: Record<string, string> }> };
    expect(meta.ver).toBe(7);
    expect((meta.pending["eve@example.net"] as unknown as unknown[]).slice(0, 2)).toEqual(["presence", { from: "eve@example.net", to: "alice@localhost", type: "subscribe" }]);

    expect(await storage.keyval("localhost", "blocklist").get("alice")).toEqual({ items: [{ jid: "spam@example.net", since: 1700000000000 }] });

    const offline = await storage.archive("localhost", "offline").find("alice");
    expect(offline).toHaveLength(1);
    expect(offline[0]).toMatchObject({ id: "1", when: Date.parse("2020-01-02T03:04:05Z"), with: "bob@localhost/x" });
    expect(JSON.stringify(offline[0].value)).not.toContain("stamp");

    const pep = pepStore({ openMap: (n) => storage.map("localhost", n), openArchive: (n) => storage.archive("localhost", n) }, "alice");
    const node = await pep.loadNode("urn:example:old");
    expect(node?.affiliations).toEqual({ "alice@localhost": "owner" });
    expect(node?.config.accessModel).toBe("presence");
    expect((await pep.getItem("urn:example:old", "i1"))?.published).toBe(1609459200000);

    const archived = await storage.archive("localhost", "archive").find("alice");
    expect(archived.map((i) => [i.id, i.when, i.with])).toEqual([
      ["m1", 1000, "bob@localhost"],
      ["2", Date.parse("2020-01-02T03:04:05Z"), "bob@localhost"],
    ]);
    // mod_mam's form: no stream namespace, an explicit language, no stamp, no forged stanza-id.
    expect(archived[0].value).toEqual(["message", { from: "bob@localhost/x", to: "alice@localhost", "xml:lang": "en" }, ["body", "hi"]]);
    expect((archived[1].value as unknown[])[1]).toEqual({ to: "bob@localhost", "xml:lang": "de" });
    // Again: the same ids are left alone.
    expect((await storage.archive("mam.localhost", "mam_log").find("zed")).map((i) => i.id)).toEqual(["z1"]);
    expect(summary.rows.get("archived messages (MAM)")).toEqual({ imported: 3, unchanged: 0, skipped: 1 });
    const again = await importProsody({ dataPath: dir, storage, hosts });
    expect(again.rows.get("archived messages (MAM)")).toEqual({ imported: 0, unchanged: 3, skipped: 1 });
    expect(await storage.archive("localhost", "archive").count("alice")).toBe(2);
    expect(summary.warnings).toContain("other.example: not a host in Herald's configuration, not imported");
    expect(summary.warnings.some((w) => /^localhost\/vcard\/mallory: .*mallory\.dat:1:\d+: /.test(w))).toBe(true);
    await storage.close();
  });
});
