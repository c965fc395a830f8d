import { assert, assertAlmostEquals, assertEquals, assertThrows } from "@std/assert";
import * as tf from "../../lib/tf.ts";
import { initBackend } from "../../lib/backend.ts";
import { makeDivisible, MobileNetV2 } from "../../lib/models/mobilenet_v2.ts";
import { batchNorm, type BatchNormParams } from "../../lib/models/layers.ts";
import { UserError } from "../../lib/core/errors.ts";

// wasm keeps the 224-px shape checks fast; fall back to pure-JS cpu if it cannot start.
await initBackend("wasm", { quiet: true }).catch(() => initBackend("cpu", { quiet: true }));

function count(vars: Map<string, tf.Variable>): number {
  let n = 0;
  for (const v of vars.values()) n += v.size;
  return n;
}

Deno.test("mobilenet_v2: defaults with 3 labels have exactly 2,227,715 trainable parameters", () => {
  // The figure torchvision's mobilenet_v2(num_classes=3) and HF MobileNetV2Config() both give.
  const m = new MobileNetV2({ numLabels: 3, seed: 1 });
  assertEquals(count(m.trainableVariables()), 2_227_715);
  // Buffers: running mean/var for each of the 52 BN layers.
  const buffers = [...m.stateVariables().keys()].filter((k) => k.includes("running_"));
  assertEquals(buffers.length, 2 * 52);
  m.dispose();
});

Deno.test("mobilenet_v2: HF parameter names", () => {
  const m = new MobileNetV2({ numLabels: 3, seed: 1 });
  const names = [...m.stateVariables().keys()];
  for (
    const n of [
      "mobilenet_v2.conv_stem.first_conv.convolution.weight",
      "mobilenet_v2.conv_stem.conv_3x3.normalization.running_var",
      "mobilenet_v2.conv_stem.reduce_1x1.convolution.weight",
      "mobilenet_v2.layer.0.expand_1x1.convolution.weight",
      "mobilenet_v2.layer.15.reduce_1x1.normalization.bias",
      "mobilenet_v2.conv_1x1.convolution.weight",
      "classifier.weight",
      "classifier.bias",
    ]
  ) assert(names.includes(n), `missing ${n}`);
  assert(!names.includes("mobilenet_v2.conv_stem.expand_1x1.convolution.weight"));
  m.dispose();
});

Deno.test("mobilenet_v2: make_divisible follows the TF slim rule", () => {
  assertEquals(makeDivisible(11), 16); // 8 would drop more than 10% below 11
  assertEquals(makeDivisible(32 * 1.4), 48);
  assertEquals(makeDivisible(12), 16);
  assertEquals(makeDivisible(3, 8, 8), 8);
});

Deno.test("mobilenet_v2: output and feature shapes across widths and input sizes", () => {
  for (const width of [0.35, 0.5, 1.0, 1.4]) {
    const m = new MobileNetV2({ numLabels: 3, depthMultiplier: width, seed: 2 });
    // finegrained_output keeps 1280 features below width 1; above it the multiplier applies.
    assertEquals(m.featureSize, width < 1 ? 1280 : makeDivisible(Math.round(1280 * width)));
    for (const size of [96, 160, 224]) {
      const y = tf.tidy(() => m.apply(tf.randomUniform([1, size, size, 3], -1, 1) as tf.Tensor4D));
      assertEquals(y.shape, [1, 3], `width ${width} size ${size}`);
      assert(Array.from(y.dataSync()).every(Number.isFinite));
      y.dispose();
    }
    m.dispose();
  }
});

Deno.test("mobilenet_v2: outputStride 8 (dilated depthwise blocks) runs", () => {
  const m = new MobileNetV2({ numLabels: 3, depthMultiplier: 0.35, outputStride: 8, seed: 2 });
  const y = tf.tidy(() => m.apply(tf.randomUniform([1, 64, 64, 3], -1, 1) as tf.Tensor4D));
  assertEquals(y.shape, [1, 3]);
  assert(Array.from(y.dataSync()).every(Number.isFinite));
  y.dispose();
  m.dispose();
});

Deno.test("mobilenet_v2: HF init statistics (normal(0, 0.02) weights, zero biases, BN 1/0)", () => {
  const m = new MobileNetV2({ numLabels: 3, seed: 3 });
  const vars = m.stateVariables();
  const w = Array.from(vars.get("mobilenet_v2.conv_1x1.convolution.weight")!.dataSync());
  const mean = w.reduce((a, b) => a + b, 0) / w.length;
  const std = Math.sqrt(w.reduce((a, b) => a + (b - mean) ** 2, 0) / w.length);
  assertAlmostEquals(mean, 0, 1e-3);
  assertAlmostEquals(std, 0.02, 1e-3);
  assert(vars.get("classifier.bias")!.dataSync().every((v) => v === 0));
  assert(
    vars.get("mobilenet_v2.layer.3.conv_3x3.normalization.weight")!.dataSync().every((v) =>
      v === 1
    ),
  );
  assert(
    vars.get("mobilenet_v2.layer.3.conv_3x3.normalization.bias")!.dataSync().every((v) => v === 0),
  );
  m.dispose();
});

