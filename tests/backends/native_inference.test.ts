import { test } from "../permissions.ts";
import { assert, assertEquals, assertLessOrEqual } from "@std/assert";
import * as tf from "../../lib/tf.ts";
import { dnnlAvailable, nativeAllocations } from "../../lib/backends/native/dnnl.ts";
import { compiledInferenceRuns } from "../../lib/backends/native/inference_graph.ts";
import { MobileNetV2 } from "../../lib/models/mobilenet_v2.ts";
import { type KerasTopology, LayersBackbone } from "../../lib/models/layers_backbone.ts";
import { ViT, vitConfigFromHF } from "../../lib/models/vit.ts";
import { maxAbs, maxAbsDiff, randomValues } from "../../lib/backends/parity.ts";
import type { Classifier } from "../../lib/models/model.ts";

const available = dnnlAvailable();
if (available) {
  const { initBackend } = await import("../../lib/backend.ts");
  await initBackend("native", { quiet: true });
} else console.error("native inference tests skipped: libdnnl.so.2 missing");
const ignore = !available;

/** Logits of `model` on `x` on `backend`, with the compiled inference path on or off. */
async function logits(
  model: Classifier,
  x: Float32Array,
  shape: number[],
  backend: string,
  compiled = true,
): Promise<Float32Array> {
  await tf.setBackend(backend);
  if (!compiled) Deno.env.set("KD_NATIVE_INFERENCE", "off");
  try {
    const t = tf.tensor4d(x, shape as [number, number, number, number]);
    const y = tf.tidy(() => model.apply(t, { training: false }));
    const v = (await y.data()).slice() as Float32Array;
    tf.dispose([t, y]);
    return v;
  } finally {
    Deno.env.delete("KD_NATIVE_INFERENCE");
    await tf.setBackend("native");
  }
}

/** Evaluation logits: compiled native vs the per-op path on native and on cpu (within 1e-4). */
async function assertSameLogits(model: Classifier, shape: number[]) {
  const x = randomValues(shape.reduce((a, b) => a * b, 1), 7);
  const runs = compiledInferenceRuns();
  const compiled = await logits(model, x, shape, "native");
  assertEquals(compiledInferenceRuns(), runs + 1, "the compiled path ran");
  const perOp = await logits(model, x, shape, "native", false);
  assertEquals(compiledInferenceRuns(), runs + 1, "the per-op path ran");
  const cpu = await logits(model, x, shape, "cpu");
  const scale = Math.max(1, maxAbs(cpu));
  assert(maxAbs(cpu) > 0.1, "logits large enough to compare");
  assertLessOrEqual(maxAbsDiff(compiled, cpu) / scale, 1e-4, "compiled vs cpu");
  assertLessOrEqual(maxAbsDiff(compiled, perOp) / scale, 1e-4, "compiled vs per-op native");
}

/** Random BN statistics and affine parameters, so that folding them into the convs matters. */
function randomiseBatchNorm(vars: Map<string, tf.Variable>) {
  let seed = 100;
  for (const [name, v] of vars) {
    const r = () => tf.tensor(randomValues(v.size, seed++), v.shape);
    tf.tidy(() => {
      if (/running_var|moving_variance/.test(name)) v.assign(tf.add(tf.abs(r()), 0.5));
      else if (/running_mean|moving_mean/.test(name)) v.assign(tf.mul(r(), 0.3));
      else if (/normalization\.weight|gamma/.test(name)) v.assign(tf.add(tf.mul(r(), 0.3), 1));
      else if (/normalization\.bias|beta/.test(name)) v.assign(tf.mul(r(), 0.3));
    });
  }
}

/**
 * A MobileNetV2 whose running statistics are those of a real batch (BN momentum 1, one training
 * forward pass), as in a trained model: activations stay O(1) through the depth.
 */
function calibratedMobileNet(options: Record<string, unknown>, size: number): MobileNetV2 {
  const model = new MobileNetV2({
    numLabels: 3,
    imageSize: size,
    bnMomentum: 1,
    seed: 4,
    ...options,
  });
  randomiseBatchNorm(model.stateVariables());
  tf.tidy(() => {
    const x = tf.tensor4d(randomValues(4 * size * size * 3, 11), [4, size, size, 3]);
    model.apply(x, { training: true });
  });
  return model;
}

