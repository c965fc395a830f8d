import { ALL_GRANTED, test } from "../permissions.ts";
import { tfjsBackbone } from "../helpers.ts";
import { assert, assertAlmostEquals, assertEquals, assertGreater } from "@std/assert";
import * as tf from "../../lib/tf.ts";
import { initBackend } from "../../lib/backend.ts";
import { fitProbe, stratifiedSubset, subsetFeatures } from "../../lib/teacher/probe.ts";
import { splitFeatures } from "../../lib/teacher/features.ts";
import { loadTfjsLayersDir } from "../../lib/models/layers_backbone.ts";
import { saveModel } from "../../lib/models/checkpoint.ts";
import { loadModel } from "../../lib/models/registry.ts";
import type { ImageSplit } from "../../lib/data/dataset.ts";
import { mulberry32 } from "../../lib/core/rng.ts";

if (ALL_GRANTED) {
  await initBackend("wasm", { quiet: true }).catch(() => initBackend("cpu", { quiet: true }));
}

/** Gaussian blobs: class k centred at +3 on feature k, noise elsewhere. */
function blobs(n: number, dim: number, k: number, seed: number) {
  const rng = mulberry32(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
  const x = new Float32Array(n * dim), y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = i % k;
    for (let d = 0; d < dim; d++) x[i * dim + d] = 10 + 5 * gauss() + (d === y[i] ? 15 : 0);
  }
  return { x, dim, y };
}

test("probe: separable blobs are learned; folded head works on raw features", () => {
  const train = blobs(300, 8, 3, 1), val = blobs(150, 8, 3, 2);
  const { results, best, head } = fitProbe(train, val, {
    numLabels: 3,
    weightDecays: [0, 1e-2],
    epochs: [5, 50],
  });
  assertEquals(results.length, 4);
  assertEquals(best.valAcc, Math.max(...results.map((r) => r.valAcc)));
  // Classes differ by 15 (3σ) on two features: the Bayes error is a few percent.
  assertGreater(best.valAcc, 0.9);
  // The returned head applies to unstandardised features and reproduces the selected accuracy.
  const logits = tf.add(
    tf.matMul(tf.tensor2d(val.x, [150, 8]), tf.tensor2d(head.weight, [8, 3])),
    tf.tensor1d(head.bias),
  );
  const pred = tf.argMax(logits, 1).dataSync();
  const acc = Array.from(pred).filter((p, i) => p === val.y[i]).length / 150;
  assertAlmostEquals(acc, best.valAcc, 1e-6);
});

test("probe: stratified subset keeps class proportions and is seeded", () => {
  const labels = Int32Array.from({ length: 300 }, (_, i) => (i < 100 ? 0 : i < 250 ? 1 : 2));
  const s = stratifiedSubset(labels, 0.1, 7);
  const counts = [0, 0, 0];
  s.forEach((i) => counts[labels[i]]++);
  assertEquals(counts, [10, 15, 5]);
  assertEquals(Array.from(stratifiedSubset(labels, 0.1, 7)), Array.from(s));
  assert(Array.from(stratifiedSubset(labels, 0.1, 8)).join() !== Array.from(s).join());
  const f = subsetFeatures({
    x: Float32Array.from({ length: 600 }, (_, i) => i),
    dim: 2,
    y: labels,
  }, s);
  assertEquals(f.x[0], 2 * s[0]);
  assertEquals(f.y.length, 30);
});

function syntheticSplit(name: string, n: number, seed: number): ImageSplit {
  const size = 224, rng = mulberry32(seed);
  const labels = Int32Array.from({ length: n }, (_, i) => i % 3);
  const pixels = new Uint8Array(n * size * size * 3);
  // Each class gets a different dominant colour, so even a few images are separable.
  for (let i = 0; i < n; i++) {
    for (let p = 0; p < size * size; p++) {
      for (let c = 0; c < 3; c++) {
        pixels[(i * size * size + p) * 3 + c] = c === labels[i] ? 200 : Math.floor(rng() * 80);
      }
    }
  }
  return {
    name,
    source: "synthetic",
    checksum: `synthetic-${seed}`,
    classNames: ["r", "g", "b"],
    size,
    n,
    ids: labels.map((_, i) => i).reduce((a: string[], i) => [...a, `row:${i}`], []),
    labels,
    pixels,
    fromCache: false,
    skipped: 0,
  };
}

test("teacher: probe path on a tiny subset (features cached, saved, reloaded)", async () => {
  const cache = await Deno.makeTempDir();
  const model = await loadTfjsLayersDir(await tfjsBackbone(), {
    numLabels: 3,
    labels: ["r", "g", "b"],
    seed: 1,
  });
  try {
    assertEquals(model.config.featureSize, 1280);
    const train = syntheticSplit("train", 6, 1), val = syntheticSplit("validation", 3, 2);
    const layer = model.config.featureLayer;
    const ft = await splitFeatures(model, train, { layer, cache, quiet: true });
    const fv = await splitFeatures(model, val, { layer, cache, quiet: true });
    assertEquals(ft.shape, [6, 1280]);
    assertEquals(ft.fromCache, false);
    const again = await splitFeatures(model, train, { layer, cache, quiet: true });
    assertEquals(again.fromCache, true);
    assertEquals(Array.from(again.data), Array.from(ft.data));
    const probe = fitProbe({ x: ft.data, dim: 1280, y: ft.labels }, {
      x: fv.data,
      dim: 1280,
      y: fv.labels,
    }, {
      numLabels: 3,
      weightDecays: [0],
      epochs: [20],
    });
    assertEquals(probe.best.valAcc, 1);
    const vars = model.stateVariables();
    vars.get("classifier.weight")!.assign(tf.tensor2d(probe.head.weight, [1280, 3]));
    vars.get("classifier.bias")!.assign(tf.tensor1d(probe.head.bias));
    const x = tf.tidy(() =>
      tf.sub(tf.div(tf.tensor4d(Float32Array.from(val.pixels), [3, 224, 224, 3]), 127.5), 1)
    ) as tf.Tensor4D;
    const y = model.apply(x);
    // The end-to-end model and the cached features + head agree.
    const viaFeatures = tf.add(
      tf.matMul(tf.tensor2d(fv.data, [3, 1280]), tf.tensor2d(probe.head.weight, [1280, 3])),
      tf.tensor1d(probe.head.bias),
    );
    assert(tf.max(tf.abs(tf.sub(y, viaFeatures))).dataSync()[0] < 1e-3);
    // The saved teacher is self-contained (topology + weights) and reproduces the logits.
    await saveModel(model, `${cache}/teacher`);
    const back = await loadModel(`${cache}/teacher`);
    const y2 = back.apply(x);
    assert(tf.max(tf.abs(tf.sub(y, y2))).dataSync()[0] < 1e-5);
    // Activations at the last block boundary lead to the same features.
    const b = model.boundaries();
    // The first boundary ends the stem block (the input itself is none: that is `from` null).
    assertEquals(b[0], "conv2d_Conv2D2");
    const act = model.runFrom(null, x, { to: b[b.length - 1] });
    const f2 = model.featuresFrom(b[b.length - 1], act);
    assert(tf.max(tf.abs(tf.sub(f2, tf.tensor2d(fv.data, [3, 1280])))).dataSync()[0] < 1e-3);
    back.dispose();
  } finally {
    model.dispose();
    await Deno.remove(cache, { recursive: true });
  }
});
