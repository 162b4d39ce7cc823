// Federation cases between two servers, each way: ping and disco of the remote server, messages and
// offline delivery, a presence subscription to `both`, a remote pubsub subscription with its
// notification, PEP notifications to a remote contact (XEP-0163 via XEP-0115 caps and +notify).
// Written against any two servers ("sides"), so the same cases run Herald ↔ Prosody and Herald ↔
// ejabberd; every client is a RawClient over plain c2s on loopback.

import { createHash, randomBytes } from "node:crypto";
import { expect, it } from "vitest";
import { RawClient } from "../helpers/xmpp-client.js";
import { Element } from "../../src/xml/stanza.js";

export interface Side {
  /** "Herald", "Prosody", "ejabberd": for test names and messages. */
  name: string;
  domain: string;
  /** Its pubsub service (XEP-0060). */
  pubsub: string;
  c2sPort: number;
  /** Its log, for failure messages. */
  log(): string;
}

/** Accounts every side has (password "pw"); each case uses its own (24 per label), the last is for other tests. */
export const USERS = Array.from({ length: 25 }, (_, i) => `u${i + 1}`);
export const PASSWORD = "pw";

const NS_PUBSUB = "http://jabber.org/protocol/pubsub";
const NS_EVENT = "http://jabber.org/protocol/pubsub#event";
const NS_DISCO_INFO = "http://jabber.org/protocol/disco#info";
const NS_CAPS = "http://jabber.org/protocol/caps";
const NS_ROSTER = "jabber:iq:roster";
const NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas";
const CAPS_NODE = "https://herald.example/interop";
/** Stanzas between servers take at most this long here (the first one opens the connection). */
const WAIT = 20000;
/** A case: both directions, each with a few waits for the other server. */
const CASE_TIMEOUT = 120_000;

/** A logged-in client that answers disco#info (with its caps features) while waiting for something. */
export class Contact {
  features = [NS_DISCO_INFO, NS_CAPS];
  discoAsked: Element[] = [];

  constructor(
    readonly c: RawClient,
    readonly side: Side,
  ) {}

  get jid(): string {
    return this.c.jid;
  }
  get bare(): string {
    return this.c.jid.split("/")[0];
  }

  static async online(side: Side, user: string, presence = true): Promise<Contact> {
    const c = await RawClient.login(side.c2sPort, user, PASSWORD, { noTls: true, mechanism: "SCRAM-SHA-1", domain: side.domain, resource: "interop" });
    const contact = new Contact(c, side);
    if (presence) c.send("<presence/>");
    return contact;
  }

  /** XEP-0115 §5.1 verification string of our identity and features. */
  capsVer(): string {
    const s = `client/pc//interop<${[...this.features].sort().map((f) => `${f}<`).join("")}`;
    return createHash("sha1").update(s).digest("base64");
  }

  sendPresenceWithCaps(): void {
    this.c.send(`<presence><c xmlns='${NS_CAPS}' hash='sha-1' node='${CAPS_NODE}' ver='${this.capsVer()}'/></presence>`);
  }

  /** Answer what is asked of us until nothing more comes for `quietMs` (other stanzas are kept for later). */
  async settle(quietMs: number): Promise<void> {
    const kept: Element[] = [];
    for (;;) {
      let el: Element;
      try {
        el = await this.c.next(quietMs);
      } catch {
        break;
      }
      if (el.name === "iq" && (el.attrs.type === "get" || el.attrs.type === "set")) this.answer(el);
      else kept.push(el);
    }
    this.c.unread(kept);
  }

