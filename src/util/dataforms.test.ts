import { describe, expect, it } from "vitest";
import { xml } from "../../test/helpers/xml.js";
import { findForm, getFormType, parseForm, rawFormValues, renderForm, type FormDef } from "./dataforms.js";

/** Parse one element (namespaces resolved as on a client stream). */

const nodeConfig: FormDef = {
  formType: "http://jabber.org/protocol/pubsub#node_config",
  fields: [
    { var: "pubsub#title", name: "title", label: "Title" },
    { var: "pubsub#max_items", name: "max_items", label: "Max # of items to persist", datatype: "pubsub:integer-or-max", range: { min: 1, max: 256 } },
    { var: "pubsub#persist_items", name: "persist_items", type: "boolean", label: "Persist items to storage" },
    { var: "pubsub#access_model", name: "access_model", type: "list-single", label: "Specify the subscriber model", options: ["authorize", "open", "presence", "roster", "whitelist"] },
    { var: "pubsub#roster_groups_allowed", name: "roster_groups_allowed", type: "list-multi", label: "Roster groups allowed to subscribe" },
    {
      var: "pubsub#notification_type",
      name: "notification_type",
      type: "list-single",
      label: "Specify the delivery style for notifications",
      options: [{ label: "Messages of type normal", value: "normal" }, { label: "Messages of type headline", value: "headline", default: true }],
    },
    { var: "pubsub#contact", name: "contact", type: "jid-multi" },
    { var: "pubsub#owner", name: "owner", type: "jid-single" },
    { var: "pubsub#body", name: "body", type: "text-multi", desc: "Free text" },
    { var: "pubsub#secret", name: "secret", type: "text-private", required: true },
  ],
};

