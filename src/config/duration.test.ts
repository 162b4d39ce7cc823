import { expect, test } from "vitest";
import { parseDuration } from "./duration.js";

test.each([
  ["30", 30],
  ["30s", 30],
  ["1.5 min", 90],
  ["5m", 300],
  ["2 hours", 7200],
  ["1h", 3600],
  ["1d", 86400],
  ["1 week", 604800],
  ["3 months", 3 * 30 * 86400],
  ["1y", 365 * 86400],
  [" 10 Seconds ", 10],
  ["never", Infinity],
  ["FOREVER", Infinity],
])("%s", (text, seconds) => {
  expect(parseDuration(text)).toBe(seconds);
});

test.each(["", "soon", "5 lightyears", "-5s", "1h30m", "m"])("rejects %j", (text) => {
  expect(parseDuration(text)).toBeUndefined();
});
