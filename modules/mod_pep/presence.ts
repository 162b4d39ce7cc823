// Presence-driven delivery (XEP-0163 §4.3, Prosody's mod_pep): when an available presence with
// Entity Capabilities reaches an account -- from one of its own resources, or from a contact
// subscribed to its presence -- PEP learns which nodes that entity wants ("+notify"), asking the
// entity's disco#info once per unknown caps hash, and sends it the last item of each node it newly
// wants (on_sub_and_presence). Unavailable presence (and an unsubscribe) forgets the entity.
//
// The steps and their order follow Prosody, as the PEP scripts expect:
//  - the caps query (`<iq type='get' id='disco'>`, from the account's bare JID) is sent before the
//    presence goes on (so before the sender's own echo);
//  - an answer is verified: its "+notify" set is cached under the hash computed from the answer
//    (XEP-0115 §5.4), so a false claim never poisons the cache for others;
//  - an own resource's caps also register the account's bare JID with the local contacts whose
//    presence it sees, so contacts' PEP reaches it without each contact asking again: the bare JID
//    wants the union of what the account's available resources want (shrinking as they go
//    offline), and its notifications go to the resources that want the node, not to all of them;
//  - a remote entity's presence reaching several accounts is asked about once per ver for the
//    whole host (SharedCapsQueries), and its answer serves every account that waited for it.

import { isClientSession, type StanzaEvent } from "../../src/router/router.js";
import { jidBare, jidHost, jidNode } from "../../src/util/jid.js";
import type { Element } from "../../src/xml/stanza.js";
import { capsHash, capsKey, capsOf, capsQuery, notifyNodes } from "./caps.js";
import { NO_NODES, type CapsAsk, type CapsWaiter, type InterestTable, type PendingQueries, type SharedCapsQueries } from "./interest.js";
import type { Lru } from "../../src/util/lru.js";
import type { PepServices } from "./services.js";

export interface PepPresenceOptions {
  host: string;
  services: PepServices;
  interest: InterestTable;
  pending: PendingQueries;
  /** Caps queries in flight to remote entities, one per entity and ver for the host, with who waits. */
  shared: SharedCapsQueries;
  /** caps key -> "+notify" nodes (verified answers only). */
  caps: Lru<string, ReadonlySet<string>>;
  /** Send a stanza to a full JID now (to the local session directly when there is one). */
  sendTo(jid: string, stanza: Element): Promise<void>;
  /** Is `jid` subscribed to `username`'s presence (roster subscription from/both)? */
  isContactSubscribed(username: string, jid: string): Promise<boolean>;
  /** Usernames of local contacts (this host) whose presence `username` sees (to/both). */
  localContactsSeen(username: string): Promise<string[]>;
}

export class PepPresence {
  constructor(private readonly opts: PepPresenceOptions) {}

  /**
   * Available presence from `from` (a full JID) reached `username`: its own resource's broadcast
   * (`self`), or a contact's presence.
   */
  async available(username: string, from: string, presence: Element, self: boolean): Promise<void> {
    const { opts } = this;
    if (!self && !(await opts.isContactSubscribed(username, from))) return;
    const claim = capsOf(presence);
    if (!claim) {
      // No (usable) caps: this entity wants nothing (Prosody), and waits for no answer.
      await this.send(opts.shared.leave(username, from));
      if (self) await this.shareWithContacts(username, NO_NODES, from);
      await this.update(from, username, NO_NODES);
      return;
    }
    const known = opts.caps.get(claim.key);
    if (known) {
      await this.send(opts.shared.leave(username, from));
      if (self) await this.shareWithContacts(username, known, from);
      await this.update(from, username, known);
      return;
    }
    if (jidHost(from) === opts.host) {
      // A client of this host: each account's service asks it, as Prosody does and as its
      // scripts expect (pep_publish_subscribe.scs: a contact's service asks while the client's own
      // account's query is out); the client's own answer also reaches its contacts (shareWithContacts).
      await this.send([{ waiter: { username, from, self }, claim }]);
      return;
    }
    // A remote entity: its presence reaches every local contact's service, each of which would ask
    // it across the federation; one query per entity and ver, shared, whose answer serves them all.
    await this.send(opts.shared.join(claim, { username, from, self }));
  }

  /** Send caps queries (Prosody's, from the waiting account's bare JID). */
  private async send(asks: CapsAsk[]): Promise<void> {
    const { opts } = this;
    for (const { waiter, claim } of asks) {
      opts.pending.add(waiter.username, waiter.from, claim);
      await opts.sendTo(waiter.from, capsQuery(`${waiter.username}@${opts.host}`, waiter.from, claim.queryNode));
    }
  }

