/**
 * Small-sample statistics for seeds and images: mean, sample std, exact Student-t 95% intervals,
 * intervals for proportions that stay inside [0, 1], paired differences (distilled vs scratch
 * with the same seed), an exact McNemar test on paired per-image predictions, and the number of
 * seeds a paired comparison needs. Quantiles and the binomial CDF come from `@stdlib` (exact for
 * any degrees of freedom), not from a table.
 * @module
 */

/**
 * The two `@stdlib` distributions. They pull in `debug`, which lists the whole environment when
 * it loads, so a process without env access (a plain `deno test`) could not even import this
 * module; there they are not loaded, and calling for them says why.
 */
const dists = Deno.permissions.querySync({ name: "env" }).state === "granted"
  ? await Promise.all([
    import("@stdlib/stats-base-dists-t-quantile"),
    import("@stdlib/stats-base-dists-binomial-cdf"),
  ])
  : undefined;

function stdlib() {
  if (!dists) throw new Error("t quantiles and the binomial CDF (@stdlib) need env access");
  return { tQuantile: dists[0].default, binomialCdf: dists[1].default };
}

/**
 * Mean, spread and 95% confidence interval of one metric over `n` values (e.g. seeds).
 *
 * @example Report a metric as mean ± half-width
 * ```ts
 * import { describe, type Stat } from "@kd/vision/metrics";
 *
 * const acc: Stat = describe([0.80, 0.84, 0.82]);
 * const half = (acc.ci95[1] - acc.ci95[0]) / 2;
 * console.log(`${(100 * acc.mean).toFixed(1)} ± ${(100 * half).toFixed(1)} % (n=${acc.n})`);
 * ```
 */
export interface Stat {
  /** Arithmetic mean of the values (NaN when there are none). */
  mean: number;
  /** Sample standard deviation (n − 1 denominator; 0 for a single value). */
  std: number;
  /** Two-sided 95% confidence interval of the mean, `[low, high]` (NaN for n < 2). */
  ci95: [number, number];
  /** Number of values. */
  n: number;
}

/** The `p` quantile of Student's t distribution with `df` degrees of freedom (NaN if df < 1). */
export function tQuantile(p: number, df: number): number {
  return df >= 1 ? stdlib().tQuantile(p, df) : NaN;
}

/** t_{0.975, df}, the two-sided 95% critical value, exact for any df. */
export function tCritical95(df: number): number {
  return tQuantile(0.975, df);
}

function meanStd(values: number[]): { mean: number; std: number; n: number } {
  const n = values.length;
  const mean = n ? values.reduce((a, b) => a + b, 0) / n : NaN;
  const std = n > 1 ? Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1)) : 0;
  return { mean, std, n };
}

/**
 * Mean, sample std and t-based 95% CI of the mean (CI is NaN for n = 1).
 *
 * @example Mean, sd and a t interval over seeds
 * ```ts
 * import { describe } from "@kd/vision/metrics";
 * import { assertEquals } from "@std/assert";
 *
 * const s = describe([0.80, 0.84, 0.82]);
 * assertEquals(s.n, 3);
 * console.log(s.mean, s.std, s.ci95);
 * ```
 */
export function describe(values: number[]): Stat {
  const { mean, std, n } = meanStd(values);
  const half = n > 1 ? tCritical95(n - 1) * std / Math.sqrt(n) : NaN;
  return { mean, std, ci95: [mean - half, mean + half], n };
}

const logit = (p: number) => Math.log(p / (1 - p));
const expit = (x: number) => 1 / (1 + Math.exp(-x));

/**
 * Like {@linkcode describe} for proportions (accuracies): the interval is a t interval on the
 * logit scale, mapped back, so it stays inside (0, 1) and is wider on the side away from the
 * bound. `images` (the split size) keeps a perfect score finite: values are clamped to
 * [0.5/images, 1 − 0.5/images] for the interval only.
 */
export function describeProportion(values: number[], images = 1000): Stat {
  const { mean, std, n } = meanStd(values);
  if (n < 2) return { mean, std, ci95: [NaN, NaN], n };
  const eps = 0.5 / Math.max(1, images);
  const z = describe(values.map((v) => logit(Math.min(1 - eps, Math.max(eps, v)))));
  // Clamping moves a perfect score inwards; the interval still holds the mean itself.
  return {
    mean,
    std,
    ci95: [Math.min(mean, expit(z.ci95[0])), Math.max(mean, expit(z.ci95[1]))],
    n,
  };
}