  /** The next stanza matching `pred`; iqs asked of us meanwhile are answered (disco#info) or refused. */
  async waitFor(pred: (el: Element) => boolean, what: string, timeoutMs = WAIT): Promise<Element> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const left = deadline - Date.now();
      let el: Element;
      try {
        if (left <= 0) throw new Error(`nothing received within ${timeoutMs} ms`);
        el = await this.c.next(left);
      } catch (err) {
        throw new Error(`${this.jid} waiting for ${what}: ${(err as Error).message}`);
      }
      if (pred(el)) return el;
      this.answer(el);
    }
  }

  /** Answer an iq asked of us (disco#info with our identity and features, ping, roster pushes; else an error). */
  answerIq(el: Element): void {
    this.answer(el);
  }

  private answer(el: Element): void {
    if (el.name !== "iq" || (el.attrs.type !== "get" && el.attrs.type !== "set")) return;
    const q = el.firstElement();
    const r = new Element("iq", { type: "result", id: el.attrs.id ?? "", to: el.attrs.from ?? "" });
    if (el.attrs.type === "get" && q?.name === "query" && q.attrs.xmlns === NS_DISCO_INFO) {
      this.discoAsked.push(el);
      const reply = r.tag("query", q.attrs.node ? { xmlns: NS_DISCO_INFO, node: q.attrs.node } : { xmlns: NS_DISCO_INFO });
      reply.tag("identity", { category: "client", type: "pc", name: "interop" }).up();
      for (const f of this.features) reply.tag("feature", { var: f }).up();
      this.c.send(r);
      return;
    }
    if (el.attrs.type === "get" && q?.name === "ping") {
      this.c.send(r);
      return;
    }
    if (el.attrs.type === "set" && q?.name === "query" && q.attrs.xmlns === NS_ROSTER) {
      this.c.send(r); // roster push (RFC 6121 §2.1.6)
      return;
    }
    const e = new Element("iq", { type: "error", id: el.attrs.id ?? "", to: el.attrs.from ?? "" });
    e.tag("error", { type: "cancel" }).tag("service-unavailable", { xmlns: NS_STANZAS });
    this.c.send(e);
  }

  /** Send an iq and wait for its reply (answering what is asked of us meanwhile). */
  async iq(xml: string, what: string): Promise<Element> {
    const id = /id=['"]([^'"]+)['"]/.exec(xml)?.[1];
    this.c.send(xml);
    return this.waitFor((el) => el.name === "iq" && el.attrs.id === id && (el.attrs.type === "result" || el.attrs.type === "error"), what);
  }

  async roster(): Promise<Map<string, string>> {
    const id = `roster-${randomBytes(3).toString("hex")}`;
    const r = await this.iq(`<iq type='get' id='${id}'><query xmlns='${NS_ROSTER}'/></iq>`, "the roster");
    const items = new Map<string, string>();
    for (const item of r.getChild("query", NS_ROSTER)?.childElements() ?? []) items.set(item.attrs.jid!, item.attrs.subscription ?? "none");
    return items;
  }

  close(): void {
    this.c.close();
  }
}

function isFrom(el: Element, from: string, name: string): boolean {
  return el.name === name && (el.attrs.from === from || el.attrs.from?.split("/")[0] === from);
}

function describeError(el: Element): string {
  return el.attrs.type === "error" ? ` (error: ${el.getChild("error")?.firstElement()?.name ?? "?"})` : "";
}

/** The two servers' logs, appended to a failure so it can be understood. */
function logs(a: Side, b: Side): string {
  return `\n--- ${a.name} log (end) ---\n${a.log().slice(-3000)}\n--- ${b.name} log (end) ---\n${b.log().slice(-3000)}`;
}

async function withLogs<T>(a: Side, b: Side, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    (err as Error).message += logs(a, b);
    throw err;
  }
}

