// The notification builder and the broadcaster, without a server: one shared <event/> per event
// (the payload element is the publisher's, held by reference by every recipient's message), only
// the envelope differs; SHIM headers for several subids; include_body; the stanza shapes of
// retract, purge, delete, configuration, subscription, authorization and affiliation events.

import { describe, expect, it } from "vitest";
import { COMPONENT_NODE_DEFAULTS, type PubsubEvent } from "../../src/util/pubsub/index.js";
import { Element } from "../../src/xml/stanza.js";
import { StanzaBroadcaster } from "../../modules/lib/pubsub/broadcaster.js";
import { Notifier, bodyFromPayload } from "../../modules/lib/pubsub/notifications.js";

let n = 0;
const notifier = (exposePublisher?: boolean) => new Notifier({ from: "pubsub.example", exposePublisher, maxItems: 256, nextId: () => `n${++n}` });
const config = { ...COMPONENT_NODE_DEFAULTS };
const atom = new Element("entry", { xmlns: "http://www.w3.org/2005/Atom" }, [
  new Element("title", {}, ["Soliloquy"]),
  new Element("author", {}, [new Element("name", {}, ["Hamlet"])]),
  new Element("summary", {}, ["To be"]),
]);
const base = { node: "n", config, owners: ["owner@example"] };

describe("items notifications", () => {
  const event: PubsubEvent = {
    ...base,
    kind: "items",
    item: { id: "1", publisher: "pub@example", published: 0, payload: atom },
    recipients: [
      { jid: "a@example", subids: ["s1"] },
      { jid: "b@example/r", subids: ["s2", "s3"], includeBody: true },
    ],
  };

  it("one message per recipient around one shared <event/>; the payload is the published element", () => {
    const [a, b] = notifier().messages(event);
    expect(a.attrs).toEqual({ from: "pubsub.example", to: "a@example", id: expect.any(String), type: "headline" });
    expect(b.attrs.to).toBe("b@example/r");
    expect(a.attrs.id).not.toBe(b.attrs.id);
    expect(a.children[0]).toBe(b.children[0]);
    const item = (a.children[0] as Element).getChild("items")!.getChild("item")!;
    expect(item.children[0]).toBe(atom);
    expect(String(a)).toBe(
      "<message from='pubsub.example' to='a@example' id='" + a.attrs.id + "' type='headline'><event xmlns='http://jabber.org/protocol/pubsub#event'><items node='n'><item id='1'>" + String(atom) + "</item></items></event></message>",
    );
  });

  it("SHIM headers name the subids of a JID with several; include_body adds a body", () => {
    const [a, b] = notifier().messages(event);
    expect(a.getChild("headers", "http://jabber.org/protocol/shim")).toBeUndefined();
    expect(b.getChild("headers", "http://jabber.org/protocol/shim")!.childElements("header").map((h) => h.getText())).toEqual(["s2", "s3"]);
    expect(b.getChildText("body")).toBe("Hamlet: To be");
    expect(a.getChildText("body")).toBeUndefined();
  });

  it("publisher: with expose_publisher, or itemreply publisher/owner", () => {
    const attrsOf = (m: Element) => (m.children[0] as Element).getChild("items")!.getChild("item")!.attrs;
    expect(attrsOf(notifier(true).messages(event)[0]).publisher).toBe("pub@example");
    const replyPublisher = { ...event, config: { ...config, itemreply: "publisher" as const } };
    expect(attrsOf(notifier().messages(replyPublisher)[0]).publisher).toBe("pub@example");
    expect(attrsOf(notifier(false).messages(replyPublisher)[0]).publisher).toBeUndefined();
    expect(attrsOf(notifier().messages({ ...event, config: { ...config, itemreply: "owner" } })[0]).publisher).toBe("owner@example");
  });

  it("bodies from payloads: Atom summary or title, else the text", () => {
    expect(bodyFromPayload(new Element("entry", { xmlns: "http://www.w3.org/2005/Atom" }, [new Element("title", {}, ["Only a title"])]))).toBe("Only a title");
    expect(bodyFromPayload(new Element("tune", { xmlns: "urn:x" }, [new Element("artist", {}, ["Yes"]), new Element("title", {}, ["Heart of the Sunrise"])]))).toBe("Yes Heart of the Sunrise");
    expect(bodyFromPayload(new Element("empty", { xmlns: "urn:x" }))).toBeUndefined();
  });
});

