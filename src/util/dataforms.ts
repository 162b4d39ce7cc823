// XEP-0004: Data Forms, as pure code: a form definition renders to <x xmlns='jabber:x:data'/> and
// reads submitted forms back into typed values.
//
// A definition lists fields in the order they are rendered (Prosody's scansion scripts compare forms
// strictly, so order and attributes are part of the contract). Inside a <field/> the children come
// in Prosody's order: <desc/>, <validate/> (XEP-0122), <option/>s, <value/>s, <required/>.
// Values are keyed by `name` (defaults to `var`, the protocol name).
//
//   const def: FormDef = { formType: "urn:example", fields: [{ var: "x", type: "boolean", label: "X" }] };
//   renderForm(def, { x: true }, "form")     // <x type='form'> FORM_TYPE field, then x
//   parseForm(def, submittedX)               // { ok: true, values: { x: true }, ... }

import { Element } from "../xml/stanza.js";
import { jidPrep } from "./jid.js";
import { NS_DATA } from "../xml/ns.js";
export { NS_DATA };

export const NS_XDATA_VALIDATE = "http://jabber.org/protocol/xdata-validate"; // XEP-0122

export type FieldType =
  | "boolean"
  | "fixed"
  | "hidden"
  | "jid-multi"
  | "jid-single"
  | "list-multi"
  | "list-single"
  | "text-multi"
  | "text-private"
  | "text-single";

const FIELD_TYPES = new Set<string>([
  "boolean", "fixed", "hidden", "jid-multi", "jid-single", "list-multi", "list-single", "text-multi", "text-private", "text-single",
]);

/** XEP-0004 §3.2: the types of form a <x/> can be. */
export type FormType = "form" | "submit" | "cancel" | "result";
const FORM_TYPES = new Set<string>(["form", "submit", "cancel", "result"]);

export interface FieldOption {
  value: string;
  /** Rendered as the option's label; a plain string option is its own label (as Prosody does). */
  label?: string;
  /** Selected when the form is rendered without a value for the field. */
  default?: boolean;
}

export type OptionList = ReadonlyArray<string | FieldOption>;

export interface FieldDef {
  /** The protocol name (`var` attribute). */
  var: string;
  /** The key in value maps; defaults to `var`. */
  name?: string;
  /** Defaults to text-single (XEP-0004 §3.3). */
  type?: FieldType;
  label?: string;
  desc?: string;
  required?: boolean;
  /** A value rendered when none is given (e.g. the FORM_TYPE of a hidden field). */
  value?: FieldValue;
  /** Options of list-single / list-multi fields, rendered in forms of type "form". */
  options?: OptionList;
  /** Accept submitted values that are not among `options`. */
  openOptions?: boolean;
  /** XEP-0122 datatype, e.g. "xs:integer"; also used to convert submitted values. */
  datatype?: string;
  /** XEP-0122 §3.2.3 range, rendered inside <validate/> and enforced on numeric datatypes. */
  range?: { min?: number; max?: number };
}

export interface FormDef {
  /** The FORM_TYPE (XEP-0068), rendered as the first field, a hidden one. */
  formType?: string;
  title?: string;
  instructions?: string;
  fields: readonly FieldDef[];
}

export type FieldValue = string | number | boolean | readonly string[];
export type FormValues = Readonly<Record<string, FieldValue | null | undefined>>;

export interface RenderOptions {
  /** Options per field name that replace the definition's (e.g. a user's roster groups). */
  options?: Readonly<Record<string, OptionList | undefined>>;
}

export interface ParseOptions {
  /** Values of fields the submission leaves out (e.g. a node's current configuration). */
  current?: FormValues;
  /** Options per field name that replace the definition's, for validating list values. */
  options?: Readonly<Record<string, OptionList | undefined>>;
  /** Fail when the form has no FORM_TYPE field (a mismatching one always fails). */
  requireFormType?: boolean;
}

export type ParsedValue = string | number | boolean | string[];

export type ParseResult =
  | {
      ok: true;
      /** Typed values by field name: boolean, string, string[] (list-multi, jid-multi), number (numeric datatypes). */
      values: Record<string, ParsedValue>;
      /** Names of the fields the submission contained. */
      present: Set<string>;
      /** The type attribute of the submitted form. */
      type: FormType;
      /** Its FORM_TYPE, when it has one. */
      formType?: string;
      /** `var`s the definition does not know, in document order (FORM_TYPE excluded). */
      unknown: string[];
    }
  | { ok: false; error: string; field?: string };

