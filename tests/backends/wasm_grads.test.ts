import { ALL_GRANTED, test } from "../permissions.ts";
import { assert, assertLessOrEqual } from "@std/assert";
import { initBackend } from "../../lib/backend.ts";
import { WASM_GRADIENT_KERNELS } from "../../lib/backends/wasm_grads.ts";
import * as tf from "../../lib/tf.ts";
import { CONV_CASES, convInvocations, maxAbsDiff, runKernelOn } from "../../lib/backends/parity.ts";

if (ALL_GRANTED) await initBackend("wasm", { quiet: true });

test("wasm gradient kernels are registered", () => {
  for (const k of WASM_GRADIENT_KERNELS) assert(tf.getKernel(k, "wasm"), `${k} missing on wasm`);
});

for (const depthwise of [false, true]) {
  for (const c of CONV_CASES) {
    for (const inv of convInvocations(c, depthwise)) {
      test(`wasm ${inv.name} matches cpu: ${JSON.stringify(c)}`, async () => {
        const want = await runKernelOn("cpu", inv.name, inv.inputs, inv.attrs);
        const got = await runKernelOn("wasm", inv.name, inv.inputs, inv.attrs);
        assertLessOrEqual(maxAbsDiff(got[0], want[0]), 1e-4);
      });
    }
  }
}

test("wasm gradient kernels leak no tensors", async () => {
  await tf.setBackend("wasm");
  const x = tf.randomNormal([2, 8, 8, 4]);
  const w = tf.randomNormal([3, 3, 4, 6]);
  const wd = tf.randomNormal([3, 3, 6, 1]);
  const f = (x: tf.Tensor, w: tf.Tensor, wd: tf.Tensor) =>
    tf.sum(
      tf.depthwiseConv2d(
        tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 2, "same"),
        wd as tf.Tensor4D,
        2,
        "same",
      ),
    );
  tf.dispose(tf.grads(f)([x, w, wd]));
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) tf.dispose(tf.grads(f)([x, w, wd]));
  assert(
    tf.memory().numTensors === before,
    `tensors grew from ${before} to ${tf.memory().numTensors}`,
  );
  tf.dispose([x, w, wd]);
});
