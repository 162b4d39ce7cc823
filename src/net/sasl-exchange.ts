// The SASL exchange of a client stream (RFC 6120 §6): <auth/>, <response/>, <abort/> in, a
// mechanism step out. The stream decides what to write and when to give up; this decides the step.

import type { AccountStore } from "../auth/accounts.js";
import { createMechanism, type SaslFailure, type SaslMechanism, type SaslStep } from "../sasl/mechanism.js";
import { nodePrep } from "../util/jid.js";
import type { Element } from "../xml/stanza.js";

/** A step of the exchange; a failure that `counts` is a failed authentication (wrong credentials). */
export type SaslOutcome =
  | Exclude<SaslStep, { kind: "failure" }>
  | { kind: "failure"; condition: SaslFailure; text?: string; counts: boolean };

export class SaslExchange {
  private mechanism?: SaslMechanism;

  constructor(
    private readonly accounts: AccountStore,
    private readonly secure: boolean,
    private readonly offered: string[],
  ) {}

  async handle(el: Element): Promise<SaslOutcome> {
    if (el.name === "abort") return { kind: "failure", condition: "aborted", counts: false };
    const payload = decodeSaslPayload(el.getText());
    if (el.name === "auth") {
      const name = el.attrs.mechanism ?? "";
      this.mechanism = this.offered.includes(name)
        ? createMechanism(name, {
            getCredentials: (u) => this.accounts.credentials(u),
            normalizeUsername: (u) => nodePrep(u) ?? null,
            acceptAny: this.accounts.acceptAny,
            upgradeCredentials: (u, password) => this.accounts.upgradeCredentials(u, password),
          }, { secure: this.secure })
        : undefined;
      if (!this.mechanism) {
        return { kind: "failure", condition: "invalid-mechanism", text: name ? `${name} is not offered` : "No mechanism given", counts: false };
      }
      if (payload === null) return { kind: "failure", condition: "incorrect-encoding", counts: false };
      return counted(await this.mechanism.start(payload));
    }
    if (!this.mechanism) return { kind: "failure", condition: "malformed-request", text: "No authentication in progress", counts: false };
    if (payload === null) return { kind: "failure", condition: "incorrect-encoding", counts: false };
    return counted(await this.mechanism.step(payload ?? Buffer.alloc(0)));
  }
}

function counted(step: SaslStep): SaslOutcome {
  return step.kind === "failure" ? { ...step, counts: true } : step;
}

/** SASL payloads are base64, "=" for an empty one (RFC 6120 §6.4.2). null: not base64. */
export function decodeSaslPayload(text: string): Buffer | undefined | null {
  const t = text.trim();
  if (t === "") return undefined;
  if (t === "=") return Buffer.alloc(0);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(t) || t.length % 4 !== 0) return null;
  return Buffer.from(t, "base64");
}