const nameOf = (f: FieldDef): string => f.name ?? f.var;

// ---- rendering ----

/** Render a form. "form": everything; "result": labels and values; "submit": vars, types and values only. */
export function renderForm(def: FormDef, values: FormValues | undefined, type: "form" | "result" | "submit", opts: RenderOptions = {}): Element {
  const x = new Element("x", { xmlns: NS_DATA, type });
  if (type !== "submit") {
    if (def.title !== undefined) x.add(new Element("title", {}, [def.title]));
    if (def.instructions !== undefined) x.add(new Element("instructions", {}, [def.instructions]));
  }
  if (def.formType !== undefined && !def.fields.some((f) => f.var === "FORM_TYPE")) {
    x.add(new Element("field", { var: "FORM_TYPE", type: "hidden" }, [valueEl(def.formType)]));
  }
  for (const field of def.fields) x.add(renderField(field, values?.[nameOf(field)], type, opts.options?.[nameOf(field)]));
  return x;
}

function valueEl(text: string): Element {
  return new Element("value", {}, text === "" ? [] : [text]);
}

function renderField(field: FieldDef, given: FieldValue | null | undefined, type: "form" | "result" | "submit", dynamicOptions: OptionList | undefined): Element {
  const ftype = field.type ?? "text-single";
  const attrs: Record<string, string> = { var: field.var, type: ftype };
  if (type !== "submit" && field.label !== undefined) attrs.label = field.label;
  const el = new Element("field", attrs);
  if (type !== "submit" && field.desc !== undefined) el.add(new Element("desc", {}, [field.desc]));
  if (type === "form" && field.datatype !== undefined) {
    // XEP-0122 §3.2: <basic/> is implied when no method is given.
    const validate = new Element("validate", { xmlns: NS_XDATA_VALIDATE, datatype: field.datatype });
    if (field.range && (field.range.min !== undefined || field.range.max !== undefined)) {
      const r: Record<string, string> = {};
      if (field.range.min !== undefined) r.min = String(field.range.min);
      if (field.range.max !== undefined) r.max = String(field.range.max);
      validate.add(new Element("range", r));
    }
    el.add(validate);
  }

  let value: FieldValue | undefined = given ?? field.value;
  if (type === "form" && (ftype === "list-single" || ftype === "list-multi")) {
    const options = dynamicOptions ?? field.options;
    if (options) {
      const defaults: string[] = [];
      for (const o of options) {
        const opt = typeof o === "string" ? { value: o, label: o } : o;
        const optAttrs: Record<string, string> = opt.label === undefined ? {} : { label: opt.label };
        el.add(new Element("option", optAttrs, [valueEl(opt.value)]));
        if (opt.default) defaults.push(opt.value);
      }
      if (value === undefined && defaults.length) value = ftype === "list-single" ? defaults[0] : defaults;
    }
  }

  if (value !== undefined) for (const v of renderValues(ftype, value)) el.add(valueEl(v));
  if (type === "form" && field.required) el.add(new Element("required"));
  return el;
}

function scalar(v: string | number | boolean): string {
  if (typeof v === "boolean") return v ? "1" : "0";
  return String(v);
}

function truthy(v: FieldValue): boolean {
  if (typeof v === "boolean") return v;
  if (typeof v === "number") return v !== 0;
  if (typeof v === "string") return v === "1" || v === "true";
  return v.length > 0 && (v[0] === "1" || v[0] === "true");
}

/** The <value/> texts of a field value. */
function renderValues(ftype: FieldType, value: FieldValue): string[] {
  switch (ftype) {
    case "boolean":
      return [truthy(value) ? "1" : "0"];
    case "list-multi":
    case "jid-multi":
      return Array.isArray(value) ? [...(value as readonly string[])] : [scalar(value as string | number | boolean)];
    case "text-multi": {
      // One <value/> per line (XEP-0004 §3.3); like Prosody, blank lines are not sent.
      const lines = Array.isArray(value) ? (value as readonly string[]) : scalar(value as string | number | boolean).split(/\r?\n/);
      return lines.filter((l) => l !== "");
    }
    default: {
      if (Array.isArray(value)) return value.length ? [String(value[0])] : [];
      return [scalar(value as string | number | boolean)];
    }
  }
}

// ---- reading ----