/** Make x and y contacts with a subscription to `both`, x asking first; resolves once both rosters say so. */
export async function subscribeBoth(x: Contact, y: Contact): Promise<void> {
  x.c.send(`<presence type='subscribe' to='${y.bare}'/>`);
  await y.waitFor((el) => isFrom(el, x.bare, "presence") && el.attrs.type === "subscribe", `a subscription request from ${x.bare}`);
  y.c.send(`<presence type='subscribed' to='${x.bare}'/>`);
  y.c.send(`<presence type='subscribe' to='${x.bare}'/>`);
  await x.waitFor((el) => isFrom(el, y.bare, "presence") && el.attrs.type === "subscribe", `a subscription request from ${y.bare}`);
  x.c.send(`<presence type='subscribed' to='${y.bare}'/>`);
  for (let i = 0; ; i++) {
    const [rx, ry] = [await x.roster(), await y.roster()];
    if (rx.get(y.bare) === "both" && ry.get(x.bare) === "both") return;
    if (i >= 40) throw new Error(`subscriptions did not reach both: ${x.bare} has ${y.bare} as '${rx.get(y.bare)}', ${y.bare} has ${x.bare} as '${ry.get(x.bare)}'`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * The cases, each run both ways between `sides().local` and `sides().remote` (Herald and the foreign
 * server). `label` names the authentication in use ("SASL EXTERNAL", "dialback").
 */
export function federationCases(label: string, sides: () => { local: Side; remote: Side }): void {
  const both = (): Array<[Side, Side]> => {
    const { local, remote } = sides();
    return [
      [local, remote],
      [remote, local],
    ];
  };
  let userIndex = 0;
  /** Two accounts no other case of this label uses. */
  const users = () => {
    if (userIndex + 2 > USERS.length) throw new Error("the federation cases need more test accounts than USERS has");
    return [USERS[userIndex++], USERS[userIndex++]];
  };

  it(`${label}: ping and disco#info of the remote server, both ways`, async () => {
    for (const [x, y] of both()) {
      const [u] = users();
      const a = await Contact.online(x, u);
      await withLogs(x, y, async () => {
        const pong = await a.iq(`<iq type='get' id='ping-${u}' to='${y.domain}'><ping xmlns='urn:xmpp:ping'/></iq>`, `a pong from ${y.domain}`);
        expect(pong.attrs.type, `${x.name} → ${y.name} ping${describeError(pong)}`).toBe("result");
        expect(pong.attrs.from).toBe(y.domain);
        const info = await a.iq(`<iq type='get' id='info-${u}' to='${y.domain}'><query xmlns='${NS_DISCO_INFO}'/></iq>`, `disco#info of ${y.domain}`);
        expect(info.attrs.type, `${x.name} → ${y.name} disco#info${describeError(info)}`).toBe("result");
        const q = info.getChild("query", NS_DISCO_INFO)!;
        const ids = q.childElements().filter((e) => e.name === "identity").map((e) => `${e.attrs.category}/${e.attrs.type}`);
        expect(ids).toContain("server/im");
        expect(q.childElements().filter((e) => e.name === "feature").map((e) => e.attrs.var)).toContain("urn:xmpp:ping");
      });
      a.close();
    }
  }, CASE_TIMEOUT);

  it(`${label}: messages to an online contact and to an offline one (delivered at login), both ways`, async () => {
    for (const [x, y] of both()) {
      const [ua, ub] = users();
      const [, uc] = users();
      const a = await Contact.online(x, ua);
      const b = await Contact.online(y, ub);
      await withLogs(x, y, async () => {
        a.c.send(`<message type='chat' to='${b.bare}' id='m-${ua}'><body>hello ${y.name} from ${x.name}</body></message>`);
        const m = await b.waitFor((el) => isFrom(el, a.bare, "message"), `a message from ${a.bare}`);
        expect(m.attrs.type, String(m)).toBe("chat");
        expect(m.attrs.from).toBe(a.jid);
        expect(m.getChildText("body")).toBe(`hello ${y.name} from ${x.name}`);
        b.c.send(`<message type='chat' to='${a.jid}' id='r-${ub}'><body>reply</body></message>`);
        const r = await a.waitFor((el) => isFrom(el, b.bare, "message"), `a reply from ${b.bare}`);
        expect(r.getChildText("body")).toBe("reply");

        // To an account of the other server with no session: stored there, delivered at login.
        const offline = `${uc}@${y.domain}`;
        a.c.send(`<message type='chat' to='${offline}' id='o-${ua}'><body>while you were away</body></message>`);
        // Wait until the other server has it: its pong comes after the message on the same stream.
        await a.iq(`<iq type='get' id='sync-${ua}' to='${y.domain}'><ping xmlns='urn:xmpp:ping'/></iq>`, "a pong after the message");
        const c = await Contact.online(y, uc);
        const stored = await c.waitFor((el) => isFrom(el, a.bare, "message") && el.getChildText("body") === "while you were away", `the offline message from ${a.bare}`);
        expect(stored.getChild("delay", "urn:xmpp:delay"), "offline delivery is stamped with its delay").toBeDefined();
        c.close();
      });
      a.close();
      b.close();
    }
  }, CASE_TIMEOUT);

  it(`${label}: a presence subscription reaches 'both' on both rosters, both ways`, async () => {
    for (const [x, y] of both()) {
      const [ua, ub] = users();
      const a = await Contact.online(x, ua);
      const b = await Contact.online(y, ub);
      await withLogs(x, y, async () => {
        await a.roster();
        await b.roster();
        await subscribeBoth(a, b);
        // Available presence now flows both ways.
        a.c.send("<presence><status>here</status></presence>");
        const p = await b.waitFor((el) => isFrom(el, a.bare, "presence") && el.getChildText("status") === "here", `presence from ${a.bare}`);
        expect(p.attrs.from).toBe(a.jid);
      });
      a.close();
      b.close();
    }
  }, CASE_TIMEOUT);

  it(`${label}: a remote user subscribes to a pubsub node and gets its notification, both ways`, async () => {
    for (const [x, y] of both()) {
      const [owner, subscriber] = users();
      const o = await Contact.online(x, owner);
      const s = await Contact.online(y, subscriber);
      const node = `interop-${randomBytes(4).toString("hex")}`;
      await withLogs(x, y, async () => {
        const created = await o.iq(`<iq type='set' id='create-${node}' to='${x.pubsub}'><pubsub xmlns='${NS_PUBSUB}'><create node='${node}'/></pubsub></iq>`, "the node's creation");
        expect(created.attrs.type, `create on ${x.pubsub}${describeError(created)}`).toBe("result");
        const sub = await s.iq(`<iq type='set' id='sub-${node}' to='${x.pubsub}'><pubsub xmlns='${NS_PUBSUB}'><subscribe node='${node}' jid='${s.bare}'/></pubsub></iq>`, "the subscription");
        expect(sub.attrs.type, `${y.name} user subscribing on ${x.pubsub}${describeError(sub)}`).toBe("result");
        const state = sub.getChild("pubsub", NS_PUBSUB)?.getChild("subscription")?.attrs.subscription;
        expect(state ?? "subscribed").toBe("subscribed");
        const pub = await o.iq(
          `<iq type='set' id='pub-${node}' to='${x.pubsub}'><pubsub xmlns='${NS_PUBSUB}'><publish node='${node}'><item id='first'><entry xmlns='urn:example:interop'>news from ${x.name}</entry></item></publish></pubsub></iq>`,
          "the publish",
        );
        expect(pub.attrs.type, `publish${describeError(pub)}`).toBe("result");
        const ev = await s.waitFor((el) => el.name === "message" && el.attrs.from === x.pubsub && el.getChild("event", NS_EVENT) !== undefined, `the notification from ${x.pubsub}`);
        const items = ev.getChild("event", NS_EVENT)!.getChild("items")!;
        expect(items.attrs.node).toBe(node);
        expect(items.getChild("item")!.attrs.id).toBe("first");
        expect(items.getChild("item")!.getChild("entry", "urn:example:interop")!.getText()).toBe(`news from ${x.name}`);
      });
      o.close();
      s.close();
    }
  }, CASE_TIMEOUT);

  it(`${label}: PEP notifications reach a remote contact that asks for them with +notify, both ways`, async () => {
    for (const [x, y] of both()) {
      const [up, uc] = users();
      const p = await Contact.online(x, up);
      const c = await Contact.online(y, uc);
      const node = `urn:example:interop:${randomBytes(3).toString("hex")}`;
      await withLogs(x, y, async () => {
        await p.roster();
        await c.roster();
        await subscribeBoth(p, c);
        // The contact's client says (XEP-0115) it wants notifications of the node; the publisher's
        // server asks which features the caps stand for.
        c.features = [NS_DISCO_INFO, NS_CAPS, `${node}+notify`];
        c.sendPresenceWithCaps();
        const asked = await c.waitFor(
          (el) => el.name === "iq" && el.attrs.type === "get" && el.getChild("query", NS_DISCO_INFO)?.attrs.node === `${CAPS_NODE}#${c.capsVer()}`,
          `${x.name} asking what the caps of ${c.jid} mean`,
        );
        c.answerIq(asked);
        // Servers may ask more than once (the server, then the publisher's session): answer them all.
        await c.settle(2000);
        // The answer travels ahead of this ping on the same server-to-server stream.
        await c.iq(`<iq type='get' id='pep-sync-${uc}' to='${x.domain}'><ping xmlns='urn:xmpp:ping'/></iq>`, "a pong after the caps answer");
        const pub = await p.iq(
          `<iq type='set' id='pep-${up}'><pubsub xmlns='${NS_PUBSUB}'><publish node='${node}'><item id='current'><entry xmlns='urn:example:interop'>mood of ${x.name}</entry></item></publish></pubsub></iq>`,
          "the PEP publish",
        );
        expect(pub.attrs.type, `PEP publish on ${x.name}${describeError(pub)}`).toBe("result");
        const ev = await c.waitFor(
          (el) => el.name === "message" && el.attrs.from === p.bare && el.getChild("event", NS_EVENT)?.getChild("items")?.attrs.node === node,
          `the PEP notification from ${p.bare}`,
        );
        expect(ev.getChild("event", NS_EVENT)!.getChild("items")!.getChild("item")!.getChild("entry", "urn:example:interop")!.getText()).toBe(`mood of ${x.name}`);
      });
      p.close();
      c.close();
    }
  }, CASE_TIMEOUT);
}
