// XEP-0157: Contact Addresses for XMPP Services, as a XEP-0128 form in the host's disco#info.
//
//   contact_info = { abuse = { "mailto:abuse@example.com" }; admin = { "xmpp:admin@example.com" } }
//
// Without `contact_info`, the admins (`admins` option) are listed as xmpp: admin addresses.
// The fields come in the registry's order (XEP-0157 §5), every one of them, empty or not.

import { defineModule } from "../../src/modules/api.js";
import { ConfigTable } from "../../src/config/options.js";
import { renderForm, type FormDef } from "../../src/util/dataforms.js";

export const FORM_TYPE_SERVERINFO = "http://jabber.org/network/serverinfo";
export const CONTACT_KINDS = ["abuse", "admin", "feedback", "sales", "security", "status", "support"] as const;

export const serverInfoForm: FormDef = {
  formType: FORM_TYPE_SERVERINFO,
  fields: CONTACT_KINDS.map((kind) => ({ var: `${kind}-addresses`, name: kind, type: "list-multi" as const })),
};

export default defineModule({
  load(module) {
    const table = module.options.table("contact_info");
    const values: Record<string, string[]> = {};
    if (table) {
      for (const key of table.keys()) {
        if (!(CONTACT_KINDS as readonly string[]).includes(key)) {
          module.log.warn(`contact_info: '${key}' is not a kind of contact address (${CONTACT_KINDS.join(", ")}); ignored`);
          continue;
        }
        const v = table.get(key);
        const list = typeof v === "string" ? [v] : v instanceof ConfigTable ? v.stringArray() : undefined;
        if (list === undefined) module.log.warn(`contact_info.${key} must be a list of URIs; ignored`);
        else values[key] = list;
      }
    } else {
      const admins = [...module.options.inheritedSet("admins")];
      if (admins.length) values.admin = admins.map((jid) => `xmpp:${jid}`);
    }
    module.addDiscoExtension(() => renderForm(serverInfoForm, values, "result"));
  },
});
