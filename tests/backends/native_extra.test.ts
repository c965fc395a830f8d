import { test } from "../permissions.ts";
import { assertLessOrEqual } from "@std/assert";
import { dnnlAvailable } from "../../lib/backends/native/dnnl.ts";
import { CONV_CASES, maxAbsDiff, runKernelOn } from "../../lib/backends/parity.ts";

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
