// XEP-0082 DateTime: the one place the server writes and reads timestamps (delay stamps, MAM
// queries and results, pubsub dates, entity time, service expiries).

/**
 * A time (ms since the epoch) as an XEP-0082 DateTime in UTC. Whole seconds by default, as Prosody
 * writes stamps (2002-09-10T23:08:25Z, truncated, never rounded up into the future); `milliseconds`
 * keeps the fraction (2002-09-10T23:08:25.123Z) where a time given to the server is echoed back.
 */
export function xmppDateTime(ms: number, precision: "seconds" | "milliseconds" = "seconds"): string {
  const t = precision === "seconds" ? Math.floor(ms / 1000) * 1000 : ms;
  const iso = new Date(t).toISOString();
  return precision === "seconds" ? iso.slice(0, 19) + "Z" : iso;
}

// XEP-0082 §3.2: CCYY-MM-DDThh:mm:ss[.sss]TZD, TZD being Z or ±hh:mm.
const DATETIME = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(\.\d+)?(?:Z|([+-])(\d\d):(\d\d))$/;

/** An XEP-0082 DateTime as ms since the epoch; undefined for anything else (also Feb 30, 24:00, +25:00). */
export function parseDateTime(text: string): number | undefined {
  const m = DATETIME.exec(text.trim());
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number);
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth || hour > 23 || minute > 59 || second > 59) return undefined;
  let offset = 0;
  if (m[8] !== undefined) {
    const oh = Number(m[9]);
    const om = Number(m[10]);
    if (oh > 23 || om > 59) return undefined;
    offset = (m[8] === "+" ? 1 : -1) * (oh * 60 + om) * 60_000;
  }
  const fraction = m[7] === undefined ? 0 : Math.floor(Number(`0${m[7]}`) * 1000);
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day); // years below 100 stay themselves (Date.UTC would add 1900)
  d.setUTCHours(hour, minute, second, fraction);
  return d.getTime() - offset;
}