describe("renderForm", () => {
  it("renders a form of type 'form' exactly as Prosody does (order, labels, options, validate, required)", () => {
    const x = renderForm(nodeConfig, { title: "", max_items: 1, persist_items: true, access_model: "presence", body: "line one\nline two" }, "form");
    expect(x.toString()).toBe(
      "<x xmlns='jabber:x:data' type='form'>" +
        "<field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#node_config</value></field>" +
        "<field var='pubsub#title' type='text-single' label='Title'><value/></field>" +
        "<field var='pubsub#max_items' type='text-single' label='Max # of items to persist'>" +
        "<validate xmlns='http://jabber.org/protocol/xdata-validate' datatype='pubsub:integer-or-max'><range min='1' max='256'/></validate>" +
        "<value>1</value></field>" +
        "<field var='pubsub#persist_items' type='boolean' label='Persist items to storage'><value>1</value></field>" +
        "<field var='pubsub#access_model' type='list-single' label='Specify the subscriber model'>" +
        "<option label='authorize'><value>authorize</value></option><option label='open'><value>open</value></option>" +
        "<option label='presence'><value>presence</value></option><option label='roster'><value>roster</value></option>" +
        "<option label='whitelist'><value>whitelist</value></option><value>presence</value></field>" +
        "<field var='pubsub#roster_groups_allowed' type='list-multi' label='Roster groups allowed to subscribe'/>" +
        "<field var='pubsub#notification_type' type='list-single' label='Specify the delivery style for notifications'>" +
        "<option label='Messages of type normal'><value>normal</value></option>" +
        "<option label='Messages of type headline'><value>headline</value></option><value>headline</value></field>" +
        "<field var='pubsub#contact' type='jid-multi'/>" +
        "<field var='pubsub#owner' type='jid-single'/>" +
        "<field var='pubsub#body' type='text-multi'><desc>Free text</desc><value>line one</value><value>line two</value></field>" +
        "<field var='pubsub#secret' type='text-private'><required/></field>" +
        "</x>",
    );
  });

  it("renders a result form: labels and values, no options, validation or required", () => {
    const x = renderForm(nodeConfig, { access_model: "open", roster_groups_allowed: ["a", "b"], persist_items: false, secret: "s" }, "result");
    const fields = x.childElements("field");
    expect(x.attrs.type).toBe("result");
    expect(fields.map((f) => f.attrs.var)).toEqual([
      "FORM_TYPE", "pubsub#title", "pubsub#max_items", "pubsub#persist_items", "pubsub#access_model", "pubsub#roster_groups_allowed",
      "pubsub#notification_type", "pubsub#contact", "pubsub#owner", "pubsub#body", "pubsub#secret",
    ]);
    expect(fields[4].toString()).toBe("<field var='pubsub#access_model' type='list-single' label='Specify the subscriber model'><value>open</value></field>");
    expect(fields[5].childElements("value").map((v) => v.getText())).toEqual(["a", "b"]);
    expect(fields[3].getChildText("value")).toBe("0");
    expect(fields[2].getChild("validate", "http://jabber.org/protocol/xdata-validate")).toBeUndefined();
    expect(fields[10].getChild("required")).toBeUndefined();
    // No default selection outside of "form".
    expect(fields[6].toString()).toBe("<field var='pubsub#notification_type' type='list-single' label='Specify the delivery style for notifications'/>");
  });

  it("renders title and instructions, and a submit form without labels", () => {
    const def: FormDef = { title: "T", instructions: "Do it", formType: "jabber:iq:register", fields: [{ var: "username", label: "Username", required: true }] };
    expect(renderForm(def, {}, "form").toString()).toBe(
      "<x xmlns='jabber:x:data' type='form'><title>T</title><instructions>Do it</instructions>" +
        "<field var='FORM_TYPE' type='hidden'><value>jabber:iq:register</value></field>" +
        "<field var='username' type='text-single' label='Username'><required/></field></x>",
    );
    expect(renderForm(def, { username: "juliet" }, "submit").toString()).toBe(
      "<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>jabber:iq:register</value></field>" +
        "<field var='username' type='text-single'><value>juliet</value></field></x>",
    );
  });

  it("takes dynamic options per call and selects defaults of list-multi", () => {
    const def: FormDef = { fields: [{ var: "groups", type: "list-multi", options: [{ value: "x", default: true }] }] };
    expect(renderForm(def, {}, "form").toString()).toBe(
      "<x xmlns='jabber:x:data' type='form'><field var='groups' type='list-multi'><option><value>x</value></option><value>x</value></field></x>",
    );
    const dyn = renderForm(def, { groups: ["Friends"] }, "form", { options: { groups: ["Friends", "Work"] } });
    expect(dyn.childElements("field")[0].childElements("option").map((o) => o.attrs.label)).toEqual(["Friends", "Work"]);
    expect(dyn.childElements("field")[0].childElements("value").map((v) => v.getText())).toEqual(["Friends"]);
  });

  it("matches the XEP-0157 form of server_contact_info.scs", () => {
    const def: FormDef = {
      formType: "http://jabber.org/network/serverinfo",
      fields: ["abuse", "admin"].map((n) => ({ var: `${n}-addresses`, name: n, type: "list-multi" as const })),
    };
    expect(renderForm(def, { abuse: ["mailto:abuse@localhost", "xmpp:abuse@localhost"] }, "result").toString()).toBe(
      "<x xmlns='jabber:x:data' type='result'><field var='FORM_TYPE' type='hidden'><value>http://jabber.org/network/serverinfo</value></field>" +
        "<field var='abuse-addresses' type='list-multi'><value>mailto:abuse@localhost</value><value>xmpp:abuse@localhost</value></field>" +
        "<field var='admin-addresses' type='list-multi'/></x>",
    );
  });

  it("round-trips: what it renders as submit parses back to the same values", () => {
    const values = { title: "Nice tunes", max_items: 10, persist_items: true, access_model: "roster", roster_groups_allowed: ["A", "B"], notification_type: "normal", contact: ["a@b.c", "d@e.f/r"], owner: "o@p.q", body: "l1\nl2", secret: "pw" };
    const parsed = parseForm(nodeConfig, renderForm(nodeConfig, values, "submit"));
    expect(parsed.ok && parsed.values).toEqual(values);
  });
});