/** The FORM_TYPE of a data form ("" when it has none), or undefined when `x` is not a data form. */
export function getFormType(x: Element): string | undefined {
  if (x.name !== "x" || x.attrs.xmlns !== NS_DATA) return undefined;
  for (const f of x.childElements("field")) if (f.attrs.var === "FORM_TYPE") return f.getChildText("value") ?? "";
  return "";
}

/** The first data form child of `parent` (optionally with this FORM_TYPE). */
export function findForm(parent: Element | undefined, formType?: string): Element | undefined {
  if (!parent) return undefined;
  for (const x of parent.childElements("x", NS_DATA)) {
    if (formType === undefined || getFormType(x) === formType) return x;
  }
  return undefined;
}

/**
 * Submitted values by `var`, without a definition: every <value/> of each field, in document order
 * (FORM_TYPE included). For forms whose fields are only known at run time (node configuration
 * handed to the pubsub service, webhook commands); parseForm() where there is a definition.
 */
export function rawFormValues(x: Element): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const f of x.childElements("field")) {
    const name = f.attrs.var;
    if (name === undefined) continue;
    out.set(name, f.childElements("value").map((v) => v.getText()));
  }
  return out;
}

const SINGLE_TYPES = new Set<FieldType>(["boolean", "fixed", "hidden", "jid-single", "list-single", "text-private", "text-single"]);

/** Read a submitted form against a definition. Fails on the first problem, in definition order. */
export function parseForm(def: FormDef, x: Element, opts: ParseOptions = {}): ParseResult {
  if (x.name !== "x" || x.attrs.xmlns !== NS_DATA) return { ok: false, error: "Not a data form" };
  const type = x.attrs.type ?? "submit";
  if (!FORM_TYPES.has(type)) return { ok: false, error: `Invalid form type '${type}'` };

  // XEP-0004 §3.2: a field's var is unique within the form.
  const byVar = new Map<string, Element>();
  for (const f of x.childElements("field")) {
    const v = f.attrs.var;
    if (v === undefined) {
      if (f.attrs.type === "fixed") continue; // fixed fields need no var
      return { ok: false, error: "A field has no var" };
    }
    if (byVar.has(v)) return { ok: false, error: `Field '${v}' appears more than once`, field: v };
    if (f.attrs.type !== undefined && !FIELD_TYPES.has(f.attrs.type)) return { ok: false, error: `Field '${v}' has an unknown type`, field: v };
    byVar.set(v, f);
  }

  let formType: string | undefined;
  const ft = byVar.get("FORM_TYPE");
  if (ft) {
    const values = ft.childElements("value");
    if (values.length !== 1) return { ok: false, error: "FORM_TYPE needs exactly one value", field: "FORM_TYPE" };
    formType = values[0].getText();
  }
  if (def.formType !== undefined) {
    if (formType !== undefined && formType !== def.formType) return { ok: false, error: `Wrong FORM_TYPE '${formType}'`, field: "FORM_TYPE" };
    if (formType === undefined && opts.requireFormType) return { ok: false, error: "FORM_TYPE is missing", field: "FORM_TYPE" };
  }

  const values: Record<string, ParsedValue> = {};
  const present = new Set<string>();
  const known = new Set<string>(["FORM_TYPE"]);
  for (const field of def.fields) {
    known.add(field.var);
    if (field.var === "FORM_TYPE") continue;
    const name = nameOf(field);
    const tag = byVar.get(field.var);
    if (!tag) {
      const cur = opts.current?.[name];
      if (cur !== undefined && cur !== null) values[name] = (Array.isArray(cur) ? [...cur] : cur) as ParsedValue;
      else if (field.required) return { ok: false, error: "Required value missing", field: field.var };
      continue;
    }
    present.add(name);
    const read = readField(field, tag, opts.options?.[name] ?? field.options);
    if (!read.ok) return { ok: false, error: read.error, field: field.var };
    if (read.value !== undefined) values[name] = read.value;
  }

  const unknown: string[] = [];
  for (const v of byVar.keys()) if (!known.has(v)) unknown.push(v);
  return { ok: true, values, present, type: type as FormType, formType, unknown };
}

type ReadResult = { ok: true; value?: ParsedValue } | { ok: false; error: string };

