// XEP-0077: In-Band Registration.
//
// Before authentication (only with `allow_registration = true`): the iq-register stream feature,
// the registration form, account creation (throttled per IP address), then `user-registered` on
// the global bus. After authentication (always): password change and account removal.
//
// Options, as in Prosody: allow_registration (false), registration_title,
// registration_instructions, min_seconds_between_registrations, registration_throttle_max,
// registration_throttle_period, registration_allowlist (127.0.0.1 and ::1: never throttled),
// registration_blocklist, allowlist_registration_only (and the older *whitelist*/*blacklist* names).

import { defineModule, type IqAnswer, type IqEvent, type IqHandler } from "../../src/modules/api.js";
import { isClientSession } from "../../src/router/router.js";
import type { ClientSession } from "../../src/sessions/session.js";
import { AccountError } from "../../src/auth/accounts.js";
import { nodePrep } from "../../src/util/jid.js";
import { Element, reply, StanzaError, type ErrorType } from "../../src/xml/stanza.js";
import { NS_REGISTER, NS_REGISTER_FEATURE, readSubmission, registeredQuery, registrationQuery, type RegistrationTexts } from "./form.js";
import { RegistrationThrottle, ipInList, normalizeAddress } from "./throttle.js";

export default defineModule({
  load(module) {
    if (module.hostKind !== "local") return;
    const o = module.options;
    module.addFeature(NS_REGISTER);

    const allowRegistration = o.boolean("allow_registration", false);
    const requireEncryption = o.boolean("c2s_require_encryption", o.boolean("require_encryption", true));
    const texts: RegistrationTexts = {
      title: o.string("registration_title", "Creating a new account"),
      instructions: o.string("registration_instructions", "Choose a username and password for use with this service."),
    };
    const minSeconds = o.period("min_seconds_between_registrations");
    const throttleMax = o.integer("registration_throttle_max", minSeconds === undefined ? undefined : 1, { min: 1 });
    const throttlePeriod = o.period("registration_throttle_period", minSeconds ?? 60);
    const throttle = new RegistrationThrottle(throttleMax, throttlePeriod * 1000);
    const allowlist = new Set(o.has("registration_allowlist") ? o.array("registration_allowlist") : o.array("registration_whitelist", ["127.0.0.1", "::1"]));
    const blocklist = new Set(o.has("registration_blocklist") ? o.array("registration_blocklist") : o.array("registration_blacklist"));
    const allowlistOnly = o.boolean("allowlist_registration_only", o.boolean("whitelist_registration_only", false));

    // XEP-0077 §4: advertise registration to clients that have not authenticated (over TLS when required).
    module.hook("stream-features", (ev) => {
      if (!allowRegistration || ev.state !== "negotiating") return undefined;
      if (requireEncryption && !ev.session.secure) return undefined;
      ev.features.add(new Element("register", { xmlns: NS_REGISTER_FEATURE }));
      return undefined;
    });

    /** May this address register now? An error to send back when not. */
    const checkAddress = (session: ClientSession): StanzaError | undefined => {
      const ip = normalizeAddress(session.remoteAddress);
      if (ipInList(blocklist, ip)) return new StanzaError("auth", "forbidden", "Your IP address is blocklisted");
      if (allowlistOnly && !ipInList(allowlist, ip)) return new StanzaError("auth", "forbidden", "Your IP address is not allowlisted");
      if (!ipInList(allowlist, ip) && !throttle.poll(ip)) {
        return new StanzaError("wait", "policy-violation", "Too many registrations from this IP address recently");
      }
      return undefined;
    };

    // Registration before authentication (XEP-0077 §3.1): the answer to an iq get or set, and the
    // account it created.
    type Registration = { answer: Element | null | StanzaError; created?: string };
    const registration = async (session: ClientSession, stanza: Element): Promise<Registration> => {
      const refuse = (type: ErrorType, condition: string, text?: string): Registration => ({ answer: new StanzaError(type, condition, text) });
      if (!allowRegistration) {
        // XEP-0077 §3.1: a server without in-band registration answers service-unavailable.
        return refuse("cancel", "service-unavailable");
      }
      if (requireEncryption && !session.secure) return refuse("modify", "policy-violation", "Encryption is required");
      const query = stanza.firstElement()!;
      if (stanza.attrs.type === "get") return { answer: registrationQuery(texts) };
      // XEP-0077 §3.2: removing an account needs an account.
      if (query.getChild("remove")) return refuse("auth", "registration-required");
      const sub = readSubmission(query, texts);
      // XEP-0077 §3.1: missing information is not-acceptable.
      if (!sub.ok) return refuse("modify", "not-acceptable", sub.error);
      const username = nodePrep(sub.username);
      if (username === undefined) return refuse("modify", "not-acceptable", "The requested username is invalid.");
      const refused = checkAddress(session);
      if (refused) return { answer: refused };
      // Other modules may refuse a name (tombstones of deleted accounts answer `conflict`).
      const refusal = await module.fire("user-registering", { username, source: "mod_register" });
      if (refusal) return refuse(refusal.type, refusal.condition, refusal.text);
      // XEP-0077 §3.1: the username is taken.
      if (await module.accounts.exists(username)) return refuse("cancel", "conflict", "The requested username already exists.");
      try {
        await module.accounts.create(username, sub.password);
      } catch (err) {
        if (!(err instanceof AccountError)) throw err;
        return err.code === "conflict"
          ? refuse("cancel", "conflict", "The requested username already exists.")
          : refuse("modify", "not-acceptable", err.message);
      }
      const ip = normalizeAddress(session.remoteAddress);
      session.log.info(`Registered ${username}@${module.host} from ${ip}`);
      return { answer: null, created: username };
    };
    module.hook(`unauthed-iq/${NS_REGISTER}:query`, async ({ session, stanza }) => {
      if (stanza.attrs.type !== "get" && stanza.attrs.type !== "set") return true;
      const { answer, created } = await registration(session, stanza);
      session.send(answer instanceof StanzaError ? answer.replyTo(stanza) : answer === null ? reply(stanza) : reply(stanza).add(answer));
      if (created !== undefined) {
        await module.fireGlobal("user-registered", { host: module.host, username: created, source: "mod_register", ip: normalizeAddress(session.remoteAddress) });
      }
      return true;
    });

    // Account removal: the result must reach the client before its sessions are closed, which
    // happens right after `user-deleted` (src/server.ts). So the removal's iq handler answers as
    // soon as `user-deleted` fires, and the `user-deleted` handler waits until that answer is out.
    const pendingRemovals = new Map<string, { answer: () => void; replied: Promise<void> }>();
    module.hookGlobal(
      "user-deleted",
      async ({ host, username }) => {
        const key = `${host}/${username}`;
        const pending = pendingRemovals.get(key);
        if (!pending) return undefined;
        pendingRemovals.delete(key);
        pending.answer();
        await pending.replied;
        return undefined;
      },
      1000,
    );

    const removeAccount = (ev: IqEvent, session: ClientSession, username: string): Promise<IqAnswer> => {
      const key = `${module.host}/${username}`;
      let answer!: () => void;
      let replied!: () => void;
      let removed = false;
      const answered = new Promise<null>((resolve) => (answer = () => resolve(null)));
      pendingRemovals.set(key, { answer, replied: new Promise<void>((resolve) => (replied = resolve)) });
      ev.afterReply(() => replied());
      const removal = module.accounts.delete(username).then(
        () => {
          session.log.info(`${username}@${module.host} removed their account`);
          return null;
        },
        (err: unknown) => {
          removed = !pendingRemovals.has(key);
          pendingRemovals.delete(key);
          if (err instanceof AccountError) return new StanzaError("cancel", "service-unavailable", err.message);
          // The account is gone and the client told so; what failed afterwards is only logged.
          if (removed) {
            module.log.error(`Removing ${username}@${module.host} failed after the account was deleted: ${(err as Error)?.stack ?? err}`);
            return null;
          }
          throw err;
        },
      );
      return Promise.race([answered, removal]);
    };

    // Password change and removal by a logged-in client (XEP-0077 §3.2, §3.3).
    const registered: IqHandler = async (ev) => {
      const { stanza, origin } = ev;
      if (!isClientSession(origin) || !origin.username || origin.host !== module.host) return undefined;
      const username = origin.username;
      const query = ev.payload;
      if (stanza.attrs.type === "get") return registeredQuery(username);
      if (query.getChild("remove")) return removeAccount(ev, origin, username);
      const sub = readSubmission(query, texts);
      if (!sub.ok) return new StanzaError("modify", "bad-request", sub.error);
      // XEP-0077 §3.3: a password change names the account itself.
      if (nodePrep(sub.username) !== username) return new StanzaError("modify", "bad-request", "The username is not the one of this account");
      try {
        await module.accounts.setPassword(username, sub.password);
      } catch (err) {
        if (!(err instanceof AccountError)) throw err;
        return err.code === "invalid-password" ? new StanzaError("modify", "not-acceptable", err.message) : new StanzaError("cancel", "not-allowed", err.message);
      }
      origin.log.info(`${username}@${module.host} changed their password`);
      return null;
    };
    // COMPAT: many clients address password changes to the server (Prosody's registration_compat).
    module.iq.get(NS_REGISTER, "query", registered, { to: ["self", "host"] });
    module.iq.set(NS_REGISTER, "query", registered, { to: ["self", "host"] });
  },
});