/**
 * Stats of `a[k] - b[k]` over keys present in both (pairs matched by key, e.g. seed); the
 * interval of a difference of two proportions is clipped to [−1, 1].
 *
 * @example Distilled − scratch, paired by seed
 * ```ts
 * import { pairedDifference } from "@kd/vision/metrics";
 * import { assertAlmostEquals } from "@std/assert";
 *
 * const distilled = new Map([[0, 0.85], [1, 0.83]]), scratch = new Map([[0, 0.80], [1, 0.82]]);
 * assertAlmostEquals(pairedDifference(distilled, scratch).mean, 0.03, 1e-9);
 * ```
 */
export function pairedDifference(a: Map<number, number>, b: Map<number, number>): Stat {
  const diffs: number[] = [];
  for (const [k, v] of a) if (b.has(k)) diffs.push(v - b.get(k)!);
  const s = describe(diffs);
  const clip = (v: number) => Number.isNaN(v) ? v : Math.min(1, Math.max(-1, v));
  return { ...s, ci95: [clip(s.ci95[0]), clip(s.ci95[1])] };
}

/**
 * The outcome of {@linkcode mcnemarExact}.
 *
 * @example Which model wins the discordant pairs, and whether it is significant
 * ```ts
 * import { type McNemar, mcnemarExact } from "@kd/vision/metrics";
 *
 * const distilled = [true, true, true, true, true, false];
 * const scratch = [false, false, false, true, true, true];
 * const t: McNemar = mcnemarExact(distilled, scratch);
 * console.log(t.onlyA, t.onlyB, t.n, t.p < 0.05 ? "significant" : "not significant");
 * ```
 */
export interface McNemar {
  /** Pairs where only `a` is right. */
  onlyA: number;
  /** Pairs where only `b` is right. */
  onlyB: number;
  /** All pairs compared (concordant included). */
  n: number;
  /** Two-sided exact p-value (binomial test of the discordant pairs against 1/2). */
  p: number;
}

/**
 * Exact McNemar test on paired correctness: `a[i]` and `b[i]` say whether each model got pair
 * `i` right (e.g. the same test image, seed-matched runs, pooled over seeds).
 *
 * @example Per-image correctness of two models on the same images
 * ```ts
 * import { mcnemarExact } from "@kd/vision/metrics";
 *
 * const a = [true, true, true, true, false], b = [false, false, true, true, true];
 * console.log(mcnemarExact(a, b).p);
 * ```
 */
export function mcnemarExact(a: ArrayLike<boolean>, b: ArrayLike<boolean>): McNemar {
  if (a.length !== b.length) throw new Error(`mcnemar: ${a.length} vs ${b.length} pairs`);
  let onlyA = 0, onlyB = 0;
  for (let i = 0; i < a.length; i++) {
    if (a[i] && !b[i]) onlyA++;
    else if (!a[i] && b[i]) onlyB++;
  }
  const m = onlyA + onlyB;
  const p = m === 0 ? 1 : Math.min(1, 2 * stdlib().binomialCdf(Math.min(onlyA, onlyB), m, 0.5));
  return { onlyA, onlyB, n: a.length, p };
}

/**
 * The smallest true paired difference `n` pairs with per-pair standard deviation `sdDiff` detect
 * with power `power` at two-sided level `alpha` (the inverse of {@linkcode seedsForPower}).
 */
export function detectableDifference(
  sdDiff: number,
  n: number,
  opts: { alpha?: number; power?: number } = {},
): number {
  const { alpha = 0.05, power = 0.8 } = opts;
  if (n < 2) return NaN;
  return (tQuantile(1 - alpha / 2, n - 1) + tQuantile(power, n - 1)) * sdDiff / Math.sqrt(n);
}

/**
 * Seeds per arm for a paired comparison to detect a true difference `delta` with power `power`
 * at two-sided level `alpha`, when per-seed differences have standard deviation `sdDiff`: the
 * smallest n with (t_{1−α/2, n−1} + t_{power, n−1}) · sdDiff / √n ≤ delta (the usual t-based
 * approximation to the noncentral t), at least 2.
 *
 * @example Seeds to detect a 5 pp difference when the paired Δ varies by 6 pp
 * ```ts
 * import { seedsForPower } from "@kd/vision/metrics";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(seedsForPower(0.06, 0.05) > 2, true);
 * ```
 */
export function seedsForPower(
  sdDiff: number,
  delta: number,
  opts: { alpha?: number; power?: number; max?: number } = {},
): number {
  const { alpha = 0.05, power = 0.8, max = 1000 } = opts;
  if (!(sdDiff >= 0) || !(delta > 0)) throw new Error("seedsForPower: need sdDiff ≥ 0, delta > 0");
  for (let n = 2; n <= max; n++) {
    if (detectableDifference(sdDiff, n, { alpha, power }) <= delta) return n;
  }
  return max;
}
