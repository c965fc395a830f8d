import { test } from "../permissions.ts";
import { assert, assertEquals, assertLessOrEqual } from "@std/assert";
import * as tf from "../../lib/tf.ts";
import { dnnlAvailable, nativeAllocations } from "../../lib/backends/native/dnnl.ts";
import { adamUpdate, batchNormTrain } from "../../lib/backends/native/ops.ts";
import { MobileNetV2 } from "../../lib/models/mobilenet_v2.ts";
import { compiledTrainingRuns } from "../../lib/backends/native/train_graph.ts";
import {
  CONV_CASES,
  convInvocations,
  maxAbs,
  maxAbsDiff,
  randomValues,
  runKernelOn,
} from "../../lib/backends/parity.ts";

const available = dnnlAvailable();
if (!available) {
  console.error("native backend tests skipped: libdnnl.so.2 missing (apt-get install libdnnl2)");
} else {
  const { initBackend } = await import("../../lib/backend.ts");
  await initBackend("native", { quiet: true });
}
const ignore = !available;

for (const depthwise of [false, true]) {
  for (const c of CONV_CASES) {
    for (const inv of convInvocations(c, depthwise)) {
      test({
        name: `native ${inv.name} matches cpu: ${JSON.stringify(c)}`,
        ignore,
        fn: async () => {
          const want = await runKernelOn("cpu", inv.name, inv.inputs, inv.attrs);
          const got = await runKernelOn("native", inv.name, inv.inputs, inv.attrs);
          assertLessOrEqual(maxAbsDiff(got[0], want[0]), 1e-4);
        },
      });
    }
  }
}

const MATMULS: [number[], number[], boolean, boolean][] = [
  [[2, 3, 4], [2, 4, 5], false, false],
  [[2, 4, 3], [2, 4, 5], true, false],
  [[2, 3, 4], [2, 5, 4], false, true],
  [[3, 3, 4], [1, 4, 6], false, false],
  [[1, 3, 4], [3, 4, 6], false, false],
  [[4, 2, 7, 8], [4, 2, 8, 3], false, false],
];
for (const [a, b, transposeA, transposeB] of MATMULS) {
  test({
    name: `native BatchMatMul matches cpu: ${JSON.stringify({ a, b, transposeA, transposeB })}`,
    ignore,
    fn: async () => {
      const inputs = { a: { shape: a, seed: 5 }, b: { shape: b, seed: 6 } };
      const attrs = { transposeA, transposeB };
      const want = await runKernelOn("cpu", "BatchMatMul", inputs, attrs);
      const got = await runKernelOn("native", "BatchMatMul", inputs, attrs);
      assertLessOrEqual(maxAbsDiff(got[0], want[0]), 1e-4);
    },
  });
}

for (const name of ["Add", "Sub", "Multiply", "RealDiv"]) {
  for (
    const [a, b] of [
      [[3, 5], [3, 5]],
      [[4, 6], [1]],
      [[1], [2, 3]],
      [[2, 3, 4], [4]],
      [[2, 1, 1, 4], [2, 3, 3, 4]],
      [[2, 3, 3, 4], [1, 3, 1, 1]],
      [[3, 1], [1, 4]],
      [[2, 2, 2, 2, 2], [2]],
    ]
  ) {
    test({
      name: `native ${name} matches cpu: ${JSON.stringify([a, b])}`,
      ignore,
      fn: async () => {
        // Keep divisors away from zero so RealDiv compares finite numbers.
        const shift = name === "RealDiv";
        const run = async (backend: string) => {
          await tf.setBackend(backend);
          const ta = tf.tensor(randomValues(tf.util.sizeFromShape(a), 7), a);
          const tb0 = tf.tensor(randomValues(tf.util.sizeFromShape(b), 8), b);
          const tb = shift ? tf.add(tf.abs(tb0), 0.5) : tb0;
          const out = tf.engine().runKernel(name, { a: ta, b: tb }) as tf.Tensor;
          const v = out.dataSync().slice();
          tf.dispose([ta, tb0, tb, out]);
          return v;
        };
        assertLessOrEqual(maxAbsDiff(await run("native"), await run("cpu")), 1e-5);
      },
    });
  }
}

