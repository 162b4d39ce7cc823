// The XML of XEP-0077 (In-Band Registration), as pure functions: the registration form, and reading
// what a client sent (legacy <username/>/<password/> fields or a XEP-0004 form).

import { findForm, getFormType, parseForm, renderForm, type FormDef } from "../../src/util/dataforms.js";
import { Element } from "../../src/xml/stanza.js";
import { NS_REGISTER } from "../../src/xml/ns.js";
export { NS_REGISTER };

export const NS_REGISTER_FEATURE = "http://jabber.org/features/iq-register";
/** XEP-0077 §3.3: the FORM_TYPE of a password change by form. */
export const NS_CHANGEPASSWORD = "jabber:iq:register:changepassword";

export interface RegistrationTexts {
  title: string;
  instructions: string;
}

export function registrationForm(texts: RegistrationTexts): FormDef {
  return {
    formType: NS_REGISTER,
    title: texts.title,
    instructions: texts.instructions,
    fields: [
      { var: "username", type: "text-single", label: "Username", required: true },
      { var: "password", type: "text-private", label: "Password", required: true },
    ],
  };
}

/** XEP-0077 §3.1: what an unregistered client gets: instructions, the legacy fields, and the form. */
export function registrationQuery(texts: RegistrationTexts): Element {
  return new Element("query", { xmlns: NS_REGISTER })
    .textTag("instructions", texts.instructions)
    .tag("username").up()
    .tag("password").up()
    .add(renderForm(registrationForm(texts), undefined, "form"));
}

/** XEP-0077 §3.2.1 (Example 4): what a registered, logged-in client gets. */
export function registeredQuery(username: string): Element {
  return new Element("query", { xmlns: NS_REGISTER }).tag("registered").up().textTag("username", username).tag("password").up();
}

export type Submission = { ok: true; username: string; password: string } | { ok: false; error: string };

/** Username and password from a set: the data form if there is one, else the legacy fields. */
export function readSubmission(query: Element, texts: RegistrationTexts): Submission {
  const x = findForm(query);
  if (x) {
    const def = registrationForm(texts);
    // A password change by form carries its own FORM_TYPE (XEP-0077 §3.3) with the same fields.
    const ft = getFormType(x);
    const parsed = parseForm(ft === NS_CHANGEPASSWORD ? { ...def, formType: NS_CHANGEPASSWORD } : def, x);
    if (!parsed.ok) return { ok: false, error: parsed.field ? `${capitalize(parsed.field)}: ${parsed.error}` : parsed.error };
    return { ok: true, username: String(parsed.values.username), password: String(parsed.values.password) };
  }
  const username = query.getChildText("username");
  const password = query.getChildText("password");
  if (username === undefined || username === "") return { ok: false, error: "Username: Required value missing" };
  if (password === undefined || password === "") return { ok: false, error: "Password: Required value missing" };
  return { ok: true, username, password };
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