Deno.test("mobilenet_v2: the same seed gives the same model", () => {
  const a = new MobileNetV2({ numLabels: 3, seed: 7, classifierDropoutProb: 0 });
  const b = new MobileNetV2({ numLabels: 3, seed: 7, classifierDropoutProb: 0 });
  const x = tf.randomUniform([2, 64, 64, 3], -1, 1, "float32", 1) as tf.Tensor4D;
  const ya = a.apply(x), yb = b.apply(x);
  assertEquals(Array.from(ya.dataSync()), Array.from(yb.dataSync()));
  tf.dispose([ya, yb, x]);
  a.dispose();
  b.dispose();
});

Deno.test("mobilenet_v2: invalid options are UserErrors", () => {
  assertThrows(() => new MobileNetV2({ numLabels: 0 }), UserError, "numLabels");
  assertThrows(() => new MobileNetV2({ numLabels: 3, depthMultiplier: 0 }), UserError, "depth");
});

Deno.test("layers: tfjs 'same' padding equals HF apply_tf_padding + valid conv", () => {
  // HF pads (k - s) or (k - in % s) split floor/ceil, extra on bottom/right; check odd and even sizes.
  for (const size of [7, 8]) {
    const x = tf.randomNormal([1, size, size, 2], 0, 1, "float32", 5) as tf.Tensor4D;
    const w = tf.randomNormal([3, 3, 2, 4], 0, 1, "float32", 6) as tf.Tensor4D;
    const s = 2;
    const pad = size % s === 0 ? Math.max(3 - s, 0) : Math.max(3 - (size % s), 0);
    const lo = Math.floor(pad / 2), hi = pad - lo;
    const manual = tf.conv2d(tf.pad(x, [[0, 0], [lo, hi], [lo, hi], [0, 0]]), w, s, "valid");
    const same = tf.conv2d(x, w, s, "same");
    assertEquals(manual.shape, same.shape);
    const diff = tf.max(tf.abs(tf.sub(manual, same))).dataSync()[0];
    assert(diff < 1e-5, `size ${size}: diff ${diff}`);
    tf.dispose([x, w, manual, same]);
  }
});

Deno.test("layers: batch norm training uses batch stats and updates running stats PyTorch-style", () => {
  const x = tf.tensor4d([1, 2, 3, 5, 0, 10, -4, 6], [2, 2, 1, 2]);
  const p: BatchNormParams = {
    weight: tf.variable(tf.tensor1d([2, 1])),
    bias: tf.variable(tf.tensor1d([0.5, 0])),
    runningMean: tf.variable(tf.tensor1d([1, 1])),
    runningVar: tf.variable(tf.tensor1d([1, 1])),
  };
  const y = batchNorm(x, p, { training: true, momentum: 0.1, eps: 0 });
  // Channel 0 values 1,3,0,-4: mean 0, biased var 6.5, unbiased 26/3.
  const c0 = [1, 3, 0, -4];
  const out = y.dataSync();
  c0.forEach((v, i) => assertAlmostEquals(out[2 * i], 2 * v / Math.sqrt(6.5) + 0.5, 1e-5));
  assertAlmostEquals(p.runningMean.dataSync()[0], 0.9 * 1 + 0.1 * 0, 1e-6);
  assertAlmostEquals(p.runningVar.dataSync()[0], 0.9 * 1 + 0.1 * (26 / 3), 1e-5);
  // Channel 1 values 2,5,10,6: mean 23/4.
  assertAlmostEquals(p.runningMean.dataSync()[1], 0.9 + 0.1 * 23 / 4, 1e-5);
  const e = batchNorm(x, p, { training: false, momentum: 0.1, eps: 0 });
  assertAlmostEquals(e.dataSync()[0], 2 * (1 - 0.9) / Math.sqrt(0.9 + 0.1 * 26 / 3) + 0.5, 1e-5);
  tf.dispose([x, y, e, p.weight, p.bias, p.runningMean, p.runningVar]);
});

Deno.test("mobilenet_v2: bnMomentum 'hf' is 0.997 and training updates running stats", () => {
  const m = new MobileNetV2({ numLabels: 3, seed: 4, bnMomentum: "hf" });
  assertEquals(m.bnMomentum, 0.997);
  assertEquals(new MobileNetV2({ numLabels: 3, seed: 4 }).bnMomentum, 0.1);
  const rm = m.stateVariables().get(
    "mobilenet_v2.conv_stem.first_conv.normalization.running_mean",
  )!;
  const before = Array.from(rm.dataSync());
  const y = tf.tidy(() =>
    m.apply(tf.randomUniform([2, 32, 32, 3], -1, 1) as tf.Tensor4D, { training: true })
  );
  y.dispose();
  const after = Array.from(rm.dataSync());
  assert(after.some((v, i) => v !== before[i]), "running mean unchanged by a training step");
  m.dispose();
});

Deno.test("mobilenet_v2: label names that are not numLabels long, or a bad image size, are refused", () => {
  assertThrows(
    () => new MobileNetV2({ numLabels: 3, labels: ["a", "b"] }),
    UserError,
    "2 label names for 3 labels (a, b)",
  );
  for (const imageSize of [0, NaN, 32.5]) {
    assertThrows(() => new MobileNetV2({ numLabels: 3, imageSize }), UserError, "imageSize");
  }
});
