// Herald ↔ Herald federation on loopback: a.test (127.0.0.2) and b.test (127.0.0.3), once with a test
// CA both trust (SASL EXTERNAL authenticates) and once with self-signed certificates (dialback).

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { A, B, login, makePki, startPair, type Pair } from "./helpers.js";
import type { RawClient } from "../helpers/xmpp-client.js";
import type { Element } from "../../src/xml/stanza.js";
import { runShellLine } from "../../src/admin/shell.js";
import { capsHash } from "../../modules/mod_pep/caps.js";
import { xml } from "../pep/helpers.js";
import { errorCondition } from "../helpers/errors.js";

const NS_PUBSUB = "http://jabber.org/protocol/pubsub";
const NS_EVENT = "http://jabber.org/protocol/pubsub#event";
const NS_DISCO_INFO = "http://jabber.org/protocol/disco#info";
const NS_CAPS = "http://jabber.org/protocol/caps";

let n = 0;
const id = () => `f${++n}`;

/** The next stanza matching `pred` (others are skipped). */
const waitFor = (c: RawClient, pred: (el: Element) => boolean, timeoutMs = 10000): Promise<Element> => c.nextWhere(pred, timeoutMs);

/** x and y (on different servers) subscribe to each other's presence, both online. */
async function subscribeBoth(x: RawClient, y: RawClient): Promise<void> {
  const bx = x.jid.split("/")[0];
  const by = y.jid.split("/")[0];
  await x.iq(`<iq type='get' id='${id()}'><query xmlns='jabber:iq:roster'/></iq>`);
  await y.iq(`<iq type='get' id='${id()}'><query xmlns='jabber:iq:roster'/></iq>`);
  x.send("<presence/>");
  y.send("<presence/>");
  x.send(`<presence type='subscribe' to='${by}'/>`);
  await waitFor(y, (e) => e.name === "presence" && e.attrs.type === "subscribe" && e.attrs.from === bx);
  y.send(`<presence type='subscribed' to='${bx}'/>`);
  y.send(`<presence type='subscribe' to='${bx}'/>`);
  await waitFor(x, (e) => e.name === "presence" && e.attrs.type === "subscribe" && e.attrs.from === by);
  x.send(`<presence type='subscribed' to='${by}'/>`);
  // x sees y online once y's server knows x is subscribed.
  await waitFor(x, (e) => e.name === "presence" && e.attrs.from === y.jid && e.attrs.type === undefined);
}

