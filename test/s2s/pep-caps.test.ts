// PEP's caps queries to a remote client (XEP-0115 §6.3, XEP-0163 §4.3.2), Herald ↔ Herald on
// loopback: a client of a.test with an unknown ver sends its presence to three contacts on b.test.
// b.test asks the client's disco#info once, not once per contact whose service receives the
// presence, and the answer serves all three services (each sends the client its last item).

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { A, B, login, startPair, type Pair } from "./helpers.js";
import type { RawClient } from "../helpers/xmpp-client.js";
import { Element } from "../../src/xml/stanza.js";
import { capsHash } from "../../modules/mod_pep/caps.js";

const NS_PUBSUB = "http://jabber.org/protocol/pubsub";
const NS_EVENT = "http://jabber.org/protocol/pubsub#event";
const NS_DISCO_INFO = "http://jabber.org/protocol/disco#info";
const NS_CAPS = "http://jabber.org/protocol/caps";
const TUNE = "http://jabber.org/protocol/tune";
const CAPS_NODE = "https://herald.example/s2s-caps";
const CONTACTS = ["bob", "bea", "cy"];

let n = 0;
const id = () => `pc${++n}`;

const waitFor = (c: RawClient, pred: (el: Element) => boolean, timeoutMs = 10000): Promise<Element> => c.nextWhere(pred, timeoutMs);

/** Everything until `ms` of quiet. */
const drain = (c: RawClient, ms: number): Promise<Element[]> => c.drain(ms);

function discoInfo(features: string[], node?: string): Element {
  const q = new Element("query", node === undefined ? { xmlns: NS_DISCO_INFO } : { xmlns: NS_DISCO_INFO, node });
  q.add(new Element("identity", { category: "client", type: "pc", name: "Herald s2s tests" }));
  for (const f of [NS_DISCO_INFO, NS_CAPS, ...features]) q.add(new Element("feature", { var: f }));
  return q;
}

const isCapsQuery = (el: Element) => el.name === "iq" && el.attrs.type === "get" && el.getChild("query", NS_DISCO_INFO) !== undefined;

/** x and y (on different servers) subscribe to each other's presence. */
async function subscribeBoth(x: RawClient, y: RawClient): Promise<void> {
  const bx = x.jid.split("/")[0];
  const by = y.jid.split("/")[0];
  x.send(`<presence type='subscribe' to='${by}'/>`);
  await waitFor(y, (e) => e.name === "presence" && e.attrs.type === "subscribe" && e.attrs.from === bx);
  y.send(`<presence type='subscribed' to='${bx}'/>`);
  y.send(`<presence type='subscribe' to='${bx}'/>`);
  await waitFor(x, (e) => e.name === "presence" && e.attrs.type === "subscribe" && e.attrs.from === by);
  x.send(`<presence type='subscribed' to='${by}'/>`);
  // y's roster shows x with subscription both once x's "subscribed" has come.
  await waitFor(y, (e) => e.name === "iq" && e.attrs.type === "set" && e.getChild("query", "jabber:iq:roster")?.getChild("item")?.attrs.subscription === "both");
}

describe("PEP caps queries to a remote client", () => {
  let pair: Pair;
  const clients: RawClient[] = [];
  beforeAll(async () => {
    pair = await startPair();
    await pair.b.server.accounts(B.domain).create("cy", "pw");
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await pair?.stop();
  });

  it("one query from the contacts' server for a client whose presence reaches three of its accounts; the answer serves all three", async () => {
    const alice = await login(pair.a, "alice", A.domain, "laptop");
    clients.push(alice);
    await alice.iq(`<iq type='get' id='${id()}'><query xmlns='jabber:iq:roster'/></iq>`);
    // Available (to see subscription requests), without caps for now.
    alice.send("<presence/>");
    const contacts: RawClient[] = [];
    for (const u of CONTACTS) {
      const c = await login(pair.b, u, B.domain, "home");
      clients.push(c);
      contacts.push(c);
      await c.iq(`<iq type='get' id='${id()}'><query xmlns='jabber:iq:roster'/></iq>`);
      const r = await c.iq(
        `<iq type='set' id='${id()}'><pubsub xmlns='${NS_PUBSUB}'><publish node='${TUNE}'><item id='${u}-1'><tune xmlns='${TUNE}'><title>${u}</title></tune></item></publish></pubsub></iq>`,
      );
      expect(r.attrs.type).toBe("result");
      c.send("<presence/>");
      await subscribeBoth(alice, c);
    }
    await drain(alice, 300);
    const features = [`${TUNE}+notify`, "urn:test:s2s-caps"];
    const ver = capsHash(discoInfo(features));
    alice.send(`<presence><c xmlns='${NS_CAPS}' hash='sha-1' node='${CAPS_NODE}' ver='${ver}'/></presence>`);
    const fromB = (el: Element) => isCapsQuery(el) && el.attrs.from?.endsWith(`@${B.domain}`) === true;
    // The first query from b.test, then whatever else comes until quiet (the others, before this change).
    const stanzas = [await waitFor(alice, fromB, 15_000), ...(await drain(alice, 2000))];
    expect(stanzas.filter(fromB)).toHaveLength(1);
    // Answer every query (a.test's own account asks too).
    for (const q of stanzas.filter(isCapsQuery)) {
      alice.send(new Element("iq", { type: "result", id: q.attrs.id!, to: q.attrs.from! }, [discoInfo(features, q.getChild("query", NS_DISCO_INFO)!.attrs.node)]));
    }
    // Each contact's service sends its last item, once.
    const lastItems: string[] = [];
    const isTune = (el: Element) => el.name === "message" && el.getChild("event", NS_EVENT)?.getChild("items")?.attrs.node === TUNE;
    const itemOf = (el: Element) => `${el.attrs.from} ${el.getChild("event", NS_EVENT)!.getChild("items")!.getChild("item")!.attrs.id}`;
    while (lastItems.length < CONTACTS.length) lastItems.push(itemOf(await waitFor(alice, isTune, 15_000)));
    for (const el of await drain(alice, 1000)) if (isTune(el)) lastItems.push(itemOf(el));
    expect(lastItems.sort()).toEqual(CONTACTS.map((u) => `${u}@${B.domain} ${u}-1`).sort());
  }, 60_000);
});