function readField(field: FieldDef, tag: Element, options: OptionList | undefined): ReadResult {
  const ftype = field.type ?? "text-single";
  const raw = tag.childElements("value").map((v) => v.getText());
  const allowed = options && !field.openOptions ? new Set(options.map((o) => (typeof o === "string" ? o : o.value))) : undefined;

  if (SINGLE_TYPES.has(ftype)) {
    // XEP-0004 §3.3: these types take at most one value.
    if (raw.length > 1) return { ok: false, error: "This field takes a single value" };
    const text = raw[0];
    // An empty value counts as missing (as in HTML forms; XEP-0004 does not say).
    if (text === undefined || text === "") {
      if (field.required) return { ok: false, error: "Required value missing" };
      // A text field sent empty is cleared; typed fields are simply left unset.
      if (text === "" && field.datatype === undefined && (ftype === "text-single" || ftype === "text-private" || ftype === "hidden" || ftype === "list-single")) {
        return { ok: true, value: "" };
      }
      return { ok: true };
    }
    switch (ftype) {
      case "boolean": {
        // XEP-0004 §3.3: "0"/"false" and "1"/"true".
        if (text === "1" || text === "true") return { ok: true, value: true };
        if (text === "0" || text === "false") return { ok: true, value: false };
        return { ok: false, error: `Invalid boolean '${text}'` };
      }
      case "jid-single": {
        const jid = jidPrep(text.trim());
        return jid === undefined ? { ok: false, error: `Invalid JID: ${text}` } : { ok: true, value: jid };
      }
      case "list-single":
        if (allowed && !allowed.has(text)) return { ok: false, error: `'${text}' is not one of the options` };
        break;
    }
    return field.datatype === undefined ? { ok: true, value: text } : validateDatatype(field, text);
  }

  // Multi-valued types.
  if (raw.length === 0 && field.required) return { ok: false, error: "Required value missing" };
  switch (ftype) {
    case "jid-multi": {
      const out: string[] = [];
      for (const r of raw) {
        const jid = jidPrep(r.trim());
        if (jid === undefined) return { ok: false, error: `Invalid JID: ${r}` };
        if (!out.includes(jid)) out.push(jid);
      }
      return { ok: true, value: out };
    }
    case "list-multi": {
      if (allowed) for (const r of raw) if (!allowed.has(r)) return { ok: false, error: `'${r}' is not one of the options` };
      return { ok: true, value: raw };
    }
    default: // text-multi: one line per <value/>
      return { ok: true, value: raw.join("\n") };
  }
}

const INTEGER_TYPES = new Set([
  "xs:integer", "xs:int", "xs:long", "xs:short", "xs:byte",
  "xs:nonNegativeInteger", "xs:positiveInteger", "xs:negativeInteger", "xs:nonPositiveInteger",
  "xs:unsignedInt", "xs:unsignedLong", "xs:unsignedShort", "xs:unsignedByte",
]);

/** XEP-0122 §3.1 datatypes: numbers and booleans are converted; unknown datatypes pass unchanged. */
function validateDatatype(field: FieldDef, text: string): ReadResult {
  const dt = field.datatype!;
  const t = text.trim();
  let n: number;
  if (dt === "pubsub:integer-or-max") {
    // XEP-0060 §16.4.4: an integer, or "max" for the service's maximum.
    if (t === "max") return { ok: true, value: "max" };
    if (!/^[+-]?\d+$/.test(t)) return { ok: false, error: `'${text}' is not an integer or "max"` };
    n = Number(t);
  } else if (INTEGER_TYPES.has(dt)) {
    if (!/^[+-]?\d+$/.test(t)) return { ok: false, error: `'${text}' is not an integer` };
    n = Number(t);
    if (!Number.isSafeInteger(n)) return { ok: false, error: `'${text}' is too large` };
    if ((dt === "xs:nonNegativeInteger" || dt.startsWith("xs:unsigned")) && n < 0) return { ok: false, error: `'${text}' is negative` };
    if (dt === "xs:positiveInteger" && n <= 0) return { ok: false, error: `'${text}' is not positive` };
  } else if (dt === "xs:decimal" || dt === "xs:double" || dt === "xs:float") {
    if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t)) return { ok: false, error: `'${text}' is not a number` };
    n = Number(t);
  } else if (dt === "xs:boolean") {
    if (t === "1" || t === "true") return { ok: true, value: true };
    if (t === "0" || t === "false") return { ok: true, value: false };
    return { ok: false, error: `Invalid boolean '${text}'` };
  } else {
    return { ok: true, value: text };
  }
  const range = field.range;
  if (range?.min !== undefined && n < range.min) return { ok: false, error: `${n} is below the minimum ${range.min}` };
  if (range?.max !== undefined && n > range.max) return { ok: false, error: `${n} is above the maximum ${range.max}` };
  return { ok: true, value: n };
}
