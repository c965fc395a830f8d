/** Mixup sampling: Beta weights, partner permutations, mixed images and labels. */
import * as tf from "../../lib/tf.ts";
import { assert, assertAlmostEquals, assertEquals } from "@std/assert";
import { mixBatch, mixLabels, sampleBeta, sampleMix } from "../../lib/data/mixup.ts";
import { mulberry32 } from "../../lib/core/rng.ts";
import { initBackend } from "../../lib/backend.ts";

await initBackend("cpu", { quiet: true });

Deno.test("sampleBeta has the mean and variance of Beta(α, α), for α below and above 1", () => {
  for (const alpha of [0.2, 1, 4]) {
    const rng = mulberry32(7);
    const xs = Array.from({ length: 20000 }, () => sampleBeta(alpha, alpha, rng));
    assert(xs.every((x) => x >= 0 && x <= 1));
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    const variance = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length;
    assertAlmostEquals(mean, 0.5, 0.01);
    assertAlmostEquals(variance, 1 / (4 * (2 * alpha + 1)), 0.01);
  }
});

Deno.test("sampleMix: a seeded permutation and weight; mixed images and labels blend alike", () => {
  const a = sampleMix(6, 0.4, mulberry32(3));
  assertEquals(sampleMix(6, 0.4, mulberry32(3)), a);
  assertEquals([...a.partner].sort(), [0, 1, 2, 3, 4, 5]);
  const x = tf.tensor2d([[1, 0], [0, 1], [2, 2], [4, 4], [5, 5], [6, 6]]);
  const mixed = mixBatch(x, a).arraySync();
  const rows = x.arraySync();
  mixed.forEach((row, i) =>
    row.forEach((v, j) =>
      assertAlmostEquals(v, a.weight * rows[i][j] + (1 - a.weight) * rows[a.partner[i]][j], 1e-6)
    )
  );
  const labels = mixLabels(Int32Array.from([0, 1, 2, 0, 1, 2]), 3, a).arraySync();
  labels.forEach((row, i) => {
    assertAlmostEquals(row.reduce((s, v) => s + v, 0), 1, 1e-6);
    assertAlmostEquals(row[i % 3], i % 3 === a.partner[i] % 3 ? 1 : a.weight, 1e-6);
  });
});
