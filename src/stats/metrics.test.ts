import { describe, expect, it } from "vitest";
import { MetricsRegistry } from "./metrics.js";

describe("metrics registry, OpenMetrics rendering", () => {
  it("renders counters with _total, gauges, label escaping and # EOF last", async () => {
    const r = new MetricsRegistry();
    const c = r.counter("test_events", "Events seen", ["host", "kind"]);
    c.inc(["a.example", "x"]);
    c.inc(["a.example", "x"], 2);
    c.inc(['b"\\\n', "y"]);
    r.gauge("test_level", "Level\nwith a newline").set([], 1.5);
    expect(await r.render()).toBe(
      [
        "# TYPE test_events counter",
        "# HELP test_events Events seen",
        'test_events_total{host="a.example",kind="x"} 3',
        'test_events_total{host="b\\"\\\\\\n",kind="y"} 1',
        "# TYPE test_level gauge",
        "# HELP test_level Level\\nwith a newline",
        "test_level 1.5",
        "# EOF",
        "",
      ].join("\n"),
    );
  });

  it("renders histograms with cumulative buckets, +Inf, count and sum", async () => {
    const r = new MetricsRegistry();
    const h = r.histogram("test_write_seconds", "Writes", ["store"], { unit: "seconds", buckets: [0.01, 0.1, 1] });
    const seen = [0.005, 0.01, 0.05, 0.5, 7];
    for (const v of seen) h.observe(["kv"], v);
    expect((await r.render()).split("\n")).toEqual([
      "# TYPE test_write_seconds histogram",
      "# UNIT test_write_seconds seconds",
      "# HELP test_write_seconds Writes",
      'test_write_seconds_bucket{store="kv",le="0.01"} 2',
      'test_write_seconds_bucket{store="kv",le="0.1"} 3',
      'test_write_seconds_bucket{store="kv",le="1"} 4',
      'test_write_seconds_bucket{store="kv",le="+Inf"} 5',
      'test_write_seconds_count{store="kv"} 5',
      `test_write_seconds_sum{store="kv"} ${seen.reduce((a, b) => a + b, 0)}`,
      "# EOF",
      "",
    ]);
  });

  it("shares a family by name, refuses a clash and bad names, runs collectors before rendering", async () => {
    const r = new MetricsRegistry();
    expect(r.counter("test_shared", "x", ["host"])).toBe(r.counter("test_shared", "x", ["host"]));
    expect(() => r.gauge("test_shared", "x", ["host"])).toThrow(/another type/);
    expect(() => r.counter("test_shared", "x", ["other"])).toThrow(/another type or labels/);
    expect(() => r.counter("bad-name", "x")).toThrow(/Invalid metric name/);
    expect(() => r.counter("test_shared", "x", ["host"]).inc(["a", "b"])).toThrow(/expected labels host/);
    let n = 0;
    const g = r.gauge("test_collected", "x");
    const off = r.onCollect(() => g.set([], ++n));
    r.onCollect(() => {
      throw new Error("a broken collector");
    });
    expect(await r.render()).toContain("test_collected 1\n");
    expect(await r.render()).toContain("test_collected 2\n");
    off();
    expect(await r.render()).toContain("test_collected 2\n");
  });
});
