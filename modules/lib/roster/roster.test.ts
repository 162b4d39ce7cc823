import { describe, expect, it } from "vitest";
import { Element } from "../../../src/xml/stanza.js";
import { applyRosterSet, elementFromJson, elementToJson, itemAfter, itemElement, parseRosterSet, seesPresence } from "./roster.js";
import { EMPTY_STATE, stateName, transition, type ContactState, type StateName, type SubscriptionEvent } from "./subscription.js";

function state(name: StateName, approved = false): ContactState {
  const [sub, ...flags] = name.split("+");
  return {
    subscription: sub.toLowerCase() as ContactState["subscription"],
    pendingOut: flags.includes("PendingOut"),
    pendingIn: flags.includes("PendingIn") || flags.includes("In"),
    approved,
  };
}

const ALL: StateName[] = ["None", "None+PendingOut", "None+PendingIn", "None+PendingOut+In", "To", "To+PendingIn", "From", "From+PendingOut", "Both"];

function run(from: StateName, event: SubscriptionEvent, approved = false) {
  const t = transition(state(from, approved), event);
  return { to: stateName(t.next), forward: t.forward, approved: t.next.approved, autoApprove: t.autoApprove, preApproved: t.preApproved };
}

describe("subscription states (RFC 6121 Appendix A)", () => {
  it("names every state and reads it back", () => {
    for (const n of ALL) expect(stateName(state(n))).toBe(n);
  });

  it("walks the usual dance from None to Both on both sides", () => {
    // Romeo asks, Juliet approves, Juliet asks, Romeo approves.
    let romeo = transition(EMPTY_STATE, "out-subscribe").next;
    let juliet = transition(EMPTY_STATE, "in-subscribe").next;
    expect(stateName(romeo)).toBe("None+PendingOut");
    expect(stateName(juliet)).toBe("None+PendingIn");
    juliet = transition(juliet, "out-subscribed").next;
    romeo = transition(romeo, "in-subscribed").next;
    expect([stateName(romeo), stateName(juliet)]).toEqual(["To", "From"]);
    juliet = transition(juliet, "out-subscribe").next;
    romeo = transition(romeo, "in-subscribe").next;
    expect([stateName(romeo), stateName(juliet)]).toEqual(["To+PendingIn", "From+PendingOut"]);
    romeo = transition(romeo, "out-subscribed").next;
    juliet = transition(juliet, "in-subscribed").next;
    expect([stateName(romeo), stateName(juliet)]).toEqual(["Both", "Both"]);
  });

  it("outbound subscribe is always routed and sets Pending Out where there is no subscription yet", () => {
    expect(run("None", "out-subscribe")).toMatchObject({ to: "None+PendingOut", forward: true });
    expect(run("None+PendingIn", "out-subscribe")).toMatchObject({ to: "None+PendingOut+In", forward: true });
    expect(run("From", "out-subscribe")).toMatchObject({ to: "From+PendingOut", forward: true });
    expect(run("Both", "out-subscribe")).toMatchObject({ to: "Both", forward: true });
    expect(run("To", "out-subscribe")).toMatchObject({ to: "To", forward: true });
  });

  it("outbound unsubscribe drops the user's side only", () => {
    expect(run("Both", "out-unsubscribe").to).toBe("From");
    expect(run("To+PendingIn", "out-unsubscribe").to).toBe("None+PendingIn");
    expect(run("None+PendingOut+In", "out-unsubscribe").to).toBe("None+PendingIn");
    expect(run("From", "out-unsubscribe").to).toBe("From");
  });

  it("outbound subscribed approves a pending request, or records a pre-approval (§3.4)", () => {
    expect(run("None+PendingIn", "out-subscribed")).toMatchObject({ to: "From", forward: true, preApproved: false });
    expect(run("To+PendingIn", "out-subscribed")).toMatchObject({ to: "Both", forward: true });
    expect(run("None+PendingOut+In", "out-subscribed")).toMatchObject({ to: "From+PendingOut", forward: true });
    expect(run("None", "out-subscribed")).toMatchObject({ to: "None", forward: false, approved: true, preApproved: true });
    expect(run("None+PendingOut", "out-subscribed")).toMatchObject({ to: "None+PendingOut", forward: false, approved: true });
    expect(run("To", "out-subscribed")).toMatchObject({ to: "To", forward: false, approved: true });
    // Already subscribed: nothing to do, nothing routed.
    expect(run("From", "out-subscribed")).toMatchObject({ to: "From", forward: false, approved: false, preApproved: false });
    expect(run("Both", "out-subscribed")).toMatchObject({ to: "Both", forward: false, approved: false });
  });

  it("outbound unsubscribed denies, cancels, or withdraws a pre-approval without routing it", () => {
    expect(run("None+PendingIn", "out-unsubscribed")).toMatchObject({ to: "None", forward: true });
    expect(run("Both", "out-unsubscribed")).toMatchObject({ to: "To", forward: true });
    expect(run("From+PendingOut", "out-unsubscribed")).toMatchObject({ to: "None+PendingOut", forward: true });
    expect(run("None", "out-unsubscribed", true)).toMatchObject({ to: "None", forward: false, approved: false });
    expect(run("To", "out-unsubscribed")).toMatchObject({ to: "To", forward: false });
  });

  it("inbound subscribe becomes pending, is auto-approved when subscribed or pre-approved, and is not redelivered", () => {
    expect(run("None", "in-subscribe")).toMatchObject({ to: "None+PendingIn", forward: true, autoApprove: false });
    expect(run("To", "in-subscribe")).toMatchObject({ to: "To+PendingIn", forward: true });
    expect(run("None+PendingIn", "in-subscribe")).toMatchObject({ to: "None+PendingIn", forward: false });
    expect(run("From", "in-subscribe")).toMatchObject({ to: "From", forward: false, autoApprove: true });
    expect(run("Both", "in-subscribe")).toMatchObject({ to: "Both", forward: false, autoApprove: true });
    expect(run("None", "in-subscribe", true)).toMatchObject({ to: "From", forward: false, autoApprove: true, approved: false });
    expect(run("None+PendingOut", "in-subscribe", true)).toMatchObject({ to: "From+PendingOut", autoApprove: true, approved: false });
    expect(run("To", "in-subscribe", true)).toMatchObject({ to: "Both", autoApprove: true, approved: false });
  });

  it("inbound subscribed only counts when the user asked", () => {
    expect(run("None+PendingOut", "in-subscribed")).toMatchObject({ to: "To", forward: true });
    expect(run("None+PendingOut+In", "in-subscribed")).toMatchObject({ to: "To+PendingIn", forward: true });
    expect(run("From+PendingOut", "in-subscribed")).toMatchObject({ to: "Both", forward: true });
    for (const s of ["None", "None+PendingIn", "To", "From", "Both"] as StateName[]) {
      expect(run(s, "in-subscribed")).toMatchObject({ to: s, forward: false });
    }
  });

  it("inbound unsubscribe and unsubscribed remove the contact's and the user's side", () => {
    expect(run("Both", "in-unsubscribe")).toMatchObject({ to: "To", forward: true });
    expect(run("From+PendingOut", "in-unsubscribe")).toMatchObject({ to: "None+PendingOut", forward: true });
    expect(run("None+PendingIn", "in-unsubscribe")).toMatchObject({ to: "None", forward: true });
    expect(run("To", "in-unsubscribe")).toMatchObject({ to: "To", forward: false });
    expect(run("Both", "in-unsubscribed")).toMatchObject({ to: "From", forward: true });
    expect(run("To+PendingIn", "in-unsubscribed")).toMatchObject({ to: "None+PendingIn", forward: true });
    expect(run("None+PendingOut", "in-unsubscribed")).toMatchObject({ to: "None", forward: true });
    expect(run("From", "in-unsubscribed")).toMatchObject({ to: "From", forward: false });
  });

  it("never keeps a pre-approval next to a subscription from the contact", () => {
    const events: SubscriptionEvent[] = ["out-subscribe", "out-unsubscribe", "out-subscribed", "out-unsubscribed", "in-subscribe", "in-unsubscribe", "in-subscribed", "in-unsubscribed"];
    for (const s of ALL) {
      for (const e of events) {
        const t = transition(state(s, s === "None" || s === "None+PendingOut" || s === "To"), e);
        if (t.next.approved) {
          expect(t.next.pendingIn).toBe(false);
          expect(["none", "to"]).toContain(t.next.subscription);
        }
      }
    }
  });
});

