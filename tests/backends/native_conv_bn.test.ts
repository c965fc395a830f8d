import { test } from "../permissions.ts";
import { assertLessOrEqual } from "@std/assert";
import * as tf from "../../lib/tf.ts";
import { dnnlAvailable } from "../../lib/backends/native/dnnl.ts";
import { convBatchNormTrain } from "../../lib/backends/native/ops.ts";
import { maxAbs, maxAbsDiff, randomValues } from "../../lib/backends/parity.ts";

const available = dnnlAvailable();
if (available) {
  const { initBackend } = await import("../../lib/backend.ts");
  await initBackend("native", { quiet: true });
} else console.error("native conv+BN tests skipped: libdnnl.so.2 missing");

function relativeL2(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let err = 0, norm = 0;
  for (let i = 0; i < want.length; i++) {
    err += (got[i] - want[i]) ** 2;
    norm += want[i] ** 2;
  }
  return Math.sqrt(err) / Math.max(Math.sqrt(norm), 1e-12);
}

const CASES = [
  // [n, h, w, cin, cout, k, stride, depthwise] — small (JS passes) and large (oneDNN passes).
  [2, 7, 7, 3, 5, 3, 2, false],
  [2, 8, 8, 6, 6, 3, 1, true],
  [2, 9, 9, 4, 8, 1, 1, false],
  [8, 32, 32, 16, 48, 1, 1, false],
  [8, 33, 33, 24, 24, 3, 2, true],
  [8, 32, 32, 3, 32, 3, 2, false],
] as const;

for (const [n, h, w, ci, co, k, stride, depthwise] of CASES) {
  for (const relu6 of [true, false]) {
    test({
      name:
        `native fused conv+batchNormTrain (relu6 ${relu6}) matches cpu, values and gradients: ` +
        JSON.stringify({ n, h, w, ci, co, k, stride, depthwise }),
      ignore: !available,
      fn: async () => {
        const run = async (backend: string) => {
          await tf.setBackend(backend);
          const x = tf.tensor4d(randomValues(n * h * w * ci, 1), [n, h, w, ci]);
          const fShape = depthwise ? [k, k, ci, 1] : [k, k, ci, co];
          const f = tf.tensor4d(
            randomValues(fShape.reduce((a, b) => a * b, 1), 2),
            fShape as [number, number, number, number],
          );
          const c = depthwise ? ci : co;
          // A shift near (not at) the mean, as the running mean is; and outputs beyond 6.
          const g = tf.add(tf.mul(tf.tensor1d(randomValues(c, 3)), 2), 4);
          const b = tf.tensor1d(randomValues(c, 4));
          // Running statistics near (not at) the batch's, as in training.
          const running = {
            mean: tf.variable(tf.tensor1d(randomValues(c, 5)), false),
            variance: tf.variable(tf.add(tf.abs(tf.tensor1d(randomValues(c, 7))), 0.5), false),
          };
          const outShape = [n, Math.ceil(h / stride), Math.ceil(w / stride), c];
          const dy = tf.tensor(randomValues(outShape.reduce((a, b) => a * b, 1), 6), outShape);
          const opts = { stride, dilation: 1, depthwise, eps: 1e-3, relu6, momentum: 0.1 };
          const y = convBatchNormTrain(x, f, g, b, running, opts);
          const grads = tf.grads((x, f, g, b) =>
            tf.sum(tf.mul(
              convBatchNormTrain(x as tf.Tensor4D, f as tf.Tensor4D, g, b, running, opts),
              dy,
            ))
          )([x, f, g, b]);
          // Running statistics after two updates (the forward above and the one in tf.grads).
          const out = [y, running.mean, running.variance, ...grads].map((t) =>
            t.dataSync().slice()
          );
          tf.dispose([x, f, g, b, running.mean, running.variance, dy, y, ...grads]);
          return out;
        };
        const want = await run("cpu"), got = await run("native");
        await tf.setBackend("native");
        // Values: elementwise. Gradients: relative L2, since a pre-activation within rounding of
        // a ReLU6 boundary may fall on the other side of it in a different summation order.
        for (let i = 0; i < 3; i++) {
          const scale = Math.max(1, maxAbs(want[i]));
          assertLessOrEqual(maxAbsDiff(got[i], want[i]) / scale, 1e-4, `output ${i}`);
        }
        for (let i = 3; i < want.length; i++) {
          assertLessOrEqual(relativeL2(got[i], want[i]), 1e-3, `gradient ${i - 3}`);
        }
      },
    });
  }
}