for (
  const [shape, perm] of [
    [[8, 16, 4, 10], [0, 2, 1, 3]],
    [[64, 96], [1, 0]],
    [[4, 5, 6, 7, 8], [4, 0, 3, 1, 2]],
  ] as const
) {
  test({
    name: `native Transpose matches cpu: ${JSON.stringify({ shape, perm })}`,
    ignore,
    fn: async () => {
      const inputs = { x: { shape: [...shape], seed: 15 } };
      const want = await runKernelOn("cpu", "Transpose", inputs, { perm: [...perm] });
      const got = await runKernelOn("native", "Transpose", inputs, { perm: [...perm] });
      assertEquals(maxAbsDiff(got[0], want[0]), 0);
    },
  });
}

for (const [shape, dim] of [[[4, 12, 33, 33], -1], [[64, 100], 1]] as const) {
  test({
    name: `native Softmax matches cpu: ${JSON.stringify({ shape, dim })}`,
    ignore,
    fn: async () => {
      const inputs = { logits: { shape: [...shape], seed: 16 } };
      const want = await runKernelOn("cpu", "Softmax", inputs, { dim });
      const got = await runKernelOn("native", "Softmax", inputs, { dim });
      assertLessOrEqual(maxAbsDiff(got[0], want[0]), 1e-6);
    },
  });
}

for (const shape of [[2, 5, 4, 6], [4, 32, 32, 24]]) {
  test({
    name: `native inference FusedBatchNorm matches cpu: ${JSON.stringify(shape)}`,
    ignore,
    fn: async () => {
      const c = shape[3];
      const run = async (backend: string) => {
        await tf.setBackend(backend);
        const x = tf.tensor4d(randomValues(tf.util.sizeFromShape(shape), 41), shape as never);
        const m = tf.tensor1d(randomValues(c, 42));
        const v = tf.add(tf.abs(tf.tensor1d(randomValues(c, 43))), 0.1) as tf.Tensor1D;
        const g = tf.tensor1d(randomValues(c, 44)), b = tf.tensor1d(randomValues(c, 45));
        const y = tf.batchNorm(x, m, v, b, g, 1e-3);
        const out = (await y.data()).slice();
        tf.dispose([x, m, v, g, b, y]);
        return out;
      };
      assertLessOrEqual(maxAbsDiff(await run("native"), await run("cpu")), 1e-5);
    },
  });
}

for (const name of ["Sqrt", "Square"]) {
  test({
    name: `native ${name} matches cpu`,
    ignore,
    fn: async () => {
      const run = async (backend: string) => {
        await tf.setBackend(backend);
        const x = tf.abs(tf.tensor(randomValues(60, 4), [3, 4, 5]));
        const y = tf.engine().runKernel(name, { x }) as tf.Tensor;
        const v = (await y.data()).slice();
        tf.dispose([x, y]);
        return v;
      };
      assertLessOrEqual(maxAbsDiff(await run("native"), await run("cpu")), 1e-6);
    },
  });
}

for (const keepDims of [false, true]) {
  test({
    name: `native spatial Mean matches cpu (keepDims ${keepDims})`,
    ignore,
    fn: async () => {
      for (const axis of [[1, 2], [2, 1], [1], [0, 1, 2]]) {
        const inputs = { x: { shape: [2, 3, 4, 5], seed: 9 } };
        const want = await runKernelOn("cpu", "Mean", inputs, { axis, keepDims });
        const got = await runKernelOn("native", "Mean", inputs, { axis, keepDims });
        assertLessOrEqual(maxAbsDiff(got[0], want[0]), 1e-6, JSON.stringify(axis));
      }
    },
  });
}

