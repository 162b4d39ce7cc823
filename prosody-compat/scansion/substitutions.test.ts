import { describe, expect, it } from "vitest";
import { parseScript } from "./parser.js";
import { applySubstitutions, heraldSubstitutions, type Insertion } from "./substitutions.js";

const SCRIPT = `# t

[Client] Romeo
	jid: romeo@localhost
	password: password

-----

Romeo connects

Romeo sends:
	<presence/>

Romeo receives:
	<presence/>
`;

describe("insertions", () => {
  it("insert an expected stanza before the step at a line, for one client", () => {
    const script = parseScript(SCRIPT, "core/t.scs");
    const line = script.steps.find((s) => s.action === "receives")!.line;
    const ins: Insertion = { script: "core/t.scs", beforeLine: line, client: "Romeo", receives: "<message/>", reason: "test" };
    const { script: out, errors } = applySubstitutions(script, [ins]);
    expect(errors).toEqual([]);
    expect(out.steps.map((s) => s.action)).toEqual(["connects", "sends", "receives", "receives"]);
    expect((out.steps[2] as { xml: string }).xml).toBe("<message/>");
  });

  it("report an insertion that no longer applies", () => {
    const script = parseScript(SCRIPT, "core/t.scs");
    const { errors } = applySubstitutions(script, [{ script: "core/t.scs", beforeLine: 999, client: "Romeo", receives: "<message/>", reason: "test" }]);
    expect(errors[0]).toMatch(/no longer applies/);
  });

  it("every Herald adaptation says why", () => {
    for (const s of heraldSubstitutions) expect(s.reason.length).toBeGreaterThan(20);
  });
});
