import { assert, assertEquals, assertNotEquals } from "@std/assert";
import { mixSeed, mulberry32, shuffleInPlace } from "../../lib/core/rng.ts";

Deno.test("mulberry32: same seed same stream, values in [0, 1), roughly uniform", () => {
  const a = mulberry32(42), b = mulberry32(42), c = mulberry32(43);
  const xs = Array.from({ length: 10000 }, () => a());
  assertEquals(Array.from({ length: 10000 }, () => b()), xs);
  assertNotEquals(Array.from({ length: 5 }, () => c()), xs.slice(0, 5));
  assert(xs.every((x) => x >= 0 && x < 1));
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  assert(Math.abs(mean - 0.5) < 0.02, `mean ${mean}`);
  const buckets = new Array(10).fill(0);
  for (const x of xs) buckets[Math.floor(x * 10)]++;
  assert(buckets.every((n) => n > 850 && n < 1150), `buckets ${buckets}`);
});

Deno.test("mixSeed separates nearby (seed, epoch) pairs", () => {
  const seeds = new Set<number>();
  for (let s = 0; s < 20; s++) for (let e = 0; e < 20; e++) seeds.add(mixSeed(s, e));
  assertEquals(seeds.size, 400);
  assertEquals(mixSeed(3, 4), mixSeed(3, 4));
});

Deno.test("shuffleInPlace permutes with every element kept", () => {
  const arr = Int32Array.from({ length: 50 }, (_, i) => i);
  shuffleInPlace(arr, mulberry32(1));
  assertNotEquals([...arr], Array.from({ length: 50 }, (_, i) => i));
  assertEquals([...arr].sort((x, y) => x - y), Array.from({ length: 50 }, (_, i) => i));
});
