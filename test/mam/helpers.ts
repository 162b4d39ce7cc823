// Shared by the MAM tests: run an archive query over a real client and collect its results.

import { expect } from "vitest";
import type { Element } from "../../src/xml/stanza.js";
import type { RawClient } from "../helpers/xmpp-client.js";

export const NS_MAM = "urn:xmpp:mam:2";
export const NS_SID = "urn:xmpp:sid:0";
export const NS_RSM = "http://jabber.org/protocol/rsm";

export interface QueryOutcome {
  /** The iq answer (result with <fin/>, or an error). */
  iq: Element;
  /** The result messages, in the order they came. */
  results: Element[];
  fin?: Element;
  /** The forwarded messages' bodies, in order. */
  bodies: string[];
  /** The archive ids of the results, in order. */
  ids: string[];
}

let counter = 0;

/** Send an iq (whose id is taken from the XML) and collect every result message before its answer. */
export async function mamQuery(c: RawClient, iqXml: string, timeoutMs = 10000): Promise<QueryOutcome> {
  const id = /id=['"]([^'"]+)['"]/.exec(iqXml)![1];
  c.send(iqXml);
  const results: Element[] = [];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const el = await c.next(Math.max(1, deadline - Date.now()));
    if (el.name === "iq" && el.attrs.id === id) {
      const fin = el.getChild("fin", NS_MAM);
      return {
        iq: el,
        results,
        fin,
        bodies: results.map((r) => forwardedOf(r)?.getChildText("body") ?? ""),
        ids: results.map((r) => r.getChild("result", NS_MAM)!.attrs.id),
      };
    }
    if (el.name === "message" && el.getChild("result", NS_MAM)) results.push(el);
    // anything else (presence, live messages) is not part of the query
  }
}

/** A query iq: optional form fields and RSM set. */
export function queryIq(opts: {
  id?: string;
  queryid?: string;
  fields?: Record<string, string | string[]>;
  rsm?: { max?: number; after?: string; before?: string; index?: number };
  flip?: boolean;
  to?: string;
  node?: string;
}): string {
  const id = opts.id ?? `q${++counter}`;
  let inner = "";
  if (opts.fields) {
    inner += "<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>urn:xmpp:mam:2</value></field>";
    for (const [k, v] of Object.entries(opts.fields)) {
      const values = Array.isArray(v) ? v : [v];
      inner += `<field var='${k}'>${values.map((x) => `<value>${x}</value>`).join("")}</field>`;
    }
    inner += "</x>";
  }
  if (opts.rsm) {
    inner += `<set xmlns='${NS_RSM}'>`;
    if (opts.rsm.max !== undefined) inner += `<max>${opts.rsm.max}</max>`;
    if (opts.rsm.after !== undefined) inner += `<after>${opts.rsm.after}</after>`;
    if (opts.rsm.before !== undefined) inner += opts.rsm.before === "" ? "<before/>" : `<before>${opts.rsm.before}</before>`;
    if (opts.rsm.index !== undefined) inner += `<index>${opts.rsm.index}</index>`;
    inner += "</set>";
  }
  if (opts.flip) inner += "<flip-page/>";
  const to = opts.to === undefined ? "" : ` to='${opts.to}'`;
  const qid = opts.queryid === undefined ? "" : ` queryid='${opts.queryid}'`;
  const node = opts.node === undefined ? "" : ` node='${opts.node}'`;
  return `<iq type='set' id='${id}'${to}><query xmlns='${NS_MAM}'${qid}${node}>${inner}</query></iq>`;
}

/** The message inside a result's <forwarded/>. */
export function forwardedOf(result: Element): Element | undefined {
  return result.getChild("result", NS_MAM)?.getChild("forwarded", "urn:xmpp:forward:0")?.getChild("message", "jabber:client");
}

/** The RSM <set/> of a <fin/>. */
export function rsmOf(q: QueryOutcome): { first?: string; last?: string; count?: number; complete: boolean } {
  expect(q.iq.attrs.type, q.iq.toString()).toBe("result");
  const set = q.fin!.getChild("set", NS_RSM)!;
  const count = set.getChildText("count");
  return {
    first: set.getChildText("first"),
    last: set.getChildText("last"),
    count: count === undefined ? undefined : Number(count),
    complete: q.fin!.attrs.complete === "true",
  };
}

/** The stanza ids by `by` on a message. */
export function stanzaIds(m: Element, by: string): string[] {
  return m.childElements("stanza-id", NS_SID).filter((s) => s.attrs.by === by).map((s) => s.attrs.id);
}
