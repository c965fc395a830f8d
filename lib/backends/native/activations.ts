/**
 * Activation kernels for the `native` backend as tight loops. tfjs's cpu Relu and ClipByValue
 * (ReLU6) cost ~0.5 s per 8-image batch of the pretrained 224 px MobileNetV2: more than all its
 * convolutions together.
 * @module
 */
import * as tf from "../../tf.ts";
import { makeUnary } from "./elementwise.ts";
import { alloc, type NativeKernel, output, valuesOf } from "./kernels.ts";

function clipByValue(): NativeKernel {
  const cpu = tf.getKernel("ClipByValue", "cpu")!.kernelFunc;
  return {
    name: "ClipByValue",
    fn: (args) => {
      const { x } = args.inputs as Record<string, tf.TensorInfo>;
      if (x.dtype !== "float32") return cpu(args as Parameters<typeof cpu>[0]);
      const { clipValueMin: lo, clipValueMax: hi } = args.attrs as {
        clipValueMin: number;
        clipValueMax: number;
      };
      const v = valuesOf(args.backend, x);
      const out = alloc(args.backend, v.length);
      for (let i = 0; i < v.length; i++) {
        const a = v[i];
        out[i] = a < lo ? lo : a > hi ? hi : a;
      }
      return output(args.backend, x.shape, out);
    },
  };
}

/** Relu, Relu6 and ClipByValue on float32 tensors. */
export function activationKernels(): NativeKernel[] {
  return [
    makeUnary("Relu", (x, o) => {
      for (let i = 0; i < x.length; i++) o[i] = x[i] > 0 ? x[i] : 0;
    }),
    makeUnary("Relu6", (x, o) => {
      for (let i = 0; i < x.length; i++) {
        const a = x[i];
        o[i] = a < 0 ? 0 : a > 6 ? 6 : a;
      }
    }),
    clipByValue(),
  ];
}
