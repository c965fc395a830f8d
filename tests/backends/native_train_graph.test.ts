import { test } from "../permissions.ts";
import { assert, assertEquals, assertLessOrEqual } from "@std/assert";
import * as tf from "../../lib/tf.ts";
import { dnnlAvailable } from "../../lib/backends/native/dnnl.ts";
import { compiledTrainingRuns } from "../../lib/backends/native/train_graph.ts";
import { MobileNetV2 } from "../../lib/models/mobilenet_v2.ts";
import { randomValues } from "../../lib/backends/parity.ts";
import { stepModel, trainStep } from "../../lib/train/step.ts";
import { createOptimizer } from "../../lib/optim.ts";
import { startKernelProfile } from "../../lib/bench/profile.ts";

const available = dnnlAvailable();
if (available) {
  const { initBackend } = await import("../../lib/backend.ts");
  await initBackend("native", { quiet: true });
} else console.error("native training-graph tests skipped: libdnnl.so.2 missing");
const ignore = !available;

/** Run `fn` on `backend`; on native, `mode` picks the compiled graph or the per-op kernels. */
async function on<T>(backend: string, mode: "compiled" | "per-op", fn: () => T): Promise<T> {
  await tf.setBackend(backend);
  if (mode === "per-op") Deno.env.set("KD_NATIVE_TRAIN", "per-op");
  try {
    return fn();
  } finally {
    Deno.env.delete("KD_NATIVE_TRAIN");
    await tf.setBackend("native");
  }
}

// Width 0.35 at 64 px, batch 4: residual blocks, and tensors on both sides of the size where
// the per-element passes switch from JS loops to oneDNN.
const model = () =>
  new MobileNetV2({
    numLabels: 3,
    imageSize: 64,
    depthMultiplier: 0.35,
    classifierDropoutProb: 0,
    seed: 5,
  });
const N = 4, SIZE = 64;
const batch = () => ({
  x: tf.tensor4d(randomValues(N * SIZE * SIZE * 3, 31), [N, SIZE, SIZE, 3]),
  labels: tf.tensor1d([0, 1, 2, 1], "int32"),
  teacher: tf.tensor2d(randomValues(N * 3, 32), [N, 3]),
});

/** Relative L2 error, with an absolute floor for gradients that are mathematically ~0. */
function assertClose(got: Float32Array, want: Float32Array, rel: number, what: string) {
  let err = 0, norm = 0;
  for (let i = 0; i < want.length; i++) {
    err += (got[i] - want[i]) ** 2;
    norm += want[i] ** 2;
  }
  assertLessOrEqual(Math.sqrt(err), rel * Math.sqrt(norm) + 1e-6 * Math.sqrt(want.length), what);
}

/**
 * Loss and state after `steps` trainer steps (KD loss, clipping, SGD with momentum). SGD, not
 * AdamW: AdamW's first step is `lr·sign(g)`, which turns rounding noise in gradients that are
 * mathematically ~0 into ±lr; the AdamW kernel has its own parity test.
 */
async function trainerSteps(steps: number) {
  const m = model();
  const sm = stepModel(
    m,
    createOptimizer(m.trainableVariables(), { name: "sgd", momentum: 0.9, weightDecay: 5e-4 }),
  );
  const b = batch();
  const losses: number[] = [];
  for (let s = 0; s < steps; s++) {
    const l = await trainStep(sm, b, { temperature: 5, lambda: 0.5, clipNorm: 1 }, 0.05);
    losses.push(l.total, l.ce, l.kd);
  }
  const state = new Map(
    [...m.stateVariables()].map(([k, v]) => [k, v.dataSync().slice() as Float32Array]),
  );
  tf.dispose(Object.values(b));
  sm.optimizer.dispose();
  m.dispose();
  return { losses, state };
}

test({
  name: "native compiled training step matches cpu: losses, parameters and running statistics " +
    "after one step",
  ignore,
  fn: async () => {
    const want = await on("cpu", "compiled", () => trainerSteps(1));
    const runs = compiledTrainingRuns();
    const got = await on("native", "compiled", () => trainerSteps(1));
    assertEquals(compiledTrainingRuns(), runs + 1, "the step ran the compiled graph");
    for (let i = 0; i < want.losses.length; i++) {
      assertLessOrEqual(
        Math.abs(got.losses[i] - want.losses[i]),
        1e-4,
        `loss ${i}: ${got.losses[i]} ${want.losses[i]}`,
      );
    }
    for (const [k, w] of want.state) {
      const g = got.state.get(k)!;
      let worst = 0;
      for (let i = 0; i < w.length; i++) worst = Math.max(worst, Math.abs(g[i] - w[i]));
      assertLessOrEqual(worst, 1e-4, `${k}: ${worst}`);
    }
  },
});

