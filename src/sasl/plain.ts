// PLAIN (RFC 4616), server side: message = [authzid] NUL authcid NUL passwd, in UTF-8.

import { isComplete, verifyDummyPassword, verifyPassword, type StoredCredentials } from "./credentials.js";
import type { SaslBackend, SaslChannel, SaslMechanism, SaslStep } from "./mechanism.js";
import { saslprep } from "./saslprep.js";

/** Longest message we accept, in bytes (RFC 4616 asks for at least 255 per field). */
const MAX_MESSAGE_BYTES = 4096;

const utf8 = new TextDecoder("utf-8", { fatal: true });

class PlainServer implements SaslMechanism {
  readonly name = "PLAIN";
  private at: "start" | "response" | "done" = "start";

  constructor(
    private readonly backend: SaslBackend,
    readonly channel: SaslChannel,
  ) {}

  async start(initial: Buffer | undefined): Promise<SaslStep> {
    if (this.at !== "start") return this.finish(malformed("exchange already started"));
    this.at = "response";
    if (initial === undefined) return { kind: "challenge", data: Buffer.alloc(0) };
    return this.response(initial);
  }

  async step(response: Buffer): Promise<SaslStep> {
    if (this.at !== "response") return this.finish(malformed("unexpected response"));
    return this.response(response);
  }

  private finish(result: SaslStep): SaslStep {
    this.at = "done";
    return result;
  }

  private async response(data: Buffer): Promise<SaslStep> {
    this.at = "done";
    if (data.length > MAX_MESSAGE_BYTES) return malformed("message too long");
    let msg: string;
    try {
      msg = utf8.decode(data);
    } catch {
      return malformed("invalid UTF-8");
    }
    const fields = msg.split("\0");
    if (fields.length !== 3) return malformed("expected authzid NUL authcid NUL passwd");
    const [authzid, authcid, passwd] = fields;
    if (authcid === "" || passwd === "") return malformed("empty authcid or password");

    let prepped: string;
    try {
      prepped = saslprep(authcid);
    } catch {
      return notAuthorized();
    }
    const username = prepped === "" ? null : this.backend.normalizeUsername(prepped);
    if (username === null) return notAuthorized();

    const success: SaslStep = { kind: "success", username, ...(authzid === "" ? {} : { authzid }) };
    if (this.backend.acceptAny) return success;

    let creds: StoredCredentials | undefined;
    try {
      creds = await this.backend.getCredentials(username);
    } catch {
      return { kind: "failure", condition: "temporary-auth-failure" };
    }
    const ok = creds ? await verifyPassword(creds, passwd) : await verifyDummyPassword(passwd);
    if (!ok) return notAuthorized();
    if (creds && !isComplete(creds) && this.backend.upgradeCredentials) {
      await this.backend.upgradeCredentials(username, passwd).catch(() => {});
    }
    return success;
  }
}

function malformed(text: string): SaslStep {
  return { kind: "failure", condition: "malformed-request", text };
}

function notAuthorized(): SaslStep {
  return { kind: "failure", condition: "not-authorized" };
}

/** The server side of PLAIN for one exchange. */
export function createPlainMechanism(backend: SaslBackend, channel: SaslChannel): SaslMechanism {
  return new PlainServer(backend, channel);
}
