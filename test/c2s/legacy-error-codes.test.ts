// XEP-0086: stanza errors carry the legacy `code` next to the condition, for clients that still
// wait for code='404' (profanity's OMEMO bootstrap fetches a device list that is not there yet).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LEGACY_ERROR_CODES, errorReply, iq } from "../../src/xml/stanza.js";
import { login, pubsub, startPepServer } from "../pep/helpers.js";
import type { TestServer } from "../helpers/harness.js";
import type { RawClient } from "../helpers/xmpp-client.js";
import type { Element } from "../../src/xml/stanza.js";

let ts: TestServer;
let romeo: RawClient;

beforeAll(async () => {
  ts = await startPepServer(["romeo"]);
  romeo = await login(ts, "romeo", "phone");
});
afterAll(() => ts?.stop());

function errorAttrs(el: Element): Record<string, string> {
  expect(el.attrs.type).toBe("error");
  return el.getChild("error")!.attrs;
}

describe("legacy error codes (XEP-0086)", () => {
  it("a missing OMEMO device list: item-not-found with code 404", async () => {
    const r = await pubsub(romeo, "get", "<items node='eu.siacs.conversations.axolotl.devicelist'/>", { to: "romeo@localhost" });
    expect(errorAttrs(r)).toEqual({ type: "cancel", code: "404" });
    expect(r.getChild("error")!.getChild("item-not-found", "urn:ietf:params:xml:ns:xmpp-stanzas")).toBeDefined();
  });

  it("an iq nobody handles: service-unavailable with code 503", async () => {
    const r = await romeo.iq("<iq type='get' id='u1' to='localhost'><query xmlns='urn:example:nothing'/></iq>");
    expect(errorAttrs(r)).toEqual({ type: "cancel", code: "503" });
  });

  it("a malformed stanza bounced by the router: bad-request with code 400", async () => {
    const r = await romeo.iq("<iq type='get' id='u2' to='localhost'><ping xmlns='urn:xmpp:ping'/><ping xmlns='urn:xmpp:ping'/></iq>");
    expect(errorAttrs(r)).toEqual({ type: "modify", code: "400" });
  });

  it("every condition of the XEP-0086 table has its code; others get none", () => {
    const table: Array<[string, string]> = [
      ["bad-request", "400"], ["conflict", "409"], ["feature-not-implemented", "501"], ["forbidden", "403"],
      ["gone", "302"], ["internal-server-error", "500"], ["item-not-found", "404"], ["jid-malformed", "400"],
      ["not-acceptable", "406"], ["not-allowed", "405"], ["not-authorized", "401"], ["payment-required", "402"],
      ["recipient-unavailable", "404"], ["redirect", "302"], ["registration-required", "407"],
      ["remote-server-not-found", "404"], ["remote-server-timeout", "504"], ["resource-constraint", "500"],
      ["service-unavailable", "503"], ["subscription-required", "407"], ["undefined-condition", "500"],
      ["unexpected-request", "400"],
    ];
    const req = iq({ type: "get", id: "x", from: "a@b/c", to: "b" });
    for (const [condition, code] of table) {
      expect(errorReply(req, "cancel", condition).getChild("error")!.attrs.code, condition).toBe(code);
    }
    expect(LEGACY_ERROR_CODES["policy-violation"]).toBe("403");
    expect(errorReply(req, "cancel", "x-private").getChild("error")!.attrs.code).toBeUndefined();
    expect(errorReply(req, "cancel", "forbidden", undefined, undefined, "b").getChild("error")!.attrs).toEqual({ type: "cancel", code: "403", by: "b" });
  });
});
