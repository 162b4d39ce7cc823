// Plays a parsed scansion script against a running server over real TCP (FORMAT.md §3, §4).
//
//  - `Name connects`: TCP, stream, STARTTLS if offered, SASL PLAIN, bind (requested resource or the
//    server's choice). Nothing else is sent.
//  - `Name sends:`: ${Name's JID} / ${Name's full JID} are substituted, the block is parsed and its
//    element sent (indentation between elements is not sent).
//  - `Name receives:`: that client's next stanza, waited for up to `timeoutMs`, must match (matcher.ts).
//    No searching: an extra stanza before the expected one is a failure.
//  - `Name receives: nothing`: no stanza may arrive within `nothingMs`.
//  - `Name disconnects`: </stream:stream>, and a short wait for the server to close.
// A stream that the server ends (stream error, close) while the script still uses the client fails
// the script at the next step. Sockets are always closed at the end.

import type { Element } from "../../src/xml/stanza.js";
import { LoginError, XmppClient } from "./client.js";
import { matchStanza } from "./matcher.js";
import { parseXmlBlock, substituteVars, type Script, type Step, type VarRef } from "./parser.js";
import { applySubstitutions, type Insertion, type Substitution } from "./substitutions.js";

export interface RunOptions {
  /** Where the server listens (overrides the scripts' connect_host/connect_port). */
  host?: string;
  port?: number;
  /** How long a `receives:` waits for a stanza (default 3000 ms). */
  timeoutMs?: number;
  /** How long `receives: nothing` watches (default 300 ms). */
  nothingMs?: number;
  /** Time allowed for each login step of `connects` (default 5000 ms). */
  connectTimeoutMs?: number;
  /** Use STARTTLS when offered (default true). */
  starttls?: boolean;
  /** Text substitutions for this server (see substitutions.ts). */
  substitutions?: readonly (Substitution | Insertion)[];
  /**
   * Off by default (FORMAT.md §4: the next stanza must match). When on, a `receives:` skips
   * stanzas that do not match until one does (within `timeoutMs`). For investigating scripts that
   * leave stanzas unlisted (see README.md, "Unlisted stanzas"); not for judging conformance.
   */
  skipUnlisted?: boolean;
}

export interface StepFailure {
  /** Line of the failing step in the script (for errors not tied to a step: 0). */
  line: number;
  /** The step as written, e.g. "Romeo receives:". */
  step: string;
  message: string;
  /** The expected stanza (after substitution), for receives steps. */
  expected?: string;
  /** The stanza received, or a description of what came instead ("nothing within 3000 ms"). */
  received?: string;
  /** The first difference found by the matcher. */
  difference?: string;
}

export interface ScriptResult {
  path: string;
  title: string;
  ok: boolean;
  failure?: StepFailure;
  /** Steps completed. */
  steps: number;
  durationMs: number;
}

interface Actor {
  client?: XmppClient;
  fullJid?: string;
  /** The script disconnected it (or never connected it). */
  gone: boolean;
}

class StepError extends Error {
  constructor(readonly failure: Omit<StepFailure, "line" | "step">) {
    super(failure.message);
  }
}