describe("parseForm", () => {
  const submit = (fields: string, attrs = "type='submit'") => xml(`<x xmlns='jabber:x:data' ${attrs}>${fields}</x>`);
  const ft = "<field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#node_config</value></field>";
  const secret = "<field var='pubsub#secret'><value>s</value></field>";

  it("types values: booleans in every spelling, integers, lists, JIDs (prepared)", () => {
    for (const [raw, want] of [["1", true], ["true", true], ["0", false], ["false", false]] as const) {
      const r = parseForm(nodeConfig, submit(`${ft}<field var='pubsub#persist_items'><value>${raw}</value></field>${secret}`));
      expect(r.ok && r.values.persist_items).toBe(want);
    }
    const r = parseForm(
      nodeConfig,
      submit(
        `${ft}<field var='pubsub#max_items'><value>42</value></field>` +
          "<field var='pubsub#contact'><value>Romeo@Example.COM</value><value>juliet@example.com/Balcony</value></field>" +
          "<field var='pubsub#owner'><value>Owner@Example.com</value></field>" +
          "<field var='pubsub#roster_groups_allowed'><value>Friends</value><value>Family</value></field>" +
          "<field var='pubsub#body'><value>a</value><value>b</value></field>" +
          secret,
      ),
    );
    expect(r).toMatchObject({
      ok: true,
      type: "submit",
      formType: "http://jabber.org/protocol/pubsub#node_config",
      values: { max_items: 42, contact: ["romeo@example.com", "juliet@example.com/Balcony"], owner: "owner@example.com", roster_groups_allowed: ["Friends", "Family"], body: "a\nb", secret: "s" },
    });
    expect(r.ok && [...r.present].sort()).toEqual(["body", "contact", "max_items", "owner", "roster_groups_allowed", "secret"]);
    const max = parseForm(nodeConfig, submit(`<field var='pubsub#max_items'><value>max</value></field>${secret}`));
    expect(max.ok && max.values.max_items).toBe("max");
  });

  it("rejects malformed values, naming the field", () => {
    const cases: Array<[string, string, RegExp]> = [
      ["<field var='pubsub#persist_items'><value>yes</value></field>", "pubsub#persist_items", /boolean/],
      ["<field var='pubsub#max_items'><value>ten</value></field>", "pubsub#max_items", /integer/],
      ["<field var='pubsub#max_items'><value>1.5</value></field>", "pubsub#max_items", /integer/],
      ["<field var='pubsub#max_items'><value>0</value></field>", "pubsub#max_items", /minimum/],
      ["<field var='pubsub#max_items'><value>1000</value></field>", "pubsub#max_items", /maximum/],
      ["<field var='pubsub#owner'><value>not@valid@jid</value></field>", "pubsub#owner", /Invalid JID/],
      ["<field var='pubsub#contact'><value>a@b</value><value>@bad</value></field>", "pubsub#contact", /Invalid JID/],
      ["<field var='pubsub#access_model'><value>everyone</value></field>", "pubsub#access_model", /not one of the options/],
      ["<field var='pubsub#title'><value>a</value><value>b</value></field>", "pubsub#title", /single value/],
      ["<field var='pubsub#title'><value>a</value></field><field var='pubsub#title'><value>b</value></field>", "pubsub#title", /more than once/],
    ];
    for (const [fields, field, error] of cases) {
      const r = parseForm(nodeConfig, submit(fields + secret));
      expect(r.ok, fields).toBe(false);
      if (!r.ok) {
        expect(r.field).toBe(field);
        expect(r.error).toMatch(error);
      }
    }
  });

  it("requires required fields (missing or empty) unless a current value fills in", () => {
    const missing = parseForm(nodeConfig, submit(ft));
    expect(missing).toEqual({ ok: false, error: "Required value missing", field: "pubsub#secret" });
    const empty = parseForm(nodeConfig, submit("<field var='pubsub#secret'><value></value></field>"));
    expect(empty).toMatchObject({ ok: false, field: "pubsub#secret" });
    const filled = parseForm(nodeConfig, submit(ft), { current: { secret: "old", title: "Old title", roster_groups_allowed: ["G"] } });
    expect(filled.ok && filled.values).toEqual({ secret: "old", title: "Old title", roster_groups_allowed: ["G"] });
    expect(filled.ok && filled.present.size).toBe(0);
  });

  it("checks FORM_TYPE, the form element and its type", () => {
    expect(parseForm(nodeConfig, submit(`<field var='FORM_TYPE' type='hidden'><value>urn:other</value></field>${secret}`))).toMatchObject({ ok: false, field: "FORM_TYPE" });
    expect(parseForm(nodeConfig, submit(secret), { requireFormType: true })).toMatchObject({ ok: false, field: "FORM_TYPE" });
    expect(parseForm(nodeConfig, submit(secret)).ok).toBe(true);
    expect(parseForm(nodeConfig, xml("<x xmlns='urn:not-forms'/>"))).toMatchObject({ ok: false });
    expect(parseForm(nodeConfig, submit(secret, "type='bogus'"))).toMatchObject({ ok: false });
    expect(parseForm(nodeConfig, submit("<field><value>x</value></field>"))).toMatchObject({ ok: false, error: "A field has no var" });
    expect(parseForm(nodeConfig, submit("<field var='pubsub#title' type='weird'/>"))).toMatchObject({ ok: false, field: "pubsub#title" });
  });

  it("reports unknown fields and lets dynamic options validate lists", () => {
    const r = parseForm(nodeConfig, submit(`${ft}<field var='x-custom'><value>1</value></field>${secret}`));
    expect(r.ok && r.unknown).toEqual(["x-custom"]);
    const groups = submit(`<field var='pubsub#roster_groups_allowed'><value>Work</value></field>${secret}`);
    expect(parseForm(nodeConfig, groups, { options: { roster_groups_allowed: ["Friends"] } })).toMatchObject({ ok: false, field: "pubsub#roster_groups_allowed" });
    expect(parseForm(nodeConfig, groups, { options: { roster_groups_allowed: ["Friends", "Work"] } }).ok).toBe(true);
  });

  it("clears a text field sent empty but leaves typed empty fields unset", () => {
    const r = parseForm(nodeConfig, submit(`<field var='pubsub#title'/><field var='pubsub#max_items'><value/></field><field var='pubsub#persist_items'/>${secret}`));
    expect(r.ok && r.values).toEqual({ secret: "s" });
    const r2 = parseForm(nodeConfig, submit(`<field var='pubsub#title'><value/></field>${secret}`));
    expect(r2.ok && r2.values).toEqual({ title: "", secret: "s" });
  });
});