describe("other events", () => {
  const one = [{ jid: "a@example", subids: ["s1"] }];
  const only = (e: PubsubEvent) => notifier().messages(e)[0];
  const eventChild = (m: Element) => (m.getChild("event", "http://jabber.org/protocol/pubsub#event")!.firstElement())!;

  it("retract, purge, delete with redirect, configuration", () => {
    expect(String(eventChild(only({ ...base, kind: "retract", ids: ["x", "y"], recipients: one })))).toBe("<items node='n'><retract id='x'/><retract id='y'/></items>");
    expect(String(eventChild(only({ ...base, kind: "purge", recipients: one })))).toBe("<purge node='n'/>");
    expect(String(eventChild(only({ ...base, kind: "delete", redirect: "xmpp:p?;node=m", recipients: one })))).toBe("<delete node='n'><redirect uri='xmpp:p?;node=m'/></delete>");
    expect(String(eventChild(only({ ...base, kind: "configuration", includeConfig: false, recipients: one })))).toBe("<configuration node='n'/>");
    const withForm = eventChild(only({ ...base, kind: "configuration", includeConfig: true, recipients: one }));
    expect(withForm.getChild("x", "jabber:x:data")?.attrs.type).toBe("result");
  });

  it("subscription state (§8.8.4) with expiry; authorization form (§8.6); affiliation (§8.9.4)", () => {
    const sub = only({ ...base, kind: "subscription", audience: "subscriber", jid: "a@example", subid: "s1", state: "none", expire: 0, recipients: one });
    expect(eventChild(sub).attrs).toEqual({ node: "n", jid: "a@example", subscription: "none", subid: "s1", expiry: "1970-01-01T00:00:00.000Z" });
    const auth = only({ ...base, kind: "authorization-request", jid: "a@example/r", subid: "s9", recipients: [{ jid: "owner@example", subids: [] }] });
    expect(auth.attrs.type).toBeUndefined();
    const fields = auth.getChild("x", "jabber:x:data")!.childElements("field").map((f) => [f.attrs.var, f.getChildText("value")]);
    expect(fields).toEqual([
      ["FORM_TYPE", "http://jabber.org/protocol/pubsub#subscribe_authorization"],
      ["pubsub#subid", "s9"],
      ["pubsub#node", "n"],
      ["pubsub#subscriber_jid", "a@example/r"],
      ["pubsub#allow", "0"],
    ]);
    const aff = only({ ...base, kind: "affiliation", jid: "a@example", affiliation: "publisher", recipients: one });
    expect(String(aff.getChild("pubsub", "http://jabber.org/protocol/pubsub"))).toBe(
      "<pubsub xmlns='http://jabber.org/protocol/pubsub'><affiliations node='n'><affiliation jid='a@example' affiliation='publisher'/></affiliations></pubsub>",
    );
  });

  it("the last item carries a delay stamp", () => {
    const m = only({ ...base, kind: "last-item", item: { id: "1", publisher: "p@x", published: 1000, payload: atom }, recipients: one });
    expect(m.getChild("delay", "urn:xmpp:delay")!.attrs).toEqual({ xmlns: "urn:xmpp:delay", stamp: "1970-01-01T00:00:01.000Z", from: "pubsub.example" });
  });
});

describe("StanzaBroadcaster", () => {
  it("posts every message, counts one shared payload per event, and waits for all posts", async () => {
    const posted: Element[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const b = new StanzaBroadcaster(notifier(), { post: async (s) => { posted.push(s); await gate; } });
    const recipients = Array.from({ length: 50 }, (_, i) => ({ jid: `u${i}@example`, subids: [`s${i}`] }));
    let done = false;
    const p = b.notify({ ...base, kind: "items", item: { id: "1", publisher: "p@x", published: 0, payload: atom }, recipients }).then(() => (done = true));
    await new Promise((r) => setTimeout(r, 10));
    expect(posted).toHaveLength(50);
    expect(done).toBe(false);
    release();
    await p;
    expect(b.stats).toEqual({ events: 1, messages: 50, sharedPayloads: 1 });
    expect(new Set(posted.map((m) => m.children[0])).size).toBe(1);
  });

  it("with a gate: posts wait for pending writes, in event order, without holding up notify(); a failed write drops its event", async () => {
    const posted: string[] = [];
    const errors: unknown[] = [];
    const gates: Array<(ok: boolean) => void> = [];
    let pending = true;
    const b = new StanzaBroadcaster(notifier(), {
      post: async (s) => {
        posted.push(/<item [^>]*id='([^']+)'/.exec(s.toString())![1]);
      },
      onError: (e) => errors.push(e),
      gate: () => (pending ? new Promise<boolean>((r) => gates.push(r)) : undefined),
    });
    const event = (id: string) => ({ ...base, kind: "items" as const, item: { id, publisher: "p@x", published: 0 }, recipients: [{ jid: "a@x", subids: [] }] });
    await b.notify(event("1")); // returns although nothing is posted yet
    await b.notify(event("2"));
    expect(posted).toEqual([]);
    expect(b.pending).toBe(true);
    pending = false;
    await b.notify(event("3")); // nothing pending, but it stays behind the waiting ones
    gates[1](true); // the second event's writes are done first
    await new Promise((r) => setTimeout(r, 5));
    expect(posted).toEqual([]);
    gates[0](false); // the first event's item could not be stored: dropped
    await b.idle();
    expect(posted).toEqual(["2", "3"]);
    expect(errors).toHaveLength(1);
    expect(b.pending).toBe(false);
    await b.notify(event("4")); // idle again: posted before notify() returns
    expect(posted).toEqual(["2", "3", "4"]);
  });

  it("affiliation notifications can be turned off; a failed post does not fail the event", async () => {
    const errors: unknown[] = [];
    const b = new StanzaBroadcaster(notifier(), { post: async () => { throw new Error("gone"); }, notifyAffiliations: false, onError: (e) => errors.push(e) });
    await b.notify({ ...base, kind: "affiliation", jid: "a@x", affiliation: "member", recipients: [{ jid: "a@x", subids: [] }] });
    expect(b.stats.messages).toBe(0);
    await b.notify({ ...base, kind: "purge", recipients: [{ jid: "a@x", subids: [] }] });
    expect(errors).toHaveLength(1);
  });
});
