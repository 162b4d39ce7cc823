// The pager over both kinds of source: a real archive store (memory driver) and items in memory,
// including before-id when several items share a timestamp (archive times are whole seconds).
import { describe, expect, it } from "vitest";
import { MemoryStorage } from "../../../src/storage/memory.js";
import type { ArchiveItem } from "../../../src/storage/types.js";
import { arraySource, queryPage, type ArchiveSource } from "./pager.js";
import { parseQuery, type MamQuery } from "./protocol.js";
import { Element } from "../../../src/xml/stanza.js";

const q = (o: Partial<MamQuery> = {}): MamQuery => ({ flip: false, ...o });

// 10 items a..j; times: a,b,c at 1000; d,e,f at 2000; g..j at 3000; `with`: x for even, y for odd.
const NAMES = "abcdefghij".split("");
const when = (i: number) => (i < 3 ? 1000 : i < 6 ? 2000 : 3000);
const peer = (i: number) => (i % 2 === 0 ? "x@h" : "y@h");

async function storeSource(): Promise<ArchiveSource<unknown>> {
  const store = new MemoryStorage().archive("h", "archive");
  for (let i = 0; i < NAMES.length; i++) await store.append("u", { n: NAMES[i] }, { id: NAMES[i], when: when(i), with: peer(i) });
  return { find: (x) => store.find("u", x), get: (id) => store.get("u", id), count: (x) => store.count("u", x) };
}

function memorySource(): ArchiveSource<unknown> {
  const items: ArchiveItem<unknown>[] = NAMES.map((id, i) => ({ id, when: when(i), with: peer(i), value: { n: id } }));
  return arraySource(items);
}

const ids = (p: Awaited<ReturnType<typeof queryPage>>) => (p.ok ? p.items.map((i) => i.id) : p.error);

describe.each([
  ["archive store", storeSource],
  ["items in memory", async () => memorySource()],
])("queryPage over %s", (_name, make) => {
  it("first page, next page, last page, previous page", async () => {
    const s = await make();
    const p1 = await queryPage(s, q(), { limit: 4, includeTotal: true });
    expect(ids(p1)).toEqual(["a", "b", "c", "d"]);
    expect(p1.ok && p1.info).toEqual({ first: "a", last: "d", count: 10, complete: false });
    expect(ids(await queryPage(s, q({ after: "d" }), { limit: 4, includeTotal: false }))).toEqual(["e", "f", "g", "h"]);
    const end = await queryPage(s, q({ after: "h" }), { limit: 4, includeTotal: false });
    expect(ids(end)).toEqual(["i", "j"]);
    expect(end.ok && end.info.complete).toBe(true);
    expect(ids(await queryPage(s, q({ before: "" }), { limit: 4, includeTotal: false }))).toEqual(["g", "h", "i", "j"]);
    const prev = await queryPage(s, q({ before: "c" }), { limit: 4, includeTotal: false });
    expect(ids(prev)).toEqual(["a", "b"]);
    expect(prev.ok && prev.info.complete).toBe(true);
  });

  it("before-id alone pages forwards from the start, even within one timestamp and with other filters", async () => {
    const s = await make();
    // e shares its time with d and f: only d comes before it.
    expect(ids(await queryPage(s, q({ beforeId: "e" }), { limit: 10, includeTotal: false }))).toEqual(["a", "b", "c", "d"]);
    const small = await queryPage(s, q({ beforeId: "e" }), { limit: 2, includeTotal: false });
    expect(ids(small)).toEqual(["a", "b"]);
    expect(small.ok && small.info.complete).toBe(false);
    // `with` y excludes e itself; f (same time, after e) must still be left out.
    expect(ids(await queryPage(s, q({ beforeId: "e", with: "y@h" }), { limit: 10, includeTotal: false }))).toEqual(["b", "d"]);
    expect(ids(await queryPage(s, q({ beforeId: "e", start: 3000 }), { limit: 10, includeTotal: false }))).toEqual([]);
  });

  it("after-id, ids, index, with, start and end", async () => {
    const s = await make();
    expect(ids(await queryPage(s, q({ afterId: "h" }), { limit: 10, includeTotal: false }))).toEqual(["i", "j"]);
    expect(ids(await queryPage(s, q({ afterId: "b", beforeId: "f" }), { limit: 10, includeTotal: false }))).toEqual(["c", "d", "e"]);
    expect(ids(await queryPage(s, q({ ids: ["j", "a", "zz"] }), { limit: 10, includeTotal: true }))).toEqual(["a", "j"]);
    expect(ids(await queryPage(s, q({ index: 3 }), { limit: 2, includeTotal: false }))).toEqual(["d", "e"]);
    expect(ids(await queryPage(s, q({ with: "x@h", start: 2000, end: 2000 }), { limit: 10, includeTotal: false }))).toEqual(["e"]);
    expect(await queryPage(s, q({ after: "nope" }), { limit: 10, includeTotal: false })).toMatchObject({ ok: false, error: "item-not-found" });
    expect(await queryPage(s, q({ beforeId: "nope" }), { limit: 10, includeTotal: false })).toMatchObject({ ok: false, error: "item-not-found" });
  });
});

describe("parseQuery", () => {
  it("reads the form, RSM and flip-page, and rejects bad values", () => {
    const el = new Element("query", { xmlns: "urn:xmpp:mam:2", queryid: "f" });
    const x = new Element("x", { xmlns: "jabber:x:data", type: "submit" }, [
      new Element("field", { var: "FORM_TYPE", type: "hidden" }, [new Element("value", {}, ["urn:xmpp:mam:2"])]),
      new Element("field", { var: "with" }, [new Element("value", {}, ["Juliet@Capulet.LIT/Balcony"])]),
      new Element("field", { var: "start" }, [new Element("value", {}, ["2010-06-07T00:00:00Z"])]),
      new Element("field", { var: "ids" }, [new Element("value", {}, ["a"]), new Element("value", {}, ["b"])]),
    ]);
    el.children.push(x, new Element("set", { xmlns: "http://jabber.org/protocol/rsm" }, [new Element("max", {}, ["5"]), new Element("before")]), new Element("flip-page"));
    const r = parseQuery(el);
    expect(r).toEqual({
      ok: true,
      query: { queryid: "f", with: "juliet@capulet.lit/Balcony", start: Date.UTC(2010, 5, 7), ids: ["a", "b"], max: 5, before: "", flip: true },
    });
    const bad = new Element("query", { xmlns: "urn:xmpp:mam:2" }, [
      new Element("x", { xmlns: "jabber:x:data", type: "submit" }, [new Element("field", { var: "end" }, [new Element("value", {}, ["tomorrow"])])]),
    ]);
    expect(parseQuery(bad).ok).toBe(false);
    const badMax = new Element("query", { xmlns: "urn:xmpp:mam:2" }, [new Element("set", { xmlns: "http://jabber.org/protocol/rsm" }, [new Element("max", {}, ["-1"])])]);
    expect(parseQuery(badMax).ok).toBe(false);
  });
});
