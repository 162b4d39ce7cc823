// Herald's metrics: counters, gauges and histograms with labels, rendered in the OpenMetrics text
// format (mod_http_openmetrics serves them at /metrics). The core feeds what it sees itself
// (connections, stanzas, storage writes); modules add families of their own. Collectors run just
// before each rendering, for values that are read rather than counted (gauges of current state);
// a collector that fails is skipped, the rest is still served.

export type MetricType = "counter" | "gauge" | "histogram";

/** Seconds: from half a millisecond (an in-memory write) to several seconds (a stalled disk). */
export const DEFAULT_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

interface Series {
  labels: string[];
  value: number;
  /** Histograms: cumulative-to-be counts per bucket (non-cumulative while stored), and the sum. */
  buckets?: number[];
  sum?: number;
}

export class MetricFamily {
  private readonly series = new Map<string, Series>();

  constructor(
    readonly name: string,
    readonly type: MetricType,
    readonly help: string,
    readonly labelKeys: readonly string[],
    readonly unit?: string,
    readonly buckets: readonly number[] = DEFAULT_BUCKETS,
  ) {}

  private get(labels: readonly string[]): Series {
    if (labels.length !== this.labelKeys.length) throw new Error(`${this.name}: expected labels ${this.labelKeys.join(", ")}`);
    const key = labels.join("\0");
    let s = this.series.get(key);
    if (!s) {
      s = { labels: [...labels], value: 0 };
      if (this.type === "histogram") {
        s.buckets = Array.from({ length: this.buckets.length + 1 }, () => 0);
        s.sum = 0;
      }
      this.series.set(key, s);
    }
    return s;
  }

  /** Counters (and gauges): add n. */
  inc(labels: readonly string[] = [], n = 1): void {
    this.get(labels).value += n;
  }

  /** Gauges: set the value. */
  set(labels: readonly string[], value: number): void {
    this.get(labels).value = value;
  }

  /** Histograms: record one observation. */
  observe(labels: readonly string[], value: number): void {
    const s = this.get(labels);
    let i = 0;
    while (i < this.buckets.length && value > this.buckets[i]) i++;
    s.buckets![i]++;
    s.sum! += value;
    s.value++;
  }

  /** Forget every series (gauges recomputed on each collection). */
  clear(): void {
    this.series.clear();
  }

  value(labels: readonly string[] = []): number {
    return this.series.get(labels.join("\0"))?.value ?? 0;
  }

  render(out: string[]): void {
    out.push(`# TYPE ${this.name} ${this.type}`);
    if (this.unit) out.push(`# UNIT ${this.name} ${this.unit}`);
    out.push(`# HELP ${this.name} ${escapeHelp(this.help)}`);
    for (const s of this.series.values()) {
      const labels = (extra?: string) => {
        const parts = this.labelKeys.map((k, i) => `${k}="${escapeLabel(s.labels[i])}"`);
        if (extra) parts.push(extra);
        return parts.length ? `{${parts.join(",")}}` : "";
      };
      if (this.type === "counter") out.push(`${this.name}_total${labels()} ${num(s.value)}`);
      else if (this.type === "gauge") out.push(`${this.name}${labels()} ${num(s.value)}`);
      else {
        let cumulative = 0;
        for (let i = 0; i <= this.buckets.length; i++) {
          cumulative += s.buckets![i];
          const le = i < this.buckets.length ? num(this.buckets[i]) : "+Inf";
          out.push(`${this.name}_bucket${labels(`le="${le}"`)} ${cumulative}`);
        }
        out.push(`${this.name}_count${labels()} ${s.value}`);
        out.push(`${this.name}_sum${labels()} ${num(s.sum!)}`);
      }
    }
  }
}

function num(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

export const OPENMETRICS_CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8";

export class MetricsRegistry {
  private readonly families = new Map<string, MetricFamily>();
  private readonly collectors = new Set<() => void | Promise<void>>();

  /** The family of this name, created on first use (the same one for every caller). */
  family(type: MetricType, name: string, help: string, labelKeys: readonly string[] = [], opts: { unit?: string; buckets?: number[] } = {}): MetricFamily {
    const existing = this.families.get(name);
    if (existing) {
      if (existing.type !== type || existing.labelKeys.join() !== labelKeys.join()) throw new Error(`Metric ${name} already exists with another type or labels`);
      return existing;
    }
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(name)) throw new Error(`Invalid metric name ${name}`);
    const f = new MetricFamily(name, type, help, labelKeys, opts.unit, opts.buckets);
    this.families.set(name, f);
    return f;
  }

  counter(name: string, help: string, labelKeys: readonly string[] = []): MetricFamily {
    return this.family("counter", name, help, labelKeys);
  }
  gauge(name: string, help: string, labelKeys: readonly string[] = [], unit?: string): MetricFamily {
    return this.family("gauge", name, help, labelKeys, { unit });
  }
  histogram(name: string, help: string, labelKeys: readonly string[] = [], opts: { unit?: string; buckets?: number[] } = {}): MetricFamily {
    return this.family("histogram", name, help, labelKeys, opts);
  }

  /** Run fn before each rendering; returns the function that removes it. */
  onCollect(fn: () => void | Promise<void>): () => void {
    this.collectors.add(fn);
    return () => this.collectors.delete(fn);
  }

  get(name: string): MetricFamily | undefined {
    return this.families.get(name);
  }

  /** The OpenMetrics text exposition, ending with "# EOF". */
  async render(): Promise<string> {
    for (const fn of Array.from(this.collectors)) { // a collector may remove itself
      try {
        await fn();
      } catch {
        /* a failing collector leaves its families as they were */
      }
    }
    const out: string[] = [];
    for (const f of [...this.families.values()].sort((a, b) => a.name.localeCompare(b.name))) f.render(out);
    out.push("# EOF");
    return out.join("\n") + "\n";
  }
}
