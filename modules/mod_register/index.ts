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

import { defineModule } from "../../src/modules/api.js";
import type { StanzaEvent } from "../../src/router/router.js";
import { isClientSession } from "../../src/router/router.js";
import type { ClientSession } from "../../src/sessions/session.js";
import { AccountError } from "../../src/auth/accounts.js";
import { nodePrep } from "../../src/util/jid.js";
import { Element, errorReply, reply, type ErrorType } from "../../src/xml/stanza.js";
import { NS_REGISTER, NS_REGISTER_FEATURE, readSubmission, registeredQuery, registrationQuery, type RegistrationTexts } from "./form.js";
import { RegistrationThrottle, ipInList, normalizeAddress } from "./throttle.js";

/** What a `user-registering` handler returns to refuse an account name. */
interface RegistrationRefusal {
  type: ErrorType;
  condition: string;
  text?: string;
}

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
    module.hook("stream-features", (ev: { session: ClientSession; features: Element; state: string }) => {
      if (!allowRegistration || ev.state !== "negotiating") return undefined;
      if (requireEncryption && !ev.session.secure) return undefined;
      ev.features.add(new Element("register", { xmlns: NS_REGISTER_FEATURE }));
      return undefined;
    });

    /** May this address register now? An error to send back when not. */
    const checkAddress = (session: ClientSession, stanza: Element): Element | undefined => {
      const ip = normalizeAddress(session.remoteAddress);
      if (ipInList(blocklist, ip)) return errorReply(stanza, "auth", "forbidden", "Your IP address is blocklisted");
      if (allowlistOnly && !ipInList(allowlist, ip)) return errorReply(stanza, "auth", "forbidden", "Your IP address is not allowlisted");
      if (!ipInList(allowlist, ip) && !throttle.poll(ip)) {
        return errorReply(stanza, "wait", "policy-violation", "Too many registrations from this IP address recently");
      }
      return undefined;
    };

    // Registration before authentication (XEP-0077 §3.1).
    module.hook(`unauthed-iq/${NS_REGISTER}:query`, async (ev: { session: ClientSession; stanza: Element }) => {
      const { session, stanza } = ev;
      const type = stanza.attrs.type;
      if (type !== "get" && type !== "set") return true;
      if (!allowRegistration) {
        // XEP-0077 §3.1: a server without in-band registration answers service-unavailable.
        session.send(errorReply(stanza, "cancel", "service-unavailable"));
        return true;
      }
      if (requireEncryption && !session.secure) {
        session.send(errorReply(stanza, "modify", "policy-violation", "Encryption is required"));
        return true;
      }
      const query = stanza.firstElement()!;
      if (type === "get") {
        const r = reply(stanza);
        r.add(registrationQuery(texts));
        session.send(r);
        return true;
      }
      // XEP-0077 §3.2: removing an account needs an account.
      if (query.getChild("remove")) {
        session.send(errorReply(stanza, "auth", "registration-required"));
        return true;
      }
      const sub = readSubmission(query, texts);
      if (!sub.ok) {
        // XEP-0077 §3.1: missing information is not-acceptable.
        session.send(errorReply(stanza, "modify", "not-acceptable", sub.error));
        return true;
      }
      const username = nodePrep(sub.username);
      if (username === undefined) {
        session.send(errorReply(stanza, "modify", "not-acceptable", "The requested username is invalid."));
        return true;
      }
      const refused = checkAddress(session, stanza);
      if (refused) {
        session.send(refused);
        return true;
      }
      // Other modules may refuse a name (tombstones of deleted accounts answer `conflict`).
      const refusal = (await module.fire("user-registering", { username, source: "mod_register" })) as RegistrationRefusal | undefined;
      if (refusal) {
        session.send(errorReply(stanza, refusal.type, refusal.condition, refusal.text));
        return true;
      }
      // XEP-0077 §3.1: the username is taken.
      if (await module.accounts.exists(username)) {
        session.send(errorReply(stanza, "cancel", "conflict", "The requested username already exists."));
        return true;
      }
      try {
        await module.accounts.create(username, sub.password);
      } catch (err) {
        if (err instanceof AccountError) {
          session.send(
            err.code === "conflict"
              ? errorReply(stanza, "cancel", "conflict", "The requested username already exists.")
              : errorReply(stanza, "modify", "not-acceptable", err.message),
          );
          return true;
        }
        throw err;
      }
      session.send(reply(stanza));
      session.log.info(`Registered ${username}@${module.host} from ${normalizeAddress(session.remoteAddress)}`);
      await module.fireGlobal("user-registered", { host: module.host, username, source: "mod_register", ip: normalizeAddress(session.remoteAddress) });
      return true;
    });

    // Account removal: the result must reach the client before its sessions are closed, which
    // happens right after `user-deleted` (src/server.ts), so the answer goes out from that event.
    const pendingRemovals = new Map<string, () => void>();
    module.hookGlobal(
      "user-deleted",
      (ev: { host: string; username: string }) => {
        const key = `${ev.host}/${ev.username}`;
        const send = pendingRemovals.get(key);
        pendingRemovals.delete(key);
        send?.();
        return undefined;
      },
      1000,
    );

    // Password change and removal by a logged-in client (XEP-0077 §3.2, §3.3).
    const registered = async (ev: StanzaEvent) => {
      const { stanza, origin } = ev;
      if (!isClientSession(origin) || !origin.username || origin.host !== module.host) return undefined;
      const username = origin.username;
      const query = stanza.firstElement()!;
      if (stanza.attrs.type === "get") {
        const r = reply(stanza);
        r.add(registeredQuery(username));
        return module.reply(ev, r);
      }
      if (query.getChild("remove")) {
        const key = `${module.host}/${username}`;
        let answered = false;
        const answer = () => {
          if (answered) return;
          answered = true;
          module.reply(ev, reply(stanza));
        };
        pendingRemovals.set(key, answer);
        try {
          await module.accounts.delete(username);
        } catch (err) {
          pendingRemovals.delete(key);
          if (!answered) {
            answered = true;
            const text = err instanceof AccountError ? err.message : "The account could not be removed";
            module.reply(ev, errorReply(stanza, "cancel", "service-unavailable", text));
          }
          if (!(err instanceof AccountError)) throw err;
          return true;
        }
        pendingRemovals.delete(key);
        answer();
        origin.log.info(`${username}@${module.host} removed their account`);
        return true;
      }
      const sub = readSubmission(query, texts);
      if (!sub.ok) return module.reply(ev, errorReply(stanza, "modify", "bad-request", sub.error));
      // XEP-0077 §3.3: a password change names the account itself.
      if (nodePrep(sub.username) !== username) {
        return module.reply(ev, errorReply(stanza, "modify", "bad-request", "The username is not the one of this account"));
      }
      try {
        await module.accounts.setPassword(username, sub.password);
      } catch (err) {
        if (!(err instanceof AccountError)) throw err;
        const e = err.code === "invalid-password" ? errorReply(stanza, "modify", "not-acceptable", err.message) : errorReply(stanza, "cancel", "not-allowed", err.message);
        return module.reply(ev, e);
      }
      origin.log.info(`${username}@${module.host} changed their password`);
      return module.reply(ev, reply(stanza));
    };
    module.hook(`iq-get/self/${NS_REGISTER}:query`, registered);
    module.hook(`iq-set/self/${NS_REGISTER}:query`, registered);
    // COMPAT: many clients address password changes to the server (Prosody's registration_compat).
    module.hook(`iq-get/host/${NS_REGISTER}:query`, registered);
    module.hook(`iq-set/host/${NS_REGISTER}:query`, registered);
  },
});
