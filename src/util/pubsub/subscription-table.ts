// A node's subscriptions (subid -> subscription, in creation order) with the indexes the service's
// per-request questions need, kept up to date by every set() and delete(): the subscriptions of one
// exact JID, the JIDs under one bare JID, and the number of pending ones. "Which subscriptions does
// this JID hold?" then costs the subscriptions of that JID, not a scan of the whole node (a node
// with 20,000 subscribers would otherwise make each subscribe, unsubscribe, options request,
// owner change, items request and publish-model check walk all of them).

import { jidBare } from "../jid.js";
import type { Subscription } from "./types.js";

export class SubscriptionTable extends Map<string, Subscription> {
  /** exact JID -> subid -> subscription (creation order) */
  private readonly byJid = new Map<string, Map<string, Subscription>>();
  /** bare JID -> the exact JIDs under it that hold subscriptions */
  private readonly byBare = new Map<string, Set<string>>();
  /** subid -> position in creation order (to merge the lists of several JIDs of one bare JID) */
  private readonly order = new Map<string, number>();
  private counter = 0;
  private pendingCount = 0;

  constructor(subscriptions: Iterable<Subscription> = []) {
    super();
    for (const sub of subscriptions) this.set(sub.subid, sub);
  }

  override set(subid: string, sub: Subscription): this {
    if (sub.subid !== subid) throw new Error(`subscription ${sub.subid} filed under ${subid}`);
    const previous = super.get(subid);
    super.set(subid, sub);
    if (previous) {
      if (previous.state === "pending") this.pendingCount--;
      if (previous.jid === sub.jid) {
        // Same JID: replaced in place, keeping its position among that JID's subscriptions.
        this.byJid.get(sub.jid)?.set(subid, sub);
      } else {
        this.unindex(previous);
        this.index(sub);
      }
    } else {
      this.index(sub);
      this.order.set(subid, this.counter++);
    }
    if (sub.state === "pending") this.pendingCount++;
    return this;
  }

  override delete(subid: string): boolean {
    const previous = super.get(subid);
    if (!previous) return false;
    super.delete(subid);
    this.unindex(previous);
    this.order.delete(subid);
    if (previous.state === "pending") this.pendingCount--;
    return true;
  }

  override clear(): void {
    super.clear();
    this.byJid.clear();
    this.byBare.clear();
    this.order.clear();
    this.pendingCount = 0;
  }

  private index(sub: Subscription): void {
    let subs = this.byJid.get(sub.jid);
    if (!subs) {
      subs = new Map();
      this.byJid.set(sub.jid, subs);
      const bare = jidBare(sub.jid);
      let jids = this.byBare.get(bare);
      if (!jids) {
        jids = new Set();
        this.byBare.set(bare, jids);
      }
      jids.add(sub.jid);
    }
    subs.set(sub.subid, sub);
  }

  private unindex(sub: Subscription): void {
    const subs = this.byJid.get(sub.jid);
    if (!subs) return;
    subs.delete(sub.subid);
    if (subs.size > 0) return;
    this.byJid.delete(sub.jid);
    const bare = jidBare(sub.jid);
    const jids = this.byBare.get(bare);
    if (!jids) return;
    jids.delete(sub.jid);
    if (jids.size === 0) this.byBare.delete(bare);
  }

  /** The subscriptions of exactly this JID, in creation order. */
  ofJid(jid: string): Subscription[] {
    const subs = this.byJid.get(jid);
    return subs ? [...subs.values()] : [];
  }

  /** Does exactly this JID hold a subscription (any state)? */
  hasJid(jid: string): boolean {
    return this.byJid.has(jid);
  }

  /** The JIDs (the bare JID itself and full JIDs) under `bare` that hold subscriptions. */
  jidsOf(bare: string): string[] {
    const jids = this.byBare.get(bare);
    return jids ? [...jids] : [];
  }

  /** The subscriptions of the bare JID and of every full JID under it, in creation order. */
  ofBare(bare: string): Subscription[] {
    const jids = this.byBare.get(bare);
    if (!jids) return [];
    const out: Subscription[] = [];
    for (const jid of jids) for (const sub of this.byJid.get(jid)?.values() ?? []) out.push(sub);
    if (jids.size > 1) out.sort((a, b) => (this.order.get(a.subid) ?? 0) - (this.order.get(b.subid) ?? 0));
    return out;
  }

  /** How many subscriptions are pending (§8.7). */
  get pending(): number {
    return this.pendingCount;
  }
}