describe("getFormType / findForm", () => {
  it("finds forms by FORM_TYPE", () => {
    const parent = xml(
      "<query xmlns='http://jabber.org/protocol/disco#info'><x xmlns='jabber:x:data' type='result'/>" +
        "<x xmlns='jabber:x:data' type='result'><field var='FORM_TYPE' type='hidden'><value>urn:a</value></field></x></query>",
    );
    expect(findForm(parent)!.childElements().length).toBe(0);
    expect(getFormType(findForm(parent)!)).toBe("");
    expect(getFormType(findForm(parent, "urn:a")!)).toBe("urn:a");
    expect(findForm(parent, "urn:b")).toBeUndefined();
    expect(getFormType(parent)).toBeUndefined();
  });

  it("reads raw values by var without a definition, and finds no form in nothing", () => {
    const x = renderForm({ formType: "urn:a", fields: [{ var: "m", type: "list-multi" }, { var: "e" }, { var: "t" }] }, { m: ["1", "2"], t: "x" }, "submit");
    expect([...rawFormValues(x)]).toEqual([
      ["FORM_TYPE", ["urn:a"]],
      ["m", ["1", "2"]],
      ["e", []],
      ["t", ["x"]],
    ]);
    expect(findForm(undefined)).toBeUndefined();
  });
});