  /** Unavailable presence from `from`: it wants nothing any more. */
  async unavailable(username: string, from: string): Promise<void> {
    this.opts.pending.forget(username, from);
    await this.send(this.opts.shared.leave(username, from));
    await this.update(from, username, NO_NODES);
  }

  /** The caps query to `from` came back with an error: nobody waits for its answer any more. */
  discoError(username: string, from: string): void {
    this.opts.pending.forget(username, from);
    this.opts.shared.failed(username, from);
  }

  /**
   * One of the account's resources (`fullJid`) went away, `othersLeft` whether others are still
   * available: with the local contacts' services (shareWithContacts), the resource wants nothing any
   * more, and the account's bare JID only what the remaining resources want (nothing when none is
   * left: a later resource without caps must not inherit those wishes).
   */
  async ownResourceGone(username: string, fullJid: string, othersLeft: boolean): Promise<void> {
    const bare = `${username}@${this.opts.host}`;
    const remaining = othersLeft ? this.accountWants(username, fullJid, NO_NODES) : NO_NODES;
    for (const contact of await this.opts.localContactsSeen(username)) {
      await this.update(bare, contact, remaining);
      // Back online, the resource gets the last items again.
      if (othersLeft) this.opts.interest.keepLastItemsSent(contact, fullJid, NO_NODES);
      else this.opts.interest.forgetLastItemsSent(contact, bare);
    }
  }

  /** RFC 6121 §3.3: `bare` unsubscribed from the account's presence; each of its addresses is forgotten. */
  async unsubscribed(username: string, bare: string): Promise<void> {
    for (const jid of this.opts.interest.recipientsOf(username, bare)) await this.update(jid, username, NO_NODES);
  }

  /**
   * A disco#info answer from `from` to `username` (`self`: from one of its own resources).
   * Returns false when it answers no query of ours.
   */
  async discoResult(username: string, from: string, query: Element, self: boolean): Promise<boolean> {
    const { opts } = this;
    const claim = opts.pending.take(username, from, query.attrs.node);
    if (!claim) return false;
    const nodes = notifyNodes(query);
    // XEP-0115 §5.4: cache only under the hash the answer really has (legacy caps cannot be checked).
    if (claim.algorithm !== undefined) opts.caps.set(capsKey(claim.algorithm, capsHash(query, claim.algorithm)), nodes);
    // The entity's answer about itself serves every account that waited for it.
    const served = opts.shared.answered(claim, from);
    if (!served.some((w) => w.username === username)) served.unshift({ username, from, self });
    for (const waiter of served) await this.serve(waiter, nodes);
    return true;
  }

  private async serve(waiter: CapsWaiter, nodes: ReadonlySet<string>): Promise<void> {
    if (waiter.self) await this.shareWithContacts(waiter.username, nodes, waiter.from);
    await this.update(waiter.from, waiter.username, nodes);
  }

  /**
   * An own resource's wishes also go, under the account's bare JID, to the services of the local
   * contacts whose presence the account sees: their presence may never reach the account's service
   * (a one-way subscription), and this spares each of them a query. Prosody does this on a caps
   * answer; Herald also when the hash was already known, so the outcome does not depend on the cache.
   * The bare JID wants the union of what the account's available resources want, not only what the
   * last one wants; a notification for it goes to the resources that want the node (services.ts,
   * lib/pubsub/pep.ts pepRecipients). Last items go to the resource whose caps these are (`via`),
   * for each node it did not want before: the bare JID may have no available resource yet while
   * that resource's initial presence is on its way.
   */
  private async shareWithContacts(username: string, nodes: ReadonlySet<string>, via: string): Promise<void> {
    const { interest } = this.opts;
    const bare = `${username}@${this.opts.host}`;
    const contacts = await this.opts.localContactsSeen(username);
    if (contacts.length === 0) return;
    // The resource's own entry is updated after this (available, serve): it holds what it wanted.
    const before = interest.get(username, via) ?? NO_NODES;
    const all = this.accountWants(username, via, nodes);
    const newlyWanted = [...nodes].filter((n) => !before.has(n));
    for (const contact of contacts) {
      const had = interest.get(contact, bare) ?? NO_NODES;
      await this.update(bare, contact, all, via);
      // Nodes the account wanted already (another resource's) are not new to the bare JID, but
      // they are to this resource.
      const already = newlyWanted.filter((n) => had.has(n));
      if (already.length > 0) await this.sendLastItems(contact, bare, via, already);
    }
  }