for (const [relu6, impl] of [[false, "default"], [true, "default"], [true, "onednn"]] as const) {
  // The last two are large enough for the oneDNN binary passes (≥ 65536 elements).
  for (const shape of [[2, 5, 4, 6], [3, 3, 3, 16], [10, 7], [2, 64, 64, 24], [4096, 20]]) {
    test({
      name: `native fused batchNormTrain (${impl}, relu6 ${relu6}) matches cpu, values and ` +
        `gradients: ${JSON.stringify(shape)}`,
      ignore,
      fn: async () => {
        if (impl === "onednn") Deno.env.set("KD_NATIVE_BN", "onednn");
        else Deno.env.delete("KD_NATIVE_BN");
        const c = shape[shape.length - 1];
        const run = async (backend: string) => {
          await tf.setBackend(backend);
          // Scale so that some outputs exceed 6 and ReLU6's upper clip is exercised.
          const x = tf.mul(tf.tensor(randomValues(tf.util.sizeFromShape(shape), 11), shape), 4);
          const g = tf.add(tf.tensor(randomValues(c, 12)), 2.5);
          const b = tf.tensor(randomValues(c, 13));
          const dy = tf.tensor(randomValues(tf.util.sizeFromShape(shape), 14), shape);
          const f = (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) =>
            tf.sum(tf.mul(batchNormTrain(x, g, b, { eps: 1e-3, relu6 }).y, dy));
          const r = batchNormTrain(x, g, b, { eps: 1e-3, relu6 });
          const grads = tf.grads(f)([x, g, b]);
          const out = [r.y, r.mean, r.variance, ...grads].map((t) => t.dataSync().slice());
          tf.dispose([x, g, b, dy, r.y, r.mean, r.variance, ...grads]);
          return out;
        };
        const want = await run("cpu"), got = await run("native");
        Deno.env.delete("KD_NATIVE_BN");
        for (let i = 0; i < want.length; i++) {
          const scale = Math.max(1, maxAbs(want[i]));
          assertLessOrEqual(maxAbsDiff(got[i], want[i]) / scale, 1e-4, `output ${i}`);
        }
      },
    });
  }
}

/** Loss and gradients of a small MobileNetV2 (no dropout) on a fixed batch. */
async function mobilenetGrads(backend: string, steps = 1) {
  await tf.setBackend(backend);
  const model = new MobileNetV2({
    numLabels: 3,
    imageSize: 64,
    depthMultiplier: 0.35,
    classifierDropoutProb: 0,
    seed: 3,
  });
  const params = [...model.trainableVariables().values()];
  const x = tf.tensor(randomValues(4 * 64 * 64 * 3, 21), [4, 64, 64, 3]) as tf.Tensor4D;
  const labels = tf.tidy(() => tf.oneHot(tf.tensor1d([0, 1, 2, 1], "int32"), 3));
  const results: Float32Array[][] = [];
  for (let s = 0; s < steps; s++) {
    const { value, grads } = tf.variableGrads(
      () => tf.losses.softmaxCrossEntropy(labels, model.apply(x, { training: true })) as tf.Scalar,
      params,
    );
    results.push(
      [value, ...params.map((p) => grads[p.name])].map((t) => t.dataSync().slice() as Float32Array),
    );
    tf.dispose([value, ...Object.values(grads)]);
  }
  tf.dispose([x, labels]);
  model.dispose();
  return results;
}

test({
  name: "native MobileNetV2 loss and gradients match cpu",
  ignore,
  fn: async () => {
    const [want] = await mobilenetGrads("cpu"), [got] = await mobilenetGrads("native");
    assertEquals(got.length, want.length);
    assertLessOrEqual(Math.abs(got[0][0] - want[0][0]), 1e-4, "loss");
    for (let i = 1; i < want.length; i++) {
      // Relative L2 error: float32 sums run in a different order, and a value that lands exactly
      // on a ReLU6 boundary may flip its mask, so elementwise maxima are too brittle here. The
      // absolute floor covers gradients that are mathematically ~0 (a BN shift before another BN).
      let err = 0, norm = 0;
      for (let j = 0; j < want[i].length; j++) {
        err += (got[i][j] - want[i][j]) ** 2;
        norm += want[i][j] ** 2;
      }
      assertLessOrEqual(
        Math.sqrt(err),
        1e-3 * Math.sqrt(norm) + 1e-5 * Math.sqrt(want[i].length),
        `gradient ${i}`,
      );
    }
  },
});

test({
  name: "native training steps leak neither tensors nor oneDNN objects",
  ignore,
  fn: async () => {
    await mobilenetGrads("native", 1);
    const pool = (tf.backend() as unknown as { pool: { stats(): { fresh: number } } }).pool;
    const tensors = tf.memory().numTensors, allocs = nativeAllocations();
    const fresh = pool.stats().fresh, runs = compiledTrainingRuns();
    await mobilenetGrads("native", 3);
    assertEquals(compiledTrainingRuns(), runs + 3, "the steps ran the compiled training graph");
    assertEquals(tf.memory().numTensors, tensors);
    assertEquals(nativeAllocations(), allocs);
    // Steady state: every activation-sized buffer of a step is a recycled one.
    assertEquals(pool.stats().fresh, fresh, "buffers allocated afresh after the first step");
    assert(allocs.primitives > 0, "the model ran through oneDNN primitives");
  },
});

