// The module API: iq handlers that return their reply, errors thrown by handlers, and services
// modules provide to each other (provides / depends / serviceOn / shared).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../helpers/harness.js";
import { RawClient } from "../helpers/xmpp-client.js";
import { LaterAnswer, type ModuleApi, type ModuleDefinition } from "../../src/modules/api.js";
import type { EventSpec } from "../../src/events/bus.js";
import { Element, StanzaError } from "../../src/xml/stanza.js";

const NS = "urn:herald:test:probe";

interface Counter {
  next(): number;
}

declare module "../../src/modules/api.js" {
  interface ServiceMap {
    /** The test's counter service (provided by the "counter" probe module). */
    counter: Counter;
  }
}
declare module "../../src/events/bus.js" {
  interface EventMap {
    "probe-order": EventSpec<{ log: string[] }, never>;
  }
}

let ts: TestServer;
let c: RawClient;
const order: string[] = [];
let sharedMade = 0;
let releaseLater: (() => void) | undefined;

function probe(load: (m: ModuleApi) => void | Promise<void>): () => Promise<{ default: ModuleDefinition }> {
  return async () => ({ default: { load } });
}

beforeAll(async () => {
  ts = await startTestServer({ config: `modules_enabled = { "disco"; "ping" }\nc2s_require_encryption = false\nallow_unencrypted_plain_auth = true\nVirtualHost "localhost"\n` });
  await ts.server.accounts("localhost").create("erin", "pw");
  const registry = {
    counter: probe((m) => {
      let n = 0;
      m.provides("counter", { next: () => ++n });
      // Made once however many hosts load the module.
      m.shared("table", () => ({ made: ++sharedMade }));
    }),
    iqprobe: probe(async (m) => {
      const counter = await m.depends("counter");
      m.iq.get(NS, "element", () => new Element("answer", { xmlns: NS, n: String(counter.next()) }));
      m.iq.set(NS, "empty", () => null);
      m.iq.get(NS, "returned-error", () => new StanzaError("modify", "bad-request", "no such thing"));
      m.iq.get(NS, "thrown-error", async () => {
        throw new StanzaError("cancel", "item-not-found");
      });
      m.iq.get(NS, "crash", () => {
        throw new Error("a bug in a handler");
      });
      m.iq.get(NS, "nobody", () => undefined);
      // A reply that follows later: released by the "release" iq, which the session takes meanwhile.
      m.iq.set(NS, "later", () => new LaterAnswer(new Promise((resolve) => (releaseLater = () => resolve(new Element("late", { xmlns: NS }))))));
      m.iq.set(NS, "release", () => {
        releaseLater?.();
        return null;
      });
      m.iq.set(NS, "later-crash", () => new LaterAnswer(Promise.reject(new Error("a bug behind a later reply"))));
      m.iq.get(NS, "after", (ev) => {
        ev.afterReply(() => {
          order.push("after");
          m.send(new Element("message", { to: ev.stanza.attrs.from!, from: m.host, id: "follow-up" }));
        });
        order.push("handler");
        return null;
      });
      m.iq.get(NS, "slow-after", (ev) => {
        ev.afterReply(async () => {
          await new Promise((r) => setTimeout(r, 300));
          m.send(new Element("message", { to: ev.stanza.attrs.from!, from: m.host, id: "late" }));
        });
        return null;
      });
      // An error with everything RFC 6120 §8.3 lets one carry.
      m.iq.get(NS, "full-error", () => {
        throw new StanzaError("modify", "redirect", { text: "Ask there", uri: "xmpp:elsewhere@localhost", by: "localhost", appError: new Element("moved", { xmlns: NS }) });
      });
      // Message and presence handlers answer with a StanzaError, returned or thrown.
      m.hook("message/bare", (ev) =>
        ev.stanza.attrs.to === "departed@localhost"
          ? new StanzaError("cancel", "gone", { text: "Moved away", uri: "xmpp:arrived@localhost" })
          : undefined,
        10);
      m.hook("presence/bare", (ev) => {
        if (ev.stanza.attrs.to !== "guarded@localhost") return undefined;
        throw new StanzaError("auth", "forbidden", { appError: new Element("guarded", { xmlns: NS }), payload: [new Element("x", { xmlns: NS })] });
      }, 10);
      m.iq.get(NS, "self", (ev) => new Element("self", { xmlns: NS, to: ev.stanza.attrs.to ?? "" }), { to: "self" });
      // A disco node whose handler throws: the requester gets internal-server-error, not silence.
      m.hook("disco-info-node/broken", () => {
        throw new Error("a bug in a node handler");
      });
      // A disco node handler returns the query as an iq handler does.
      m.hook("disco-info-node/probe", (ev) => new Element("query", { xmlns: ev.payload.attrs.xmlns!, node: "probe" }, [new Element("feature", { var: NS })]));
    }),
  };
  Object.assign((ts.server.modules as unknown as { registry: Record<string, unknown> }).registry, registry);
  await ts.server.modules.load(ts.server.hosts.get("localhost")!, "iqprobe");
  c = await RawClient.login(ts.c2sPort, "erin", "pw", { noTls: true, mechanism: "PLAIN" });
});
afterAll(() => {
  c?.close();
  return ts?.stop();
});