describe("items", () => {
  it("creates an item only when there is something to show", () => {
    expect(itemAfter(undefined, { ...EMPTY_STATE, pendingIn: true })).toBeUndefined();
    expect(itemAfter(undefined, { ...EMPTY_STATE, pendingOut: true })).toEqual({ subscription: "none", ask: "subscribe", groups: [] });
    expect(itemAfter(undefined, { ...EMPTY_STATE, approved: true })).toEqual({ subscription: "none", approved: true, groups: [] });
    // An existing item stays, keeping its name and groups.
    expect(itemAfter({ subscription: "to", name: "R", groups: ["G"] }, EMPTY_STATE)).toEqual({ subscription: "none", name: "R", groups: ["G"] });
  });

  it("renders items as RFC 6121 §2.1.2 shows them", () => {
    expect(itemElement("a@b", { subscription: "none", ask: "subscribe", groups: [] }).toString()).toBe("<item jid='a@b' subscription='none' ask='subscribe'/>");
    expect(itemElement("a@b", { subscription: "both", name: "A & B", groups: ["X"] }).toString()).toBe(
      "<item jid='a@b' name='A &amp; B' subscription='both'><group>X</group></item>",
    );
    expect(itemElement("a@b", { subscription: "none", approved: true, groups: [] }).toString()).toBe("<item jid='a@b' subscription='none' approved='true'/>");
    expect(itemElement("a@b", null).toString()).toBe("<item jid='a@b' subscription='remove'/>");
  });

  it("a roster set changes name and groups only", () => {
    expect(applyRosterSet({ subscription: "both", ask: "subscribe", name: "old", groups: ["a"] }, undefined, ["b"])).toEqual({ subscription: "both", ask: "subscribe", groups: ["b"] });
    expect(applyRosterSet(undefined, "N", [])).toEqual({ subscription: "none", name: "N", groups: [] });
  });

  it("keeps whole stanzas as JSON and back", () => {
    const p = new Element("presence", { type: "subscribe", from: "a@b" }).tag("preauth", { xmlns: "urn:xmpp:pars:0", token: "t" }).up().textTag("status", "hi <3");
    const back = elementFromJson(JSON.parse(JSON.stringify(elementToJson(p))));
    expect(back.toString()).toBe(p.toString());
  });
});