/** Loss (and logits) with gradients for every trainable variable and the input. */
function gradients() {
  const m = model();
  const vars = [...m.trainableVariables()];
  const b = batch();
  const labels = tf.oneHot(b.labels, 3);
  let logits: Float32Array = new Float32Array();
  const f = (x: tf.Tensor, ...ps: tf.Tensor[]) => {
    void ps; // the variables enter through the model
    const l = m.apply(x as tf.Tensor4D, { training: true });
    logits = l.dataSync().slice() as Float32Array;
    // Two forwards of one shape in one loss: the first's gradient needs its buffers back.
    const again = m.apply(tf.mul(x, 0.5) as tf.Tensor4D, { training: true });
    return tf.add(tf.losses.softmaxCrossEntropy(labels, l), tf.mean(tf.square(again))) as tf.Scalar;
  };
  const { value, grads } = tf.valueAndGrads(f)([b.x, ...vars.map(([, v]) => v)]);
  const out = {
    logits,
    loss: value.dataSync()[0],
    grads: grads.map((g) => g.dataSync().slice() as Float32Array),
    names: ["x", ...vars.map(([k]) => k)],
  };
  tf.dispose([value, ...grads, labels, ...Object.values(b)]);
  m.dispose();
  return out;
}

test({
  name: "native compiled training graph equals the per-op kernels: logits, gradients, input " +
    "gradient, two forwards in one loss",
  ignore,
  fn: async () => {
    const want = await on("native", "per-op", gradients);
    const runs = compiledTrainingRuns();
    const got = await on("native", "compiled", gradients);
    assertEquals(compiledTrainingRuns(), runs + 2);
    // The forward runs the same per-layer functions: the same bits.
    assertEquals(got.logits, want.logits);
    assertEquals(got.loss, want.loss);
    // Gradients summed in another order where a residual block's input is read twice.
    want.grads.forEach((w, i) => assertClose(got.grads[i], w, 1e-5, want.names[i]));
    assert(want.grads[0].some((v) => v !== 0), "the input has a gradient");
  },
});

test({
  name: "native compiled training graph: the input's data gradient runs only when it is asked for",
  ignore,
  fn: () => {
    const m = model();
    const b = batch();
    const loss = (x: tf.Tensor) =>
      tf.sum(m.apply(x as tf.Tensor4D, { training: true })) as tf.Scalar;
    // Conv2DBackpropInput calls while `fn` runs one compiled forward and its gradient.
    const stemDataGradients = (fn: () => tf.Tensor[]) => {
      const stop = startKernelProfile();
      const runs = compiledTrainingRuns();
      let calls = -1;
      try {
        tf.dispose(fn());
      } finally {
        calls = stop()["Conv2DBackpropInput"]?.calls ?? 0;
      }
      assertEquals(compiledTrainingRuns(), runs + 1);
      return calls;
    };
    // A training step: gradients for the variables only, none for the images.
    assertEquals(
      stemDataGradients(() => {
        const r = tf.variableGrads(() => loss(b.x));
        return [r.value, ...Object.values(r.grads)];
      }),
      0,
    );
    assertEquals(stemDataGradients(() => [tf.grad(loss)(b.x)]), 1);
    tf.dispose(Object.values(b));
    m.dispose();
  },
});

test({
  name: "native compiled training graph: KD_NATIVE_TRAIN=per-op and a tape-less forward take " +
    "the per-op path",
  ignore,
  fn: async () => {
    const m = model();
    const b = batch();
    const runs = compiledTrainingRuns();
    // No tape: the per-op kernels (batch-norm calibration runs so).
    tf.tidy(() => m.apply(b.x, { training: true }));
    await on("native", "per-op", () => {
      const r = tf.variableGrads(() => tf.sum(m.apply(b.x, { training: true })) as tf.Scalar);
      tf.dispose([r.value, ...Object.values(r.grads)]);
    });
    assertEquals(compiledTrainingRuns(), runs);
    tf.dispose(Object.values(b));
    m.dispose();
  },
});