test({
  name: "native ViT forward matches cpu",
  ignore,
  fn: async () => {
    const { ViT, vitConfigFromHF } = await import("../../lib/models/vit.ts");
    const config = vitConfigFromHF({
      model_type: "vit",
      hidden_size: 32,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      intermediate_size: 64,
      image_size: 32,
      patch_size: 8,
      hidden_act: "gelu",
      num_labels: 3,
    });
    const run = async (backend: string) => {
      await tf.setBackend(backend);
      const model = new ViT(config, undefined, 5);
      const x = tf.tensor(randomValues(2 * 32 * 32 * 3, 31), [2, 32, 32, 3]) as tf.Tensor4D;
      const y = model.apply(x);
      const v = (await y.data()).slice();
      tf.dispose([x, y]);
      model.dispose();
      return v;
    };
    const want = await run("cpu"), got = await run("native");
    assertLessOrEqual(maxAbsDiff(got, want), 1e-4 * Math.max(1, maxAbs(want)));
  },
});

for (const decoupled of [true, false]) {
  test({
    name: `native fused ${decoupled ? "AdamW" : "Adam"} update matches the composed ops on cpu`,
    ignore,
    fn: async () => {
      const run = async (backend: string) => {
        await tf.setBackend(backend);
        let p = tf.tensor(randomValues(5000, 51));
        let m = tf.zeros([5000]), v = tf.zeros([5000]);
        for (let step = 1; step <= 3; step++) {
          const g = tf.tensor(randomValues(5000, 51 + step));
          const r = adamUpdate(p, g, m, v, {
            lr: 1e-2,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weightDecay: 0.05,
            decoupled,
            step,
          });
          tf.dispose([p, m, v, g]);
          ({ param: p, m, v } = r);
        }
        const out = [await p.data(), await m.data(), await v.data()].map((a) => a.slice());
        tf.dispose([p, m, v]);
        return out;
      };
      const want = await run("cpu"), got = await run("native");
      for (let i = 0; i < 3; i++) assertLessOrEqual(maxAbsDiff(got[i], want[i]), 1e-6, `${i}`);
    },
  });
}

test({
  name: "native buffer pool: disposed outputs are recycled, and values read out never change",
  ignore,
  fn: async () => {
    await tf.setBackend("native");
    const pool = (tf.backend() as unknown as {
      pool: { stats(): { fresh: number; reused: number } };
    }).pool;
    const a = tf.tensor(randomValues(5000, 1)), b = tf.tensor(randomValues(5000, 2));
    const first = tf.add(a, b);
    const read = first.dataSync();
    const expected = read.slice();
    first.dispose();
    const reused = pool.stats().reused;
    const second = tf.mul(a, b); // same size: takes the buffer `first` returned
    assertEquals(pool.stats().reused, reused + 1);
    assertEquals(maxAbsDiff(read, expected), 0, "an array read before dispose was overwritten");
    tf.dispose([a, b, second]);
  },
});

for (const name of ["Add", "Sub", "Multiply", "RealDiv"]) {
  test({
    name: `native ${name} of large equal shapes (oneDNN pass) matches cpu`,
    ignore,
    fn: async () => {
      const run = async (backend: string) => {
        await tf.setBackend(backend);
        const shape = [4, 32, 32, 20];
        const a = tf.tensor(randomValues(81920, 61), shape);
        const b0 = tf.tensor(randomValues(81920, 62), shape);
        const b = name === "RealDiv" ? tf.add(tf.abs(b0), 0.5) : b0;
        const out = tf.engine().runKernel(name, { a, b }) as tf.Tensor;
        const v = out.dataSync().slice();
        tf.dispose([a, b0, b, out]);
        return v;
      };
      assertLessOrEqual(maxAbsDiff(await run("native"), await run("cpu")), 1e-6);
    },
  });
}
