// The presence subscription state machine of RFC 6121 Appendix A, as a table: for each of the
// eight subscription stanzas and each state, the next state and whether the stanza goes on
// (routed to the contact, or delivered to the user). Pre-approval (§3.4) is a flag beside it.
// Pure: mod_roster/manager.ts applies it to stored rosters, mod_presence decides what to send.

import type { Subscription } from "./roster.js";

// A contact's state is the subscription plus the pending flags: "Pending Out" is ask="subscribe",
// "Pending In" is a stored request.

export type StateName =
  | "None"
  | "None+PendingOut"
  | "None+PendingIn"
  | "None+PendingOut+In"
  | "To"
  | "To+PendingIn"
  | "From"
  | "From+PendingOut"
  | "Both";

export interface ContactState {
  subscription: Subscription;
  pendingOut: boolean;
  pendingIn: boolean;
  /** Pre-approval (RFC 6121 §3.4); only meaningful in None, None+PendingOut and To. */
  approved: boolean;
}

export const EMPTY_STATE: ContactState = { subscription: "none", pendingOut: false, pendingIn: false, approved: false };

export function stateName(s: ContactState): StateName {
  switch (s.subscription) {
    case "none":
      if (s.pendingOut && s.pendingIn) return "None+PendingOut+In";
      if (s.pendingOut) return "None+PendingOut";
      if (s.pendingIn) return "None+PendingIn";
      return "None";
    case "to":
      return s.pendingIn ? "To+PendingIn" : "To";
    case "from":
      return s.pendingOut ? "From+PendingOut" : "From";
    case "both":
      return "Both";
  }
}

function fromName(name: StateName, approved: boolean): ContactState {
  const [sub, ...flags] = name.split("+");
  const subscription = sub.toLowerCase() as Subscription;
  const pendingOut = flags.includes("PendingOut");
  const pendingIn = flags.includes("PendingIn") || flags.includes("In");
  // A pre-approval only lasts while the contact has no subscription to the user (§3.4).
  const keepApproval = approved && (subscription === "none" || subscription === "to") && !pendingIn;
  return { subscription, pendingOut, pendingIn, approved: keepApproval };
}

/** The eight subscription stanzas, as seen by the server of the user whose roster changes. */
export type SubscriptionEvent =
  | "out-subscribe" // the user asks for the contact's presence (§3.1.2)
  | "out-unsubscribe" // the user no longer wants the contact's presence (§3.3.2)
  | "out-subscribed" // the user approves (or pre-approves) the contact's request (§3.1.5, §3.4)
  | "out-unsubscribed" // the user denies or cancels the contact's subscription (§3.2.2)
  | "in-subscribe" // the contact asks for the user's presence (§3.1.3)
  | "in-unsubscribe" // the contact no longer wants the user's presence (§3.3.3)
  | "in-subscribed" // the contact approved the user's request (§3.1.6)
  | "in-unsubscribed"; // the contact denied or cancelled the user's subscription (§3.2.3)

type Row = Record<StateName, [next: StateName, forward: boolean]>;

