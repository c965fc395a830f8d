import { test } from "./permissions.ts";
import { assert, assertAlmostEquals, assertEquals } from "@std/assert";
import {
  describe,
  describeProportion,
  detectableDifference,
  mcnemarExact,
  pairedDifference,
  seedsForPower,
  tCritical95,
  tQuantile,
} from "../lib/stats.ts";

test("describe: mean, sample std and t-based 95% CI by hand", () => {
  const s = describe([1, 2, 3, 4]);
  assertEquals(s.n, 4);
  assertAlmostEquals(s.mean, 2.5, 1e-12);
  const std = Math.sqrt(((1.5 ** 2) * 2 + (0.5 ** 2) * 2) / 3);
  assertAlmostEquals(s.std, std, 1e-12);
  const half = 3.182446 * std / 2;
  assertAlmostEquals(s.ci95[0], 2.5 - half, 1e-5);
  assertAlmostEquals(s.ci95[1], 2.5 + half, 1e-5);
});

test("one value has no interval", () => {
  const s = describe([0.7]);
  assertEquals([s.mean, s.std, s.n], [0.7, 0, 1]);
  assert(Number.isNaN(s.ci95[0]));
});

test("paired difference matches by key and ignores unmatched", () => {
  const a = new Map([[0, 0.8], [1, 0.7], [2, 0.9]]);
  const b = new Map([[0, 0.6], [1, 0.6], [5, 0.1]]);
  const d = pairedDifference(a, b);
  assertEquals(d.n, 2);
  assertAlmostEquals(d.mean, 0.15, 1e-12);
  assert(d.ci95[0] >= -1 && d.ci95[1] <= 1, "a difference of proportions stays in [-1, 1]");
});

// Reference values: R's qt(0.975, df) (also scipy.stats.t.ppf), to 7 significant digits.
test("t quantiles are exact for small and large df", () => {
  const ref: [number, number][] = [
    [1, 12.70620],
    [2, 4.302653],
    [5, 2.570582],
    [30, 2.042272],
    [31, 2.039513],
    [100, 1.983972],
    [1000, 1.962339],
  ];
  for (const [df, t] of ref) assertAlmostEquals(tCritical95(df), t, 5e-6 * t, `df ${df}`);
  assertAlmostEquals(tQuantile(0.8, 10), 0.8790578, 1e-6);
  assert(Number.isNaN(tCritical95(0)));
});

test("accuracy intervals stay inside [0, 1], even near the bounds", () => {
  // The example: a mean near 1 with a large spread used to reach 102%.
  for (const values of [[0.99, 0.9, 1.0], [0.95, 0.7, 0.98], [0.02, 0.0, 0.3], [1, 1, 1]]) {
    const s = describeProportion(values, 133);
    assert(s.ci95[0] >= 0 && s.ci95[1] <= 1, `${values}: ${s.ci95}`);
    assert(s.ci95[0] <= s.mean && s.mean <= s.ci95[1], `${values}: mean inside`);
  }
  // Away from the bounds it agrees closely with the plain t interval.
  const mid = [0.48, 0.52, 0.5, 0.49, 0.51];
  const p = describeProportion(mid, 133), t = describe(mid);
  assertAlmostEquals(p.ci95[0], t.ci95[0], 2e-3);
  assertAlmostEquals(p.ci95[1], t.ci95[1], 2e-3);
});

test("exact McNemar: hand-computed p-values", () => {
  // 1 vs 9 discordant pairs: p = 2 · P(X ≤ 1), X ~ Bin(10, 1/2) = 2 · 11/1024.
  const a = [...Array(9).fill(true), false, ...Array(20).fill(true)];
  const b = [...Array(9).fill(false), true, ...Array(20).fill(true)];
  const m = mcnemarExact(a, b);
  assertEquals([m.onlyA, m.onlyB, m.n], [9, 1, 30]);
  assertAlmostEquals(m.p, 22 / 1024, 1e-12);
  assertEquals(mcnemarExact([true, false], [true, false]).p, 1);
  assertEquals(mcnemarExact([true, false], [false, true]).p, 1);
});

test("seeds for power: the t-based formula, monotone in spread and effect", () => {
  const n = seedsForPower(0.04, 0.05);
  // (t_{.975,n-1} + t_{.8,n-1}) · sd / √n ≤ δ holds at n and fails at n − 1.
  const need = (k: number) =>
    (tQuantile(0.975, k - 1) + tQuantile(0.8, k - 1)) * 0.04 / Math.sqrt(k);
  assert(need(n) <= 0.05 && need(n - 1) > 0.05, `n = ${n}`);
  assertAlmostEquals(detectableDifference(0.04, n), need(n), 1e-12);
  assert(detectableDifference(0.04, 8) < detectableDifference(0.04, 4));
  assert(seedsForPower(0.06, 0.05) > n);
  assert(seedsForPower(0.04, 0.08) < n);
});
