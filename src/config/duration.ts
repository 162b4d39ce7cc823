// Durations in config options: a number of seconds, or text like "30s", "5 min", "1h", "2 days",
// "1w", "3 months" (30 days each), "1y" (365 days). "never" and "forever" mean Infinity.

const UNIT_SECONDS: Record<string, number> = {
  s: 1, sec: 1, secs: 1, second: 1, seconds: 1,
  m: 60, min: 60, mins: 60, minute: 60, minutes: 60,
  h: 3600, hr: 3600, hrs: 3600, hour: 3600, hours: 3600,
  d: 86400, day: 86400, days: 86400,
  w: 604800, wk: 604800, week: 604800, weeks: 604800,
  mo: 2592000, month: 2592000, months: 2592000,
  y: 31536000, yr: 31536000, year: 31536000, years: 31536000,
};

/** Parses a duration given as text into seconds; undefined when it is not understood. */
export function parseDuration(text: string): number | undefined {
  const t = text.trim().toLowerCase();
  if (t === "never" || t === "forever") return Infinity;
  const m = /^(\d+(?:\.\d+)?|\.\d+)\s*([a-z]*)$/.exec(t);
  if (!m) return undefined;
  const amount = Number(m[1]);
  if (m[2] === "") return amount;
  const unit = UNIT_SECONDS[m[2]];
  return unit === undefined ? undefined : amount * unit;
}
