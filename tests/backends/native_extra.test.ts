import { test } from "../permissions.ts";
import { assertEquals, assertLessOrEqual } from "@std/assert";
import * as tf from "../../lib/tf.ts";
import { dnnlAvailable } from "../../lib/backends/native/dnnl.ts";
import { CONV_CASES, maxAbsDiff, randomValues, runKernelOn } from "../../lib/backends/parity.ts";
import { globalAvgPool } from "../../lib/models/layers.ts";

const available = dnnlAvailable();
if (available) {
  const { initBackend } = await import("../../lib/backend.ts");
  await initBackend("native", { quiet: true });
} else console.error("fused conv tests skipped: libdnnl.so.2 missing (apt-get install libdnnl2)");

for (const depthwise of [false, true]) {
  for (const activation of ["linear", "relu6", "relu"]) {
    for (const c of CONV_CASES) {
      const name = depthwise ? "FusedDepthwiseConv2D" : "FusedConv2D";
      const outCh = depthwise ? c.ci * c.co : c.co;
      test({
        name: `native ${name} (${activation}, bias) matches cpu: ${JSON.stringify(c)}`,
        ignore: !available,
        fn: async () => {
          const inputs = {
            x: { shape: [c.n, c.h, c.w, c.ci], seed: 1 },
            filter: { shape: [c.k, c.k, c.ci, c.co], seed: 2 },
            bias: { shape: [outCh], seed: 3 },
          };
          const attrs = {
            strides: [c.s, c.s],
            pad: c.pad,
            dataFormat: "NHWC",
            dilations: [1, 1],
            activation,
          };
          const want = await runKernelOn("cpu", name, inputs, attrs);
          const got = await runKernelOn("native", name, inputs, attrs);
          assertLessOrEqual(maxAbsDiff(got[0], want[0]), 1e-4);
        },
      });
    }
  }
}

for (
  const [name, attrs] of [
    ["Relu", {}],
    ["Relu6", {}],
    ["ClipByValue", { clipValueMin: -0.3, clipValueMax: 0.5 }],
  ] as const
) {
  test({
    name: `native ${name} matches cpu`,
    ignore: !available,
    fn: async () => {
      const inputs = { x: { shape: [2, 5, 5, 7], seed: 9 } };
      const want = await runKernelOn("cpu", name, inputs, attrs);
      const got = await runKernelOn("native", name, inputs, attrs);
      assertLessOrEqual(maxAbsDiff(got[0], want[0]), 0);
    },
  });
}

for (
  const [shape, reps] of [
    [[2, 1, 1, 5], [1, 3, 4, 1]], // broadcastTo of a pooled gradient
    [[2, 3], [2, 3]],
    [[3, 1, 2], [2, 2, 1]],
    [[4], [3]],
    [[2, 2, 2, 2], [1, 1, 1, 1]],
  ]
) {
  test({
    name: `native Tile matches cpu: ${JSON.stringify(shape)} × ${JSON.stringify(reps)}`,
    ignore: !available,
    fn: async () => {
      const inputs = { x: { shape, seed: 4 } };
      const want = await runKernelOn("cpu", "Tile", inputs, { reps });
      const got = await runKernelOn("native", "Tile", inputs, { reps });
      assertEquals(got[0].length, want[0].length);
      assertLessOrEqual(maxAbsDiff(got[0], want[0]), 0);
    },
  });
}

test({
  name: "globalAvgPool equals tf.mean over H and W, value and gradient, on native and cpu",
  ignore: !available,
  fn: async () => {
    for (const backend of ["native", "cpu"]) {
      await tf.setBackend(backend);
      const x = tf.tensor4d(randomValues(2 * 3 * 5 * 4, 6), [2, 3, 5, 4]);
      const dy = tf.tensor2d(randomValues(2 * 4, 7), [2, 4]);
      const f = (pool: (t: tf.Tensor4D) => tf.Tensor) => {
        const { value, grads } = tf.valueAndGrads((t: tf.Tensor) =>
          tf.sum(tf.mul(pool(t as tf.Tensor4D), dy)) as tf.Scalar
        )([x]);
        return [pool(x).dataSync(), grads[0].dataSync(), value.dataSync()];
      };
      const want = f((t) => tf.mean(t, [1, 2]));
      const got = f(globalAvgPool);
      want.forEach((w, i) => assertEquals(got[i], w, `${backend} output ${i}`));
    }
    await tf.setBackend("native");
  },
});