describe.each([
  { mode: "a test CA both trust", ca: true, auth: "external" },
  { mode: "self-signed certificates", ca: false, auth: "dialback" },
])("Herald ↔ Herald with $mode", ({ ca, auth }) => {
  let pair: Pair;
  beforeAll(async () => {
    pair = await startPair({ pki: ca ? makePki([A.domain, B.domain]) : undefined });
  });
  afterAll(async () => {
    await pair?.stop();
  });

  it(`pings and discovers the remote server both ways, authenticated by ${auth}`, async () => {
    const alice = await login(pair.a, "alice", A.domain);
    const bob = await login(pair.b, "bob", B.domain);
    const ping = await alice.iq(`<iq type='get' to='${B.domain}' id='${id()}'><ping xmlns='urn:xmpp:ping'/></iq>`, 15000);
    expect(ping.attrs.type).toBe("result");
    expect(ping.attrs.from).toBe(B.domain);
    const info = await bob.iq(`<iq type='get' to='${A.domain}' id='${id()}'><query xmlns='${NS_DISCO_INFO}'/></iq>`, 15000);
    expect(info.attrs.type).toBe("result");
    const features = info.getChild("query", NS_DISCO_INFO)!.childElements("feature").map((f) => f.attrs.var);
    expect(features).toContain("urn:xmpp:ping");
    // Each side's outgoing stream authenticated as expected.
    const outA = pair.a.server.s2s!.list().find((s) => s.direction === "out" && s.remote === B.domain);
    const inB = pair.b.server.s2s!.list().find((s) => s.direction === "in" && s.remote === A.domain);
    expect(outA).toMatchObject({ ready: true, secure: true, auth });
    expect(inB?.auth).toBe(auth);
    if (ca) {
      // Bidirectional (XEP-0288): b.test answered and asked over a.test's connection, opening none of its own.
      expect(outA?.bidi).toBe(true);
      expect(pair.b.server.s2s!.list().filter((s) => s.direction === "out")).toEqual([]);
    }
    // The admin shell shows them.
    const shown = await runShellLine(pair.a.server, `s2s:show("${B.domain}")`);
    expect(shown.lines.join("\n")).toContain(`${A.domain} -> ${B.domain}\tauthenticated (${auth}) encrypted`);
    alice.close();
    bob.close();
  });

  it("delivers messages both ways, and to offline storage for a remote sender", async () => {
    const alice = await login(pair.a, "alice", A.domain);
    const bob = await login(pair.b, "bob", B.domain);
    alice.send("<presence/>");
    bob.send("<presence/>");
    alice.send(`<message type='chat' to='bob@${B.domain}' id='${id()}'><body>hello from a</body></message>`);
    const m1 = await waitFor(bob, (e) => e.name === "message" && e.getChildText("body") === "hello from a");
    expect(m1.attrs.from).toBe(alice.jid);
    bob.send(`<message type='chat' to='${alice.jid}' id='${id()}'><body>hello from b</body></message>`);
    const m2 = await waitFor(alice, (e) => e.name === "message" && e.getChildText("body") === "hello from b");
    expect(m2.attrs.from).toBe(bob.jid);
    // bea is offline: the message waits for her.
    alice.send(`<message type='chat' to='bea@${B.domain}' id='${id()}'><body>while you were out</body></message>`);
    await new Promise((r) => setTimeout(r, 500));
    const bea = await login(pair.b, "bea", B.domain);
    bea.send("<presence/>");
    const m3 = await waitFor(bea, (e) => e.name === "message" && e.getChildText("body") === "while you were out");
    expect(m3.attrs.from).toBe(alice.jid);
    expect(m3.getChild("delay", "urn:xmpp:delay")).toBeDefined();
    for (const c of [alice, bob, bea]) c.close();
  });

  it("takes a presence subscription with a remote contact to both", async () => {
    const anne = await login(pair.a, "anne", A.domain);
    const bob = await login(pair.b, "bob", B.domain, "sub");
    await anne.iq(`<iq type='get' id='${id()}'><query xmlns='jabber:iq:roster'/></iq>`);
    await bob.iq(`<iq type='get' id='${id()}'><query xmlns='jabber:iq:roster'/></iq>`);
    anne.send("<presence/>");
    bob.send("<presence/>");
    anne.send(`<presence type='subscribe' to='bob@${B.domain}'/>`);
    await waitFor(bob, (e) => e.name === "presence" && e.attrs.type === "subscribe" && e.attrs.from === `anne@${A.domain}`);
    bob.send(`<presence type='subscribed' to='anne@${A.domain}'/>`);
    bob.send(`<presence type='subscribe' to='anne@${A.domain}'/>`);
    await waitFor(anne, (e) => e.name === "presence" && e.attrs.type === "subscribe" && e.attrs.from === `bob@${B.domain}`);
    anne.send(`<presence type='subscribed' to='bob@${B.domain}'/>`);
    // Both rosters end with subscription='both', and bob's presence reaches anne.
    const until = Date.now() + 10000;
    let a = "";
    let b = "";
    while (Date.now() < until && (a !== "both" || b !== "both")) {
      await new Promise((r) => setTimeout(r, 200));
      const ra = await anne.iq(`<iq type='get' id='${id()}'><query xmlns='jabber:iq:roster'/></iq>`);
      const rb = await bob.iq(`<iq type='get' id='${id()}'><query xmlns='jabber:iq:roster'/></iq>`);
      a = ra.getChild("query", "jabber:iq:roster")?.childElements("item").find((i) => i.attrs.jid === `bob@${B.domain}`)?.attrs.subscription ?? "";
      b = rb.getChild("query", "jabber:iq:roster")?.childElements("item").find((i) => i.attrs.jid === `anne@${A.domain}`)?.attrs.subscription ?? "";
    }
    expect([a, b]).toEqual(["both", "both"]);
    bob.send("<presence><status>here</status></presence>");
    const p = await waitFor(anne, (e) => e.name === "presence" && e.attrs.from === bob.jid && e.getChildText("status") === "here");
    expect(p.attrs.type).toBeUndefined();
    // anne comes back: a.test probes bob@b.test, and b.test answers with bob's presence.
    anne.close();
    await anne.waitClosed();
    const anne2 = await login(pair.a, "anne", A.domain, "again");
    anne2.send("<presence/>");
    const probed = await waitFor(anne2, (e) => e.name === "presence" && e.attrs.from === bob.jid);
    expect(probed.getChildText("status")).toBe("here");
    anne2.close();
    bob.close();
  });

  it("sends carbons of a chat from a remote contact to the account's other resources", async () => {
    const alice1 = await login(pair.a, "alice", A.domain, "one");
    const alice2 = await login(pair.a, "alice", A.domain, "two");
    const bob = await login(pair.b, "bob", B.domain, "carbons");
    for (const c of [alice1, alice2]) {
      c.send("<presence/>");
      const r = await c.iq(`<iq type='set' id='${id()}'><enable xmlns='urn:xmpp:carbons:2'/></iq>`);
      expect(r.attrs.type).toBe("result");
    }
    bob.send(`<message type='chat' to='${alice1.jid}' id='${id()}'><body>to one</body></message>`);
    const direct = await waitFor(alice1, (e) => e.name === "message" && e.getChildText("body") === "to one");
    expect(direct.attrs.from).toBe(bob.jid);
    const carbon = await waitFor(alice2, (e) => e.name === "message" && e.getChild("received", "urn:xmpp:carbons:2") !== undefined);
    expect(carbon.toString()).toContain("to one");
    expect(carbon.toString()).toContain(`from='${bob.jid}'`);
    for (const c of [alice1, alice2, bob]) c.close();
  });

  it("subscribes a remote user to a node and notifies it", async () => {
    const admin = await login(pair.a, "admin", A.domain);
    const bob = await login(pair.b, "bob", B.domain, "ps");
    const node = `news-${id()}`;
    const created = await admin.iq(`<iq type='set' to='pubsub.${A.domain}' id='${id()}'><pubsub xmlns='${NS_PUBSUB}'><create node='${node}'/></pubsub></iq>`);
    expect(created.attrs.type).toBe("result");
    const sub = await bob.iq(`<iq type='set' to='pubsub.${A.domain}' id='${id()}'><pubsub xmlns='${NS_PUBSUB}'><subscribe node='${node}' jid='${bob.jid}'/></pubsub></iq>`, 15000);
    expect(sub.attrs.type).toBe("result");
    expect(sub.getChild("pubsub", NS_PUBSUB)?.getChild("subscription")?.attrs.subscription).toBe("subscribed");
    await admin.iq(`<iq type='set' to='pubsub.${A.domain}' id='${id()}'><pubsub xmlns='${NS_PUBSUB}'><publish node='${node}'><item id='i1'><entry xmlns='urn:test'>first</entry></item></publish></pubsub></iq>`);
    const ev = await waitFor(bob, (e) => e.name === "message" && e.getChild("event", NS_EVENT) !== undefined);
    expect(ev.attrs.from).toBe(`pubsub.${A.domain}`);
    expect(ev.getChild("event", NS_EVENT)!.getChild("items")!.attrs.node).toBe(node);
    expect(ev.getChild("event", NS_EVENT)!.getChild("items")!.getChild("item")!.attrs.id).toBe("i1");
    admin.close();
    bob.close();
  });

  it("sends PEP notifications to a remote contact whose client wants them (+notify through caps)", async () => {
    // alice@a and bob@b: subscribed to each other.
    const alice = await login(pair.a, "alice", A.domain, "pep");
    const bob = await login(pair.b, "bob", B.domain, "pep");
    await subscribeBoth(alice, bob);
    // bob's client says (caps) that it wants tune notifications; a.test asks it what the hash means.
    const info = `<identity category='client' type='pc'/><feature var='${NS_DISCO_INFO}'/><feature var='http://jabber.org/protocol/tune+notify'/>`;
    const ver = capsHash(xml(`<query xmlns='${NS_DISCO_INFO}'>${info}</query>`));
    bob.send(`<presence><c xmlns='${NS_CAPS}' hash='sha-1' node='https://herald.example/s2s' ver='${ver}'/></presence>`);
    // bob's client answers every disco#info query (a.test asks once per contact it serves, at its pace).
    const answered: string[] = [];
    const answer = (q: Element) => {
      answered.push(q.attrs.from ?? "");
      bob.send(`<iq type='result' id='${q.attrs.id}' to='${q.attrs.from}'><query xmlns='${NS_DISCO_INFO}' node='${q.getChild("query", NS_DISCO_INFO)!.attrs.node ?? ""}'>${info}</query></iq>`);
    };
    const isQuery = (e: Element) => e.name === "iq" && e.attrs.type === "get" && e.getChild("query", NS_DISCO_INFO) !== undefined;
    answer(await waitFor(bob, isQuery, 15000));
    // Once the server has asked, alice publishes; bob gets the event (answering any later query).
    await new Promise((r) => setTimeout(r, 300));
    await alice.iq(
      `<iq type='set' id='${id()}'><pubsub xmlns='${NS_PUBSUB}'><publish node='http://jabber.org/protocol/tune'><item><tune xmlns='http://jabber.org/protocol/tune'><title>Federated</title></tune></item></publish></pubsub></iq>`,
    );
    const ev = await waitFor(bob, (e) => {
      if (isQuery(e)) answer(e);
      return e.name === "message" && e.getChild("event", NS_EVENT) !== undefined;
    }, 15000);
    expect(answered.some((f) => f.endsWith(A.domain))).toBe(true);
    expect(ev.attrs.from).toBe(`alice@${A.domain}`);
    expect(ev.toString()).toContain("Federated");
    alice.close();
    bob.close();
  });

  it("bounces a stanza to a domain that does not exist with remote-server-not-found, at once", async () => {
    const alice = await login(pair.a, "alice", A.domain, "bounce");
    const started = Date.now();
    const err = await alice.iq(`<iq type='get' to='nowhere.invalid' id='${id()}'><ping xmlns='urn:xmpp:ping'/></iq>`);
    expect(err.attrs.type).toBe("error");
    expect(errorCondition(err)).toBe("remote-server-not-found");
    expect(Date.now() - started).toBeLessThan(5000);
    alice.close();
  });
});