for (
  const [label, options] of [
    ["width 0.35", { depthMultiplier: 0.35 }],
    ["output stride 8 (dilated convs)", { depthMultiplier: 0.35, outputStride: 8 }],
  ] as const
) {
  test({
    name: `native compiled MobileNetV2 evaluation (${label}) matches the per-op path and cpu`,
    ignore,
    fn: async () => {
      const model = calibratedMobileNet({ ...options, initializerRange: 0.2 }, 40);
      await assertSameLogits(model, [3, 40, 40, 3]);
      // A partial batch compiles another shape; both stay cached.
      await assertSameLogits(model, [2, 40, 40, 3]);
      model.dispose();
    },
  });
}

test({
  name: "native compiled evaluation follows weight updates and allocates nothing per batch",
  ignore,
  fn: async () => {
    const model = calibratedMobileNet({ depthMultiplier: 0.35, initializerRange: 0.2 }, 32);
    const x = randomValues(2 * 32 * 32 * 3, 3);
    const before = await logits(model, x, [2, 32, 32, 3], "native");
    const allocs = nativeAllocations(), tensors = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) await logits(model, x, [2, 32, 32, 3], "native");
    assertEquals(nativeAllocations(), allocs);
    assertEquals(tf.memory().numTensors, tensors);
    // New weights (as after a training step) are folded again on the next evaluation.
    const [, w] = [...model.trainableVariables()].find(([n]) =>
      n.endsWith("conv_1x1.convolution.weight")
    )!;
    tf.tidy(() => {
      w.assign(tf.mul(w, 1.1));
      // A training forward pass on other images moves the running statistics too.
      model.apply(tf.tensor4d(randomValues(4 * 32 * 32 * 3, 12), [4, 32, 32, 3]), {
        training: true,
      });
    });
    const after = await logits(model, x, [2, 32, 32, 3], "native");
    const cpu = await logits(model, x, [2, 32, 32, 3], "cpu");
    assert(maxAbsDiff(after, before) > 1e-3, "the update changed the logits");
    assertLessOrEqual(maxAbsDiff(after, cpu) / Math.max(1, maxAbs(cpu)), 1e-4);
    assertEquals(nativeAllocations(), allocs, "recompiled nothing: same shape, new weights");
    model.dispose();
    assertLessOrEqual(nativeAllocations().primitives, allocs.primitives);
  },
});

/** A small Keras functional model with every layer kind the compiled path handles. */
async function kerasBackbone(): Promise<LayersBackbone> {
  const input = tf.input({ shape: [20, 20, 3] });
  let h = tf.layers.conv2d({
    filters: 8,
    kernelSize: 3,
    strides: 2,
    padding: "same",
    useBias: false,
  })
    .apply(input) as tf.SymbolicTensor;
  h = tf.layers.batchNormalization({ epsilon: 1e-3 }).apply(h) as tf.SymbolicTensor;
  h = tf.layers.reLU({ maxValue: 6 }).apply(h) as tf.SymbolicTensor;
  const skip = h;
  let b = tf.layers.zeroPadding2d({ padding: [[1, 1], [1, 1]] }).apply(h) as tf.SymbolicTensor;
  b = tf.layers.depthwiseConv2d({ kernelSize: 3, padding: "valid", activation: "relu" })
    .apply(b) as tf.SymbolicTensor;
  b = tf.layers.conv2d({ filters: 8, kernelSize: 1 }).apply(b) as tf.SymbolicTensor;
  h = tf.layers.add().apply([b, skip]) as tf.SymbolicTensor;
  h = tf.layers.activation({ activation: "relu6" }).apply(h) as tf.SymbolicTensor;
  h = tf.layers.conv2d({ filters: 12, kernelSize: 3, strides: 2, padding: "valid" })
    .apply(h) as tf.SymbolicTensor;
  h = tf.layers.globalAveragePooling2d({}).apply(h) as tf.SymbolicTensor;
  const m = tf.model({ inputs: input, outputs: h });
  const topology = m.toJSON(null, false) as unknown as KerasTopology;
  m.dispose();
  const featureLayer = topology.config.layers[topology.config.layers.length - 1].name;
  return await LayersBackbone.build(
    {
      kind: "layers_backbone",
      numLabels: 3,
      topology,
      featureLayer,
      featureSize: 0,
      trainableFrom: null,
    },
    { size: 20, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] },
    9,
  );
}

