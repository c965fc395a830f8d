/**
 * Tight-loop float32 binary kernels (Add, Sub, Multiply, RealDiv) for the `native` backend's two
 * common cases, equal shapes and a scalar operand. tfjs's generic cpu kernels pay per-element
 * broadcasting bookkeeping, which dominated the optimizer update; anything else falls back to them.
 * @module
 */
import * as tf from "../../tf.ts";
import { output, valuesOf } from "./kernels.ts";
import type { NativeKernel } from "./kernels.ts";

type Op = "add" | "sub" | "mul" | "div";

function loop(op: Op, a: Float32Array, b: Float32Array, out: Float32Array): void {
  const n = out.length;
  if (a.length === n && b.length === n) {
    if (op === "add") { for (let i = 0; i < n; i++) out[i] = a[i] + b[i]; }
    else if (op === "sub") { for (let i = 0; i < n; i++) out[i] = a[i] - b[i]; }
    else if (op === "mul") { for (let i = 0; i < n; i++) out[i] = a[i] * b[i]; }
    else for (let i = 0; i < n; i++) out[i] = a[i] / b[i];
  } else if (b.length === 1) {
    const s = b[0];
    if (op === "add") { for (let i = 0; i < n; i++) out[i] = a[i] + s; }
    else if (op === "sub") { for (let i = 0; i < n; i++) out[i] = a[i] - s; }
    else if (op === "mul") { for (let i = 0; i < n; i++) out[i] = a[i] * s; }
    else for (let i = 0; i < n; i++) out[i] = a[i] / s;
  } else {
    const s = a[0];
    if (op === "add") { for (let i = 0; i < n; i++) out[i] = s + b[i]; }
    else if (op === "sub") { for (let i = 0; i < n; i++) out[i] = s - b[i]; }
    else if (op === "mul") { for (let i = 0; i < n; i++) out[i] = s * b[i]; }
    else for (let i = 0; i < n; i++) out[i] = s / b[i];
  }
}

const sameShape = (a: number[], b: number[]) =>
  a.length === b.length && a.every((d, i) => d === b[i]);

function makeBinary(name: string, op: Op): NativeKernel {
  const cpu = tf.getKernel(name, "cpu")!.kernelFunc;
  return {
    name,
    fn: (args) => {
      const { a, b } = args.inputs as Record<string, tf.TensorInfo>;
      const sizeA = tf.util.sizeFromShape(a.shape), sizeB = tf.util.sizeFromShape(b.shape);
      const ok = a.dtype === "float32" && b.dtype === "float32" &&
        (sameShape(a.shape, b.shape) || (sizeB === 1 && b.shape.length <= a.shape.length) ||
          (sizeA === 1 && a.shape.length <= b.shape.length));
      if (!ok) return cpu(args as Parameters<typeof cpu>[0]);
      const shape = sizeA >= sizeB ? a.shape : b.shape;
      const out = new Float32Array(Math.max(sizeA, sizeB));
      loop(op, valuesOf(args.backend, a), valuesOf(args.backend, b), out);
      return output(args.backend, shape, out);
    },
  };
}

/** The binary kernels overridden on the native backend. */
export function elementwiseKernels(): NativeKernel[] {
  return [
    makeBinary("Add", "add"),
    makeBinary("Sub", "sub"),
    makeBinary("Multiply", "mul"),
    makeBinary("RealDiv", "div"),
  ];
}