export async function runScript(input: Script, options: RunOptions = {}): Promise<ScriptResult> {
  const started = Date.now();
  const timeoutMs = options.timeoutMs ?? 3000;
  const nothingMs = options.nothingMs ?? 300;
  const { script, errors } = applySubstitutions(input, options.substitutions ?? []);
  const result = (ok: boolean, steps: number, failure?: StepFailure): ScriptResult => ({
    path: script.path,
    title: script.title,
    ok,
    failure,
    steps,
    durationMs: Date.now() - started,
  });
  if (errors.length) return result(false, 0, { line: 0, step: "(substitutions)", message: errors.join("; ") });

  const actors = new Map<string, Actor>();
  for (const name of script.clients.keys()) actors.set(name, { gone: true });
  const captures = new Map<string, string>();

  const resolve = (ref: VarRef, raw: string): string => {
    const decl = script.clients.get(ref.name);
    if (!decl) throw new StepError({ message: `${raw}: no client named "${ref.name}"` });
    if (!ref.full) return decl.bareJid;
    const full = actors.get(ref.name)?.fullJid;
    if (!full) throw new StepError({ message: `${raw}: ${ref.name} has not connected yet, so the full JID is unknown` });
    return full;
  };
  const element = (step: { xml: string }): { el: Element; text: string } => {
    const text = substituteVars(step.xml, resolve);
    let els: Element[];
    try {
      els = parseXmlBlock(text);
    } catch (e) {
      throw new StepError({ message: `invalid XML after substitution: ${(e as Error).message}`, expected: text });
    }
    return { el: els[0], text };
  };

  let done = 0;
  try {
    for (let n = 0; n < script.steps.length; n++) {
      const step = script.steps[n];
      try {
        checkStreams(actors, step);
        await runStep(step);
        await barrier(step, script.steps[n + 1]);
      } catch (e) {
        if (e instanceof StepError) return result(false, done, { line: step.line, step: describe(step), ...e.failure });
        throw e;
      }
      done++;
    }
    return result(true, done);
  } catch (e) {
    return result(false, done, { line: 0, step: "(runner)", message: `runner error: ${(e as Error).stack ?? e}` });
  } finally {
    await Promise.all(
      [...actors.values()].map(async (a) => {
        if (a.client) await a.client.disconnect(500).catch(() => a.client?.destroy());
      }),
    );
  }

  /**
   * Cross-client ordering: after `A sends:`, when the next step makes another client act on the
   * server (sends, connects, disconnects), wait until the server has processed A's stanza (a ping
   * round trip on A's connection). Otherwise two connections race, and e.g. Juliet's presence could
   * overtake the message Romeo sent to her bare JID just before.
   */
  async function barrier(step: Step, next: Step | undefined): Promise<void> {
    if (step.action !== "sends" || !next || next.client === step.client) return;
    if (next.action !== "sends" && next.action !== "connects" && next.action !== "disconnects") return;
    const c = actors.get(step.client)?.client;
    if (c && !c.closed) await c.sync(timeoutMs);
  }

  async function runStep(step: Step): Promise<void> {
    const actor = actors.get(step.client)!;
    const decl = script.clients.get(step.client)!;
    switch (step.action) {
      case "connects": {
        if (!actor.gone) throw new StepError({ message: `${step.client} is already connected` });
        try {
          actor.client = await XmppClient.connect({
            jid: decl.bareJid,
            password: decl.password,
            resource: decl.resource,
            host: options.host ?? decl.connectHost ?? domainOf(decl.bareJid),
            port: options.port ?? decl.connectPort ?? 5222,
            starttls: options.starttls,
            timeoutMs: options.connectTimeoutMs,
          });
        } catch (e) {
          if (e instanceof LoginError) throw new StepError({ message: `${step.client} could not log in: ${e.message}` });
          throw e;
        }
        actor.fullJid = actor.client.jid;
        actor.gone = false;
        return;
      }
      case "disconnects": {
        // Disconnecting a client that is not connected is a no-op (presence_preapproval.scs
        // disconnects Bob twice; scansion accepts that).
        if (actor.gone || !actor.client) return;
        const c = actor.client;
        actor.gone = true;
        await c.disconnect();
        actor.client = undefined;
        return;
      }
      case "sends": {
        const c = connected(actor, step);
        const { el } = element(step);
        try {
          c.send(stripIndentation(el).toString());
        } catch (e) {
          throw new StepError({ message: (e as Error).message });
        }
        return;
      }
      case "receives": {
        const c = connected(actor, step);
        const { el, text } = element(step);
        const deadline = Date.now() + timeoutMs;
        const skipped: { received: string; difference: string }[] = [];
        for (;;) {
          const got = await c.next(Math.max(0, deadline - Date.now()));
          if (!got) {
            if (skipped.length === 0) {
              throw new StepError({ message: "no stanza arrived", expected: text, received: `nothing within ${timeoutMs} ms` });
            }
            throw new StepError({
              message: `no matching stanza within ${timeoutMs} ms (${skipped.length} non-matching stanza(s) skipped)`,
              expected: text,
              received: skipped.map((s) => s.received).join("\n"),
              difference: skipped[0].difference,
            });
          }
          if (got.kind === "closed") {
            throw new StepError({ message: `the stream ended instead: ${got.reason}`, expected: text, received: `(stream ended: ${got.reason})` });
          }
          const m = matchStanza(el, got.element, { captures });
          if (m.ok) return;
          if (!options.skipUnlisted) {
            throw new StepError({
              message: "the received stanza does not match",
              expected: text,
              received: got.element.toString(),
              difference: m.difference,
            });
          }
          skipped.push({ received: got.element.toString(), difference: m.difference });
        }
      }
      case "receives-nothing": {
        const c = connected(actor, step);
        const got = await c.next(nothingMs);
        if (got?.kind === "stanza") {
          throw new StepError({ message: `a stanza arrived (nothing expected within ${nothingMs} ms)`, received: got.element.toString() });
        }
        if (got?.kind === "closed") throw new StepError({ message: `the stream ended: ${got.reason}` });
        return;
      }
    }
  }
}

function connected(actor: Actor, step: Step): XmppClient {
  if (actor.gone || !actor.client) throw new StepError({ message: `${step.client} is not connected` });
  return actor.client;
}

/** Fail when a client the script still uses has lost its stream (and has nothing left to read). */
function checkStreams(actors: Map<string, Actor>, step: Step): void {
  for (const [name, a] of actors) {
    if (a.gone || !a.client || !a.client.closed || a.client.pending() > 0) continue;
    // The failing client's own receives: reports it with the expected stanza.
    if (name === step.client && step.action === "receives") continue;
    throw new StepError({ message: `${name}'s stream ended unexpectedly: ${closedReason(a.client)}` });
  }
}

function closedReason(c: XmppClient): string {
  return c.closeReason ?? "closed";
}

function describe(step: Step): string {
  switch (step.action) {
    case "connects":
    case "disconnects":
      return `${step.client} ${step.action}`;
    case "receives-nothing":
      return `${step.client} receives: nothing`;
    default:
      return `${step.client} ${step.action}:`;
  }
}

function domainOf(bare: string): string {
  const at = bare.indexOf("@");
  return at >= 0 ? bare.slice(at + 1) : bare;
}

/** Drop whitespace-only text (indentation) from elements that have child elements. */
export function stripIndentation(el: Element): Element {
  const copy = el.clone();
  const walk = (e: Element): void => {
    if (e.children.some((c) => typeof c !== "string")) {
      e.children = e.children.filter((c) => typeof c !== "string" || /\S/.test(c));
    }
    for (const c of e.children) if (typeof c !== "string") walk(c);
  };
  walk(copy);
  return copy;
}