// Outbound: `forward` = route the stanza to the contact. Inbound: `forward` = deliver to the user.
const TABLE: Record<SubscriptionEvent, Row> = {
  // A.2.1 Subscribe (outbound)
  "out-subscribe": {
    None: ["None+PendingOut", true],
    "None+PendingOut": ["None+PendingOut", true],
    "None+PendingIn": ["None+PendingOut+In", true],
    "None+PendingOut+In": ["None+PendingOut+In", true],
    To: ["To", true],
    "To+PendingIn": ["To+PendingIn", true],
    From: ["From+PendingOut", true],
    "From+PendingOut": ["From+PendingOut", true],
    Both: ["Both", true],
  },
  // A.2.2 Unsubscribe (outbound)
  "out-unsubscribe": {
    None: ["None", true],
    "None+PendingOut": ["None", true],
    "None+PendingIn": ["None+PendingIn", true],
    "None+PendingOut+In": ["None+PendingIn", true],
    To: ["None", true],
    "To+PendingIn": ["None+PendingIn", true],
    From: ["From", true],
    "From+PendingOut": ["From", true],
    Both: ["From", true],
  },
  // A.2.3 Subscribed (outbound); no pending request: a pre-approval (handled in transition()).
  "out-subscribed": {
    None: ["None", false],
    "None+PendingOut": ["None+PendingOut", false],
    "None+PendingIn": ["From", true],
    "None+PendingOut+In": ["From+PendingOut", true],
    To: ["To", false],
    "To+PendingIn": ["Both", true],
    From: ["From", false],
    "From+PendingOut": ["From+PendingOut", false],
    Both: ["Both", false],
  },
  // A.2.4 Unsubscribed (outbound)
  "out-unsubscribed": {
    None: ["None", false],
    "None+PendingOut": ["None+PendingOut", false],
    "None+PendingIn": ["None", true],
    "None+PendingOut+In": ["None+PendingOut", true],
    To: ["To", false],
    "To+PendingIn": ["To", true],
    From: ["None", true],
    "From+PendingOut": ["None+PendingOut", true],
    Both: ["To", true],
  },
  // A.3.1 Subscribe (inbound); already subscribed: auto-reply (handled in transition()).
  "in-subscribe": {
    None: ["None+PendingIn", true],
    "None+PendingOut": ["None+PendingOut+In", true],
    "None+PendingIn": ["None+PendingIn", false],
    "None+PendingOut+In": ["None+PendingOut+In", false],
    To: ["To+PendingIn", true],
    "To+PendingIn": ["To+PendingIn", false],
    From: ["From", false],
    "From+PendingOut": ["From+PendingOut", false],
    Both: ["Both", false],
  },
  // A.3.2 Unsubscribe (inbound)
  "in-unsubscribe": {
    None: ["None", false],
    "None+PendingOut": ["None+PendingOut", false],
    "None+PendingIn": ["None", true],
    "None+PendingOut+In": ["None+PendingOut", true],
    To: ["To", false],
    "To+PendingIn": ["To", true],
    From: ["None", true],
    "From+PendingOut": ["None+PendingOut", true],
    Both: ["To", true],
  },
  // A.3.3 Subscribed (inbound)
  "in-subscribed": {
    None: ["None", false],
    "None+PendingOut": ["To", true],
    "None+PendingIn": ["None+PendingIn", false],
    "None+PendingOut+In": ["To+PendingIn", true],
    To: ["To", false],
    "To+PendingIn": ["To+PendingIn", false],
    From: ["From", false],
    "From+PendingOut": ["Both", true],
    Both: ["Both", false],
  },
  // A.3.4 Unsubscribed (inbound)
  "in-unsubscribed": {
    None: ["None", false],
    "None+PendingOut": ["None", true],
    "None+PendingIn": ["None+PendingIn", false],
    "None+PendingOut+In": ["None+PendingIn", true],
    To: ["None", true],
    "To+PendingIn": ["None+PendingIn", true],
    From: ["From", false],
    "From+PendingOut": ["From", true],
    Both: ["From", true],
  },
};

export interface Transition {
  before: ContactState;
  next: ContactState;
  /** Outbound: route the stanza to the contact. Inbound: deliver it to the user's resources. */
  forward: boolean;
  /** Inbound subscribe from a contact that already has (or was pre-approved for) a subscription:
   * answer `subscribed` on the user's behalf (RFC 6121 §3.1.3, §3.4). */
  autoApprove: boolean;
  /** The outbound `subscribed` had no request to answer: it is recorded as a pre-approval (§3.4). */
  preApproved: boolean;
}

/** Apply one subscription stanza to a contact's state (RFC 6121 Appendix A, §3.4). */
export function transition(before: ContactState, event: SubscriptionEvent): Transition {
  const name = stateName(before);
  const [nextName, forward] = TABLE[event][name];
  let next = fromName(nextName, before.approved);
  let autoApprove = false;
  let preApproved = false;
  let fwd = forward;
  switch (event) {
    case "out-subscribed":
      // §3.4.1: approving with no request pending is a pre-approval (None, None+PendingOut, To).
      if (!before.pendingIn && (before.subscription === "none" || before.subscription === "to")) {
        next = { ...next, approved: true };
        preApproved = true;
      }
      break;
    case "out-unsubscribed":
      // §3.2.2 item 2: cancelling a pre-approval is not routed to the contact.
      next = { ...next, approved: false };
      break;
    case "in-subscribe":
      if (before.subscription === "from" || before.subscription === "both") {
        autoApprove = true; // §3.1.3: already subscribed
      } else if (before.approved) {
        // §3.4.2: a pre-approved request is approved at once, without bothering the user.
        const approvedName = TABLE["out-subscribed"][stateName({ ...before, pendingIn: true, approved: false })][0];
        next = fromName(approvedName, false);
        autoApprove = true;
        fwd = false;
      }
      break;
    default:
      break;
  }
  return { before, next, forward: fwd, autoApprove, preApproved };
}

export function sameState(a: ContactState, b: ContactState): boolean {
  return a.subscription === b.subscription && a.pendingOut === b.pendingOut && a.pendingIn === b.pendingIn && a.approved === b.approved;
}

/** Does the change show in the roster (subscription, ask or approved), as opposed to pending-in only? */
export function visibleChange(a: ContactState, b: ContactState): boolean {
  return a.subscription !== b.subscription || a.pendingOut !== b.pendingOut || a.approved !== b.approved;
}