const errorOf = (iq: Element) => {
  const e = iq.getChild("error")!;
  return { type: e.attrs.type, condition: e.childElements().find((x) => x.attrs.xmlns === "urn:ietf:params:xml:ns:xmpp-stanzas")!.name };
};

describe("module.iq handlers return their reply", () => {
  it("a returned element is the result's payload (and the service from depends() is live)", async () => {
    const r1 = await c.iq(`<iq type='get' id='a1' to='localhost'><element xmlns='${NS}'/></iq>`);
    expect(r1.attrs.type).toBe("result");
    expect(r1.getChild("answer", NS)!.attrs.n).toBe("1");
    const r2 = await c.iq(`<iq type='get' id='a2' to='localhost'><element xmlns='${NS}'/></iq>`);
    expect(r2.getChild("answer", NS)!.attrs.n).toBe("2");
  });

  it("null is an empty result", async () => {
    const r = await c.iq(`<iq type='set' id='b' to='localhost'><empty xmlns='${NS}'/></iq>`);
    expect(r.attrs.type).toBe("result");
    expect(r.childElements()).toHaveLength(0);
  });

  it("a returned or thrown StanzaError is sent as that error", async () => {
    const r1 = await c.iq(`<iq type='get' id='c1' to='localhost'><returned-error xmlns='${NS}'/></iq>`);
    expect(r1.attrs.type).toBe("error");
    expect(errorOf(r1)).toEqual({ type: "modify", condition: "bad-request" });
    expect(r1.getChild("error")!.getChild("text", "urn:ietf:params:xml:ns:xmpp-stanzas")!.getText()).toBe("no such thing");
    const r2 = await c.iq(`<iq type='get' id='c2' to='localhost'><thrown-error xmlns='${NS}'/></iq>`);
    expect(errorOf(r2)).toEqual({ type: "cancel", condition: "item-not-found" });
  });

  it("a StanzaError carries the condition's URI, text, application condition and `by` (RFC 6120 §8.3.2)", async () => {
    const r = await c.iq(`<iq type='get' id='c3' to='localhost'><full-error xmlns='${NS}'/></iq>`);
    expect(r.getChild("error")!.toString()).toBe(
      "<error type='modify' code='302' by='localhost'><redirect xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>xmpp:elsewhere@localhost</redirect>" +
        `<text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>Ask there</text><moved xmlns='${NS}'/></error>`,
    );
  });

  it("a message handler's returned StanzaError and a presence handler's thrown one are the sender's error replies", async () => {
    c.send("<message to='departed@localhost' id='gm' type='chat'><body>hello?</body></message>");
    const m = await c.next();
    expect(m.toString()).toBe(
      `<message to='${c.jid}' from='departed@localhost' id='gm' type='error'><error type='cancel' code='302'>` +
        "<gone xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>xmpp:arrived@localhost</gone><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>Moved away</text></error></message>",
    );
    c.send("<presence to='guarded@localhost' id='gp'/>");
    const p = await c.next();
    expect(p.toString()).toBe(
      `<presence to='${c.jid}' from='guarded@localhost' id='gp' type='error'><x xmlns='${NS}'/><error type='auth' code='403'>` +
        `<forbidden xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><guarded xmlns='${NS}'/></error></presence>`,
    );
    // An error is never answered with an error (RFC 6120 §8.3.1): the next thing is the ping's result.
    c.send("<message to='departed@localhost' id='ge' type='error'/>");
    c.send("<iq type='get' id='gping' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
    const next = await c.next();
    expect([next.name, next.attrs.id]).toEqual(["iq", "gping"]);
  });

  it("a throw is internal-server-error and the session carries on", async () => {
    const r = await c.iq(`<iq type='get' id='d' to='localhost'><crash xmlns='${NS}'/></iq>`);
    expect(errorOf(r)).toEqual({ type: "wait", condition: "internal-server-error" });
    const ping = await c.iq(`<iq type='get' id='d2' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
    expect(ping.attrs.type).toBe("result");
  });

  it("undefined leaves the iq unanswered by the handler: service-unavailable", async () => {
    const r = await c.iq(`<iq type='get' id='e' to='localhost'><nobody xmlns='${NS}'/></iq>`);
    expect(errorOf(r)).toEqual({ type: "cancel", condition: "service-unavailable" });
  });

  it("a LaterAnswer lets the sender's next stanzas go on; its reply follows when it settles", async () => {
    c.send(`<iq type='set' id='l1' to='localhost'><later xmlns='${NS}'/></iq>`);
    c.send(`<iq type='set' id='l2' to='localhost'><release xmlns='${NS}'/></iq>`);
    const first = await c.next();
    const second = await c.next();
    // The second request was handled while the first one's reply was pending, and released it.
    expect([first.attrs.id, first.attrs.type]).toEqual(["l2", "result"]);
    expect([second.attrs.id, second.attrs.type]).toEqual(["l1", "result"]);
    expect(second.getChild("late", NS)).toBeDefined();
    const crash = await c.iq(`<iq type='set' id='l3' to='localhost'><later-crash xmlns='${NS}'/></iq>`);
    expect(errorOf(crash)).toEqual({ type: "wait", condition: "internal-server-error" });
  });

  it("afterReply runs once the reply is out, in that order", async () => {
    order.length = 0;
    c.send(`<iq type='get' id='f' to='localhost'><after xmlns='${NS}'/></iq>`);
    const first = await c.next();
    const second = await c.next();
    expect([first.name, first.attrs.type, first.attrs.id]).toEqual(["iq", "result", "f"]);
    expect([second.name, second.attrs.id, second.attrs.from]).toEqual(["message", "follow-up", "localhost"]);
    expect(order).toEqual(["handler", "after"]);
  });

  it("an afterReply action that awaits holds the sender's next stanza until it is done", async () => {
    c.send(`<iq type='get' id='f2' to='localhost'><slow-after xmlns='${NS}'/></iq>`);
    c.send(`<iq type='get' id='f3' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
    const got = [await c.next(), await c.next(), await c.next()].map((el) => `${el.name} ${el.attrs.id}`);
    expect(got).toEqual(["iq f2", "message late", "iq f3"]);
  });

  it("`to: self` serves iqs to the sender's own account, not the host", async () => {
    const own = await c.iq(`<iq type='get' id='g1'><self xmlns='${NS}'/></iq>`);
    expect(own.getChild("self", NS)).toBeDefined();
    const host = await c.iq(`<iq type='get' id='g2' to='localhost'><self xmlns='${NS}'/></iq>`);
    expect(errorOf(host).condition).toBe("service-unavailable");
  });

  it("a disco node handler that throws gets the requester internal-server-error", async () => {
    const r = await c.iq(`<iq type='get' id='h' to='localhost'><query xmlns='http://jabber.org/protocol/disco#info' node='broken'/></iq>`);
    expect(errorOf(r)).toEqual({ type: "wait", condition: "internal-server-error" });
  });

  it("a disco node handler's returned query is the result; an unknown node is item-not-found", async () => {
    const r = await c.iq(`<iq type='get' id='i1' to='localhost'><query xmlns='http://jabber.org/protocol/disco#info' node='probe'/></iq>`);
    expect(r.attrs.type).toBe("result");
    const q = r.getChild("query", "http://jabber.org/protocol/disco#info")!;
    expect(q.attrs.node).toBe("probe");
    expect(q.getChild("feature")!.attrs.var).toBe(NS);
    const none = await c.iq(`<iq type='get' id='i2' to='localhost'><query xmlns='http://jabber.org/protocol/disco#info' node='nothing-here'/></iq>`);
    expect(errorOf(none)).toEqual({ type: "cancel", condition: "item-not-found" });
  });
});

describe("provides / depends / serviceOn / shared", () => {
  it("depends() loaded the provider; serviceOn() finds it; unloading the provider withdraws it", async () => {
    const host = ts.server.hosts.get("localhost")!;
    expect(ts.server.modules.isLoaded("localhost", "counter")).toBe(true);
    const api = { provider: ts.server.modules.service("localhost", "counter") as Counter | undefined };
    expect(typeof api.provider?.next()).toBe("number");
    expect(sharedMade).toBe(1);
    await ts.server.modules.unload(host, "counter");
    expect(ts.server.modules.service("localhost", "counter")).toBeUndefined();
    await ts.server.modules.load(host, "counter");
    expect(ts.server.modules.service("localhost", "counter")).toBeDefined();
    // module:shared state outlives a reload: init ran once.
    expect(sharedMade).toBe(1);
  });

  it("a second provider of the same service on a host is refused", async () => {
    const host = ts.server.hosts.get("localhost")!;
    Object.assign((ts.server.modules as unknown as { registry: Record<string, unknown> }).registry, {
      counter2: probe((m) => m.provides("counter", { next: () => 0 })),
    });
    await expect(ts.server.modules.load(host, "counter2")).rejects.toThrow(/already provided/);
    expect(ts.server.modules.isLoaded("localhost", "counter2")).toBe(false);
  });
});