test({
  name: "native compiled Keras backbone (BN, ReLU6, zero padding, depthwise, add) matches cpu",
  ignore,
  fn: async () => {
    const model = await kerasBackbone();
    randomiseBatchNorm(model.stateVariables());
    await assertSameLogits(model, [3, 20, 20, 3]);
    model.dispose();
  },
});

for (const type of ["vit", "deit"]) {
  test({
    name: `native compiled ${type} encoder matches the per-op path and cpu`,
    ignore,
    fn: async () => {
      const config = vitConfigFromHF({
        model_type: type,
        hidden_size: 32,
        num_hidden_layers: 2,
        num_attention_heads: 4,
        intermediate_size: 64,
        image_size: 32,
        patch_size: 8,
        hidden_act: "gelu",
        num_labels: 3,
        initializer_range: 0.5,
        architectures: type === "deit" ? ["DeiTForImageClassificationWithTeacher"] : [],
      });
      const model = new ViT(config, undefined, 5);
      await assertSameLogits(model, [2, 32, 32, 3]);
      await assertSameLogits(model, [1, 32, 32, 3]);
      model.dispose();
    },
  });
}

test({
  name: "native compiled MobileNetV2 runFrom/featuresFrom between points match the per-op path",
  ignore,
  fn: () => {
    const model = calibratedMobileNet({ depthMultiplier: 0.35, initializerRange: 0.2 }, 32);
    const x = tf.tensor4d(randomValues(2 * 32 * 32 * 3, 13), [2, 32, 32, 3]);
    const both = (f: () => tf.Tensor) => {
      const runs = compiledInferenceRuns();
      const compiled = tf.tidy(f);
      assertEquals(compiledInferenceRuns(), runs + 1, "the compiled path ran");
      Deno.env.set("KD_NATIVE_INFERENCE", "off");
      const perOp = tf.tidy(f);
      Deno.env.delete("KD_NATIVE_INFERENCE");
      const out = [compiled.dataSync().slice(), perOp.dataSync().slice()];
      tf.dispose([compiled, perOp]);
      return out;
    };
    const mid = tf.tidy(() => model.runFrom(null, x, { to: "layer.2" }));
    for (
      const f of [
        () => model.runFrom(null, x, { to: "layer.2" }),
        () => model.runFrom("layer.2", mid, { to: "layer.9" }),
        () => model.featuresFrom("layer.2", mid),
      ]
    ) {
      const [compiled, perOp] = both(f);
      assertLessOrEqual(maxAbsDiff(compiled, perOp) / Math.max(1, maxAbs(perOp)), 1e-4);
    }
    tf.dispose([x, mid]);
    model.dispose();
  },
});

test({
  name: "native compiled models keep the last MAX_SHAPES input shapes and free older ones",
  ignore,
  fn: async () => {
    const { MAX_SHAPES } = await import("../../lib/backends/native/program.ts");
    const model = calibratedMobileNet({ depthMultiplier: 0.35, initializerRange: 0.2 }, 32);
    const x = randomValues(32 * 32 * 3 * (MAX_SHAPES + 1), 5);
    const evaluate = (batch: number) =>
      logits(model, x.subarray(0, batch * 32 * 32 * 3), [batch, 32, 32, 3], "native");
    const before = nativeAllocations().primitives;
    await evaluate(1);
    const perShape = nativeAllocations().primitives - before;
    assert(perShape > 0, "compiling a shape built primitives");
    for (let batch = 2; batch <= MAX_SHAPES; batch++) await evaluate(batch);
    assertEquals(nativeAllocations().primitives, before + MAX_SHAPES * perShape);
    // One more shape evicts the least recently used; a cached shape compiles nothing.
    await evaluate(MAX_SHAPES + 1);
    assertEquals(nativeAllocations().primitives, before + MAX_SHAPES * perShape);
    await evaluate(MAX_SHAPES + 1);
    assertEquals(nativeAllocations().primitives, before + MAX_SHAPES * perShape);
    model.dispose();
    assertEquals(nativeAllocations().primitives, before);
  },
});
