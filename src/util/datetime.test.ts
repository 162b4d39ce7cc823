import { describe, expect, it } from "vitest";
import { parseDateTime, xmppDateTime } from "./datetime.js";

describe("XEP-0082 DateTime", () => {
  it("writes UTC with whole seconds (truncated) or milliseconds", () => {
    expect(xmppDateTime(0)).toBe("1970-01-01T00:00:00Z");
    expect(xmppDateTime(1_031_699_305_999)).toBe("2002-09-10T23:08:25Z");
    expect(xmppDateTime(1_031_699_305_123, "milliseconds")).toBe("2002-09-10T23:08:25.123Z");
    expect(xmppDateTime(1_031_699_305_000, "milliseconds")).toBe("2002-09-10T23:08:25.000Z");
  });

  it("reads the XEP-0082 §3.2 profile: fraction optional, Z or an offset", () => {
    expect(parseDateTime("2002-09-10T23:08:25Z")).toBe(1_031_699_305_000);
    expect(parseDateTime(" 2002-09-10T23:08:25.123Z ")).toBe(1_031_699_305_123);
    expect(parseDateTime("2002-09-10T23:08:25.123456Z")).toBe(1_031_699_305_123);
    expect(parseDateTime("2002-09-10T17:08:25-06:00")).toBe(1_031_699_305_000);
    expect(parseDateTime("2002-09-11T01:38:25+02:30")).toBe(1_031_699_305_000);
    expect(parseDateTime("2024-02-29T00:00:00Z")).toBe(Date.UTC(2024, 1, 29));
    expect(parseDateTime("0050-01-01T00:00:00Z")).toBe(new Date("0050-01-01T00:00:00Z").getTime());
    expect(parseDateTime(xmppDateTime(1_700_000_000_000))).toBe(1_700_000_000_000);
  });

  it("refuses everything else", () => {
    for (const bad of [
      "",
      "2002-09-10",
      "2002-09-10T23:08:25",
      "2002-09-10 23:08:25Z",
      "2002-9-10T23:08:25Z",
      "2002-09-10T23:08Z",
      "2002-02-30T00:00:00Z",
      "2023-02-29T00:00:00Z",
      "2002-13-01T00:00:00Z",
      "2002-00-01T00:00:00Z",
      "2002-09-10T24:00:00Z",
      "2002-09-10T23:60:00Z",
      "2002-09-10T23:08:60Z",
      "2002-09-10T23:08:25+25:00",
      "2002-09-10T23:08:25+0200",
      "2002-09-10T23:08:25.Z",
      "Tue, 10 Sep 2002 23:08:25 GMT",
    ]) {
      expect(parseDateTime(bad)).toBeUndefined();
    }
  });
});
