// Substitutions: adapting a shared script to the server under test without editing the script.
//
// Some scripts check another server's identity (version.scs expects <name>Prosody</name>). A
// substitution replaces an exact piece of text in the XML blocks of one script before the run:
// by default in its `receives:` blocks (the expected stanzas), optionally in `sends:` blocks.
// Every substitution must still apply: one whose `find` text occurs in no block of its script makes
// that script fail, so a changed script cannot silently slip out of its adaptation.
//
// The list used for Herald is `heraldSubstitutions` below. A run against another server (for example
// the reference Prosody) uses none. See README.md, "Substitutions".

import type { Script, Step } from "./parser.js";

export interface Substitution {
  /** The script, as a path relative to the shared scansion folder (e.g. "core/version.scs"). */
  script: string;
  /** Exact text to find in the script's XML blocks (every occurrence is replaced). */
  find: string;
  replace: string;
  /** Which blocks: the expected stanzas (default), the sent ones, or both. */
  in?: "receives" | "sends" | "both";
  /** Why the script needs it. */
  reason: string;
}

/**
 * An expected stanza the script leaves out, inserted as a `receives:` step before the step at
 * `beforeLine`. Matching stays strict: the inserted stanza must arrive exactly there.
 */
export interface Insertion {
  script: string;
  beforeLine: number;
  client: string;
  /** The stanza, in the script's own syntax (variables such as ${Juliet's phone's full JID} work). */
  receives: string;
  reason: string;
}

export function isInsertion(s: Substitution | Insertion): s is Insertion {
  return "beforeLine" in s;
}

/** Substitutions for running the shared suite against Herald. */
export const heraldSubstitutions: Array<Substitution | Insertion> = [
  {
    script: "pep/bookmarks2.scs",
    beforeLine: 76,
    client: "Juliet",
    receives: `<presence from="\${Juliet's full JID}" id='presence0'/>`,
    reason:
      "RFC 6121 §4.2.2: the server echoes a client's initial presence back to it; the script lists the caps query but not " +
      "the echo that follows it (the pep_* scripts list it at the same place, and the reference Prosody sends it too)",
  },
  {
    script: "core/basic_message.scs",
    beforeLine: 134,
    client: "Juliet",
    receives: `<presence from="\${Juliet's phone's full JID}"/>`,
    reason:
      "RFC 6121 §4.4.2 / Prosody's mod_presence: a resource's initial presence is answered with the presence of the user's other " +
      "available resources (here the phone); the script does not list that stanza (the reference Prosody sends it too)",
  },
  {
    script: "core/version.scs",
    find: "<name>Prosody</name>",
    replace: "<name>Herald</name>",
    reason: "XEP-0092 software name: the script checks Prosody's own name",
  },
];

/** Whether `path` names the script `key` (a relative path matched on whole path segments). */
export function pathMatches(path: string, key: string): boolean {
  const p = path.replace(/\\/g, "/");
  const k = key.replace(/\\/g, "/").replace(/^\.\//, "");
  return p === k || p.endsWith(`/${k}`);
}

/**
 * Apply the substitutions that concern `script` (matched by its path) to a copy of its steps.
 * Returns the new script, and an error message per substitution that matched nothing.
 */
export function applySubstitutions(script: Script, all: readonly (Substitution | Insertion)[]): { script: Script; errors: string[] } {
  const inserts = all.filter((s): s is Insertion => isInsertion(s) && pathMatches(script.path, s.script));
  const mine = all.filter((s): s is Substitution => !isInsertion(s) && pathMatches(script.path, s.script));
  const insertErrors: string[] = [];
  if (inserts.length) {
    const steps: Step[] = [];
    const used = new Set<Insertion>();
    for (const step of script.steps) {
      for (const ins of inserts) {
        if (ins.beforeLine !== step.line) continue;
        if (!script.clients.has(ins.client)) continue;
        steps.push({ action: "receives", client: ins.client, line: step.line, xml: ins.receives, xmlLine: step.line });
        used.add(ins);
      }
      steps.push(step);
    }
    for (const ins of inserts) {
      if (!used.has(ins)) insertErrors.push(`insertion for ${ins.script} no longer applies: no step for ${ins.client} at line ${ins.beforeLine}`);
    }
    script = { ...script, steps };
  }
  if (mine.length === 0) return { script, errors: insertErrors };
  const used = new Set<Substitution>();
  const steps: Step[] = script.steps.map((step) => {
    if (step.action !== "sends" && step.action !== "receives") return step;
    let xml = step.xml;
    for (const s of mine) {
      const where = s.in ?? "receives";
      if (where !== "both" && where !== step.action) continue;
      if (xml.includes(s.find)) {
        xml = xml.split(s.find).join(s.replace);
        used.add(s);
      }
    }
    return xml === step.xml ? step : { ...step, xml };
  });
  const errors = mine
    .filter((s) => !used.has(s))
    .map((s) => `substitution for ${s.script} no longer applies: ${JSON.stringify(s.find)} occurs in no ${s.in ?? "receives"} block`);
  return { script: { ...script, steps }, errors: [...insertErrors, ...errors] };
}
