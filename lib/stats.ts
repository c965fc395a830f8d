/**
 * Small-sample statistics for seeds: mean, sample std, Student-t 95% confidence intervals,
 * and paired differences (distilled vs scratch with the same seed).
 * @module
 */
/** Mean, spread and 95% confidence interval (Student t over seeds) of one metric. */
export interface Stat {
  mean: number;
  std: number;
  ci95: [number, number];
  n: number;
}

// Two-sided 95% Student-t critical values t_{0.975, df} for df = 1..30.
const T975 = [
  12.706,
  4.303,
  3.182,
  2.776,
  2.571,
  2.447,
  2.365,
  2.306,
  2.262,
  2.228,
  2.201,
  2.179,
  2.16,
  2.145,
  2.131,
  2.12,
  2.11,
  2.101,
  2.093,
  2.086,
  2.08,
  2.074,
  2.069,
  2.064,
  2.06,
  2.056,
  2.052,
  2.048,
  2.045,
  2.042,
];

/** t_{0.975, df}: exact table up to 30 degrees of freedom, normal approximation beyond. */
export function tCritical95(df: number): number {
  if (df < 1) return NaN;
  return df <= 30 ? T975[df - 1] : 1.96 + 2.4 / df;
}

/** Mean, sample std and 95% CI of the mean (CI is [mean, mean] with NaN width for n = 1). */
export function describe(values: number[]): Stat {
  const n = values.length;
  const mean = n ? values.reduce((a, b) => a + b, 0) / n : NaN;
  const std = n > 1 ? Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1)) : 0;
  const half = n > 1 ? tCritical95(n - 1) * std / Math.sqrt(n) : NaN;
  return { mean, std, ci95: [mean - half, mean + half], n };
}

/** Stats of `a[i] - b[i]` over keys present in both (pairs matched by key, e.g. seed). */
export function pairedDifference(a: Map<number, number>, b: Map<number, number>): Stat {
  const diffs: number[] = [];
  for (const [k, v] of a) if (b.has(k)) diffs.push(v - b.get(k)!);
  return describe(diffs);
}
