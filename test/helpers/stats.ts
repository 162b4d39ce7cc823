// Figures from samples, for the tests and benchmarks that print or check them.

/** The p-th percentile (0-100) of the samples (nearest rank below); NaN when there are none. */
export function percentile(samples: Iterable<number>, p: number): number {
  const s = [...samples].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}
