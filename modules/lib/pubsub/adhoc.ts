// Subscription requests on "authorize" nodes: the owner's answer to an authorization form
// (XEP-0060 §8.6, a message back to the service), and the get-pending ad-hoc command that lists
// the nodes with requests and re-sends their forms (§8.7, XEP-0050).

import { randomBytes } from "node:crypto";
import { jidPrep } from "../../../src/util/jid.js";
import { Element, errorReply, reply } from "../../../src/xml/stanza.js";
import { actorOf, resultOf, type ProtocolResult, type PubsubContext } from "./context.js";
import { authorizationForm, findDataForm, formKind, formTypeOf, pendingNodesForm, rawFormValues } from "./forms.js";
import { FORM_SUBSCRIBE_AUTHORIZATION, NODE_GET_PENDING, NS_COMMANDS, parseXsBoolean, plainError, pubsubErrorReply } from "./xml.js";

/** Is this message an owner's answer to an authorization request (§8.6)? */
export function isAuthorizationAnswer(stanza: Element): boolean {
  const form = findDataForm(stanza);
  return form !== undefined && formTypeOf(form) === FORM_SUBSCRIBE_AUTHORIZATION;
}

/**
 * §8.6: apply an owner's answer. pubsub#allow true approves, false denies; a cancelled form leaves
 * the request pending. Returns an error message for the owner when the answer cannot be applied.
 */
export async function handleAuthorizationAnswer(ctx: PubsubContext, stanza: Element): Promise<Element | undefined> {
  const form = findDataForm(stanza)!;
  if (formKind(form) === "cancel") return undefined;
  const values = rawFormValues(form);
  const node = values.get("pubsub#node")?.[0];
  const rawJid = values.get("pubsub#subscriber_jid")?.[0];
  const allow = parseXsBoolean(values.get("pubsub#allow")?.[0]);
  const subid = values.get("pubsub#subid")?.[0] || undefined;
  if (!node) return pubsubErrorReply(stanza, { error: "nodeid-required" });
  const jid = rawJid === undefined ? undefined : jidPrep(rawJid);
  if (jid === undefined) return pubsubErrorReply(stanza, { error: "jid-required" });
  if (allow === undefined) return plainError(stanza, "modify", "bad-request", "pubsub#allow must be a boolean");
  const done = await ctx.service.answerPending(node, actorOf(stanza), jid, allow, subid);
  return done.ok ? undefined : pubsubErrorReply(stanza, done);
}

function commandElement(sessionid: string, status: "executing" | "completed" | "canceled", children: Element[] = []): Element {
  return new Element("command", { xmlns: NS_COMMANDS, node: NODE_GET_PENDING, sessionid, status }, children);
}

/**
 * §8.7: <command node='…#get-pending'/>. Without a form: the nodes the requester may approve
 * requests for and that have some (a form to choose one). With the submitted form: one
 * authorization form message per pending request of that node, then completed.
 */
export async function handleGetPending(ctx: PubsubContext, stanza: Element): Promise<ProtocolResult> {
  const command = stanza.firstElement()!;
  if (command.attrs.node !== NODE_GET_PENDING) return resultOf(errorReply(stanza, "cancel", "item-not-found", "No such command"));
  const sessionid = command.attrs.sessionid ?? `pubsub-get-pending:${randomBytes(6).toString("hex")}`;
  const actor = actorOf(stanza);
  const r = reply(stanza);
  if (command.attrs.action === "cancel") {
    r.children.push(commandElement(sessionid, "canceled"));
    return resultOf(r);
  }
  const form = findDataForm(command);
  if (!form || formKind(form) !== "submit") {
    const nodes = await ctx.service.getPendingNodes(actor);
    if (!nodes.ok) return resultOf(pubsubErrorReply(stanza, nodes));
    if (nodes.value.length === 0) {
      const note = new Element("note", { type: "info" }, ["There are no pending subscription requests"]);
      r.children.push(commandElement(sessionid, "completed", [note]));
      return resultOf(r);
    }
    const actions = new Element("actions", { execute: "complete" }, [new Element("complete")]);
    r.children.push(commandElement(sessionid, "executing", [actions, pendingNodesForm(nodes.value)]));
    return resultOf(r);
  }
  const node = rawFormValues(form).get("pubsub#node")?.[0];
  if (!node) return resultOf(pubsubErrorReply(stanza, { error: "nodeid-required" }));
  const pending = await ctx.service.getPending(node, actor);
  if (!pending.ok) return resultOf(pubsubErrorReply(stanza, pending));
  r.children.push(commandElement(sessionid, "completed"));
  const to = stanza.attrs.from!;
  return resultOf(r, async () => {
    for (const sub of pending.value) {
      await ctx.send(new Element("message", { from: ctx.jid, to, id: randomBytes(8).toString("hex") }, [authorizationForm(node, sub.jid, sub.subid)]));
    }
  });
}