describe("roster sets (RFC 6121 §2.3.3)", () => {
  const q = (xml: string) => {
    const query = new Element("query", { xmlns: "jabber:iq:roster" });
    // A tiny literal builder for the cases below.
    const m = /^<item jid='([^']*)'(?: name='([^']*)')?(?: subscription='([^']*)')?>(.*)<\/item>$/.exec(xml);
    if (!m) throw new Error(xml);
    const item = new Element("item", { jid: m[1] });
    if (m[2] !== undefined) item.attrs.name = m[2];
    if (m[3] !== undefined) item.attrs.subscription = m[3];
    for (const g of m[4].match(/<group>[^<]*<\/group>/g) ?? []) item.children.push(new Element("group", {}, g.slice(7, -8) ? [g.slice(7, -8)] : []));
    query.children.push(item);
    return query;
  };

  it("accepts an item with a name and groups, preparing the JID", () => {
    expect(parseRosterSet(q("<item jid='Nurse@Example.COM' name='Nurse'><group>Servants</group></item>"), "juliet@example.com")).toEqual({
      ok: true,
      action: "update",
      jid: "nurse@example.com",
      name: "Nurse",
      groups: ["Servants"],
    });
  });

  it("reads subscription='remove' and ignores other subscription values", () => {
    expect(parseRosterSet(q("<item jid='n@e' subscription='remove'></item>"), "j@e")).toEqual({ ok: true, action: "remove", jid: "n@e" });
    expect(parseRosterSet(q("<item jid='n@e' subscription='both'></item>"), "j@e")).toMatchObject({ ok: true, action: "update" });
  });

  it("refuses several items, no item, and other children", () => {
    const two = new Element("query", { xmlns: "jabber:iq:roster" }, [new Element("item", { jid: "a@b" }), new Element("item", { jid: "c@d" })]);
    expect(parseRosterSet(two, "j@e")).toMatchObject({ ok: false, condition: "bad-request" });
    expect(parseRosterSet(new Element("query", { xmlns: "jabber:iq:roster" }), "j@e")).toMatchObject({ ok: false, condition: "bad-request" });
    const other = new Element("query", { xmlns: "jabber:iq:roster" }, [new Element("thing", { jid: "a@b" })]);
    expect(parseRosterSet(other, "j@e")).toMatchObject({ ok: false, condition: "bad-request" });
  });

  it("refuses duplicate groups (bad-request) and empty groups (not-acceptable)", () => {
    expect(parseRosterSet(q("<item jid='n@e'><group>A</group><group>A</group></item>"), "j@e")).toMatchObject({ ok: false, condition: "bad-request" });
    expect(parseRosterSet(q("<item jid='n@e'><group></group></item>"), "j@e")).toMatchObject({ ok: false, condition: "not-acceptable" });
  });

  it("refuses over-long names and groups, too many groups", () => {
    const limits = { maxNameLength: 5, maxGroupLength: 3, maxGroups: 2 };
    expect(parseRosterSet(q("<item jid='n@e' name='toolong'></item>"), "j@e", limits)).toMatchObject({ ok: false, condition: "not-acceptable" });
    expect(parseRosterSet(q("<item jid='n@e'><group>ABCD</group></item>"), "j@e", limits)).toMatchObject({ ok: false, condition: "not-acceptable" });
    expect(parseRosterSet(q("<item jid='n@e'><group>A</group><group>B</group><group>C</group></item>"), "j@e", limits)).toMatchObject({ ok: false, condition: "not-acceptable" });
  });

  it("refuses invalid JIDs, full JIDs and the user's own JID", () => {
    expect(parseRosterSet(q("<item jid='a@b@c'></item>"), "j@e")).toMatchObject({ ok: false, condition: "jid-malformed" });
    expect(parseRosterSet(q("<item jid='a@b/res'></item>"), "j@e")).toMatchObject({ ok: false, condition: "bad-request" });
    expect(parseRosterSet(q("<item jid='J@E'></item>"), "j@e")).toMatchObject({ ok: false, condition: "not-allowed", type: "cancel" });
    const noJid = new Element("query", { xmlns: "jabber:iq:roster" }, [new Element("item")]);
    expect(parseRosterSet(noJid, "j@e")).toMatchObject({ ok: false, condition: "bad-request" });
  });

  it("treats an empty name as no name", () => {
    expect(parseRosterSet(q("<item jid='n@e' name=''></item>"), "j@e")).toEqual({ ok: true, action: "update", jid: "n@e", groups: [] });
  });
});

describe("seesPresence (RosterService.contact answers)", () => {
  it("is true for from and both only", () => {
    expect(seesPresence({ jid: "a@b", subscription: "from", groups: [] })).toBe(true);
    expect(seesPresence({ jid: "a@b", subscription: "both", groups: [] })).toBe(true);
    expect(seesPresence({ jid: "a@b", subscription: "to", groups: [] })).toBe(false);
    expect(seesPresence({ jid: "a@b", subscription: "none", ask: "subscribe", groups: [] })).toBe(false);
  });
  it("is false when there is no item (or no roster service)", () => {
    expect(seesPresence(undefined)).toBe(false);
    expect(seesPresence(null)).toBe(false);
  });
});
