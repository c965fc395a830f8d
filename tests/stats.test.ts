import { assert, assertAlmostEquals, assertEquals } from "@std/assert";
import { describe, pairedDifference, tCritical95 } from "../lib/stats.ts";

Deno.test("describe: mean, sample std and t-based 95% CI by hand", () => {
  const s = describe([1, 2, 3, 4]);
  assertEquals(s.n, 4);
  assertAlmostEquals(s.mean, 2.5, 1e-12);
  const std = Math.sqrt(((1.5 ** 2) * 2 + (0.5 ** 2) * 2) / 3);
  assertAlmostEquals(s.std, std, 1e-12);
  const half = 3.182 * std / 2;
  assertAlmostEquals(s.ci95[0], 2.5 - half, 1e-9);
  assertAlmostEquals(s.ci95[1], 2.5 + half, 1e-9);
});

Deno.test("one value has no interval", () => {
  const s = describe([0.7]);
  assertEquals([s.mean, s.std, s.n], [0.7, 0, 1]);
  assert(Number.isNaN(s.ci95[0]));
});

Deno.test("paired difference matches by key and ignores unmatched", () => {
  const a = new Map([[0, 0.8], [1, 0.7], [2, 0.9]]);
  const b = new Map([[0, 0.6], [1, 0.6], [5, 0.1]]);
  const d = pairedDifference(a, b);
  assertEquals(d.n, 2);
  assertAlmostEquals(d.mean, 0.15, 1e-12);
});

Deno.test("t critical values approach 1.96", () => {
  assertAlmostEquals(tCritical95(1), 12.706, 1e-9);
  assert(tCritical95(100) > 1.96 && tCritical95(100) < 2);
});