  /**
   * What the account's available resources want, with `resource` wanting `nodes` (its own entry in
   * the account's service may not be updated yet): the union of their "+notify" sets.
   */
  private accountWants(username: string, resource: string, nodes: ReadonlySet<string>): ReadonlySet<string> {
    const { interest } = this.opts;
    const bare = `${username}@${this.opts.host}`;
    const all = new Set(nodes);
    for (const jid of interest.recipientsOf(username, bare)) {
      if (jid === resource || jid === bare) continue;
      for (const node of interest.get(username, jid) ?? NO_NODES) all.add(node);
    }
    return all.size === 0 ? NO_NODES : all;
  }

  /**
   * `recipient` now wants `nodes` of `username`'s service: remember it, and send the last item of
   * each node it did not want before (Prosody's update_subscriptions), to `deliverTo`.
   */
  async update(recipient: string, username: string, nodes: ReadonlySet<string>, deliverTo = recipient): Promise<void> {
    const { interest } = this.opts;
    const current = interest.get(username, recipient) ?? NO_NODES;
    // A resource that stops wanting a node may get its last item again when it wants it again.
    if (recipient !== jidBare(recipient)) interest.keepLastItemsSent(username, recipient, nodes);
    if (current.size === 0 && nodes.size === 0) return;
    interest.set(username, recipient, nodes);
    const fresh = [...nodes].filter((n) => !current.has(n));
    if (fresh.length === 0) return;
    await this.sendLastItems(username, recipient, deliverTo, fresh);
  }

  /** The last item of each of `nodes` of `username`'s service, as `recipient` may see it, to `deliverTo`. */
  private async sendLastItems(username: string, recipient: string, deliverTo: string, nodes: readonly string[]): Promise<void> {
    const { interest, services } = this.opts;
    const account = await services.get(username);
    if (!account) return;
    // XEP-0163 §4.3.2: one copy per resource, though it is registered by its full JID and by its
    // account's bare JID (shareWithContacts), in either order.
    const once = deliverTo !== jidBare(deliverTo);
    for (const node of nodes) {
      if (once && interest.lastItemSent(username, deliverTo, node)) continue;
      if (!(await account.service.may(node, recipient, "subscribe")).ok) continue;
      if (once) interest.noteLastItemSent(username, deliverTo, node);
      await account.sendLastItem(node, recipient, deliverTo);
    }
  }
}

/** The account a stanza addressed to `to` (bare) is for, on this host. */
export function usernameOf(to: string | undefined, host: string): string | undefined {
  if (to === undefined) return undefined;
  const bare = jidBare(to);
  return bare.endsWith(`@${host}`) ? jidNode(bare) : undefined;
}

/** Who a presence stanza concerns: the account (its own, without `to`) and whether it is from itself. */
export function presenceTarget(stanza: Element, origin: StanzaEvent["origin"], host: string): { username: string; from: string; self: boolean } | undefined {
  const from = stanza.attrs.from;
  if (from === undefined) return undefined;
  const to = stanza.attrs.to;
  if (to === undefined) {
    return isClientSession(origin) && origin.username ? { username: origin.username, from, self: true } : undefined;
  }
  const username = usernameOf(to, host);
  return username === undefined ? undefined : { username, from, self: jidBare(from) === `${username}@${host}` };
}

/** Whose answer to a caps query (Prosody's id 'disco') this is, and for which account. */
export function capsAnswerTarget(ev: StanzaEvent, host: string): { username: string; from: string; self: boolean } | undefined {
  const from = ev.stanza.attrs.from;
  if (from === undefined) return undefined;
  if (ev.toSelf && isClientSession(ev.origin) && ev.origin.username) return { username: ev.origin.username, from, self: true };
  const username = usernameOf(ev.stanza.attrs.to, host);
  return username === undefined ? undefined : { username, from, self: false };
}

/**
 * The local contacts whose presence the account receives (RFC 6121: subscription "to" or "both"),
 * so whose PEP it may receive: by username, from its roster items.
 */
export function contactsSeen(items: ReadonlyArray<{ jid: string; subscription: string }>, username: string, host: string): string[] {
  const out: string[] = [];
  for (const item of items) {
    if ((item.subscription === "to" || item.subscription === "both") && jidHost(item.jid) === host) {
      const contact = item.jid.slice(0, item.jid.indexOf("@"));
      if (contact !== username) out.push(contact);
    }
  }
  return out;
}
