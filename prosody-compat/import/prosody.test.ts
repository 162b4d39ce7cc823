// The importer on data in the forms older Prosody versions wrote (which Debian's 0.12 no longer
// writes, so test/cli/import-prosody.test.ts cannot produce them), and on broken files.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MemoryStorage } from "../../src/storage/memory.js";
import { pepStore } from "../../modules/mod_pep/store.js";
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
  // A MAM archive: counted, not imported.
  put("localhost/archive/alice.list", `item({ ["name"] = "message"; ["attr"] = {}; ["key"] = "m1"; ["when"] = 1; ["with"] = "bob@localhost"; });\nitem({ ["name"] = "message"; ["attr"] = {}; ["key"] = "m2"; ["when"] = 2; ["with"] = "bob@localhost"; });\n`);
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
    const summary = await importProsody({ dataPath: dir, storage, hosts: [{ name: "localhost", kind: "VirtualHost" }] });

    const roster = await storage.map("localhost", "roster").getAll("alice");
    expect(roster.get("bob@localhost")).toEqual({ subscription: "to", ask: "subscribe", groups: ["A", "B"] });
    const meta = roster.get("") as { ver: number; pending: Record<string, { n: string; a: Record<string, string> }> };
    expect(meta.ver).toBe(7);
    expect(meta.pending["eve@example.net"]).toMatchObject({ n: "presence", a: { from: "eve@example.net", to: "alice@localhost", type: "subscribe" } });

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

    expect(summary.rows.get("message archive (MAM)")).toEqual({ imported: 0, unchanged: 0, skipped: 2 });
    expect(summary.warnings).toContain("other.example: not a host in Herald's configuration, not imported");
    expect(summary.warnings.some((w) => /^localhost\/vcard\/mallory: .*mallory\.dat:1:\d+: /.test(w))).toBe(true);
    expect(summary.warnings.some((w) => w.includes("archived message(s) not imported"))).toBe(true);
    await storage.close();
  });
});
