/**
 * Tight-loop float32 kernels for the `native` backend: binary Add, Sub, Multiply, RealDiv (equal
 * shapes, a scalar operand, or rank-≤4 broadcasting), Sqrt, Square and the NHWC spatial Mean
 * (global average pooling). tfjs's generic cpu kernels pay per-element index bookkeeping, which dominated the
 * optimizer update and the pooling gradient; other cases fall back to them.
 * @module
 */
import * as tf from "../../tf.ts";
import { alloc, output, valuesOf } from "./kernels.ts";
import { cached, D, md, Primitive } from "./dnnl.ts";
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

/** Equal-shape operands at least this large run as one multi-threaded oneDNN binary pass. */
const ONEDNN_MIN = 1 << 16;

const ALG: Record<Op, number> = {
  add: D.alg.add,
  sub: D.alg.sub,
  mul: D.alg.mul,
  div: D.alg.div,
};

function binaryPrimitive(op: Op, n: number): Primitive {
  return cached(`binary_${op}|${n}`, () => {
    const data = md([n], D.tag.a);
    return new Primitive({ op: "binary", alg: ALG[op], src: data, src1: data, dst: data });
  });
}

const sameShape = (a: number[], b: number[]) =>
  a.length === b.length && a.every((d, i) => d === b[i]);

/** Output shape when `a` and `b` broadcast with rank ≤ 4, else null. */
function broadcastShape(a: number[], b: number[]): number[] | null {
  const r = Math.max(a.length, b.length);
  if (r > 4) return null;
  const pa = [...Array(r - a.length).fill(1), ...a], pb = [...Array(r - b.length).fill(1), ...b];
  const out: number[] = [];
  for (let i = 0; i < r; i++) {
    if (pa[i] !== pb[i] && pa[i] !== 1 && pb[i] !== 1) return null;
    out.push(Math.max(pa[i], pb[i]));
  }
  return out;
}

/** Row-major strides of `shape` padded to rank 4, 0 along broadcast dimensions. */
function strides4(shape: number[], out: number[]): number[] {
  const p = [...Array(4 - shape.length).fill(1), ...shape];
  const o = [...Array(4 - out.length).fill(1), ...out];
  const st = [0, 0, 0, 0];
  let s = 1;
  for (let i = 3; i >= 0; i--) {
    st[i] = p[i] === 1 && o[i] !== 1 ? 0 : s;
    s *= p[i];
  }
  return st;
}

/** General rank-≤4 broadcasting with a tight innermost loop (e.g. [N,1,1,C] × [N,H,W,C]). */
function broadcastLoop(
  op: Op,
  a: Float32Array,
  sa: number[],
  b: Float32Array,
  sb: number[],
  shape: number[],
  out: Float32Array,
): void {
  const o = [...Array(4 - shape.length).fill(1), ...shape];
  const [a0, a1, a2, a3] = strides4(sa, shape), [b0, b1, b2, b3] = strides4(sb, shape);
  let k = 0;
  for (let i = 0; i < o[0]; i++) {
    for (let j = 0; j < o[1]; j++) {
      for (let l = 0; l < o[2]; l++) {
        let ia = i * a0 + j * a1 + l * a2, ib = i * b0 + j * b1 + l * b2;
        const n = o[3];
        if (op === "add") {
          for (let m = 0; m < n; m++, ia += a3, ib += b3) out[k++] = a[ia] + b[ib];
        } else if (op === "sub") {
          for (let m = 0; m < n; m++, ia += a3, ib += b3) out[k++] = a[ia] - b[ib];
        } else if (op === "mul") {
          for (let m = 0; m < n; m++, ia += a3, ib += b3) out[k++] = a[ia] * b[ib];
        } else for (let m = 0; m < n; m++, ia += a3, ib += b3) out[k++] = a[ia] / b[ib];
      }
    }
  }
}

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
      if (!ok) {
        const shape = a.dtype === "float32" && b.dtype === "float32" &&
          broadcastShape(a.shape, b.shape);
        if (!shape) return cpu(args as Parameters<typeof cpu>[0]);
        const out = alloc(args.backend, tf.util.sizeFromShape(shape));
        const va = valuesOf(args.backend, a), vb = valuesOf(args.backend, b);
        broadcastLoop(op, va, a.shape, vb, b.shape, shape, out);
        return output(args.backend, shape, out);
      }
      const shape = sizeA >= sizeB ? a.shape : b.shape;
      const out = alloc(args.backend, Math.max(sizeA, sizeB));
      const va = valuesOf(args.backend, a), vb = valuesOf(args.backend, b);
      if (sizeA === sizeB && sizeA >= ONEDNN_MIN) {
        binaryPrimitive(op, sizeA).run(
          { [D.arg.src]: va, [D.arg.src1]: vb, [D.arg.dst]: out },
        );
        return output(args.backend, shape, out);
      }
      loop(op, va, vb, out);
      return output(args.backend, shape, out);
    },
  };
}

/** Mean over the spatial axes [1, 2] of an NHWC tensor (global average pooling). */
function makeSpatialMean(): NativeKernel {
  const cpu = tf.getKernel("Mean", "cpu")!.kernelFunc;
  return {
    name: "Mean",
    fn: (args) => {
      const { x } = args.inputs as Record<string, tf.TensorInfo>;
      const { axis, keepDims } = args.attrs as { axis: number | number[]; keepDims: boolean };
      const axes = tf.util.parseAxisParam(axis, x.shape);
      if (
        x.dtype !== "float32" || x.shape.length !== 4 || axes.length !== 2 ||
        !axes.includes(1) || !axes.includes(2)
      ) {
        return cpu(args as Parameters<typeof cpu>[0]);
      }
      const [n, h, w, c] = x.shape;
      const v = valuesOf(args.backend, x);
      const out = alloc(args.backend, n * c);
      const acc = new Float64Array(c);
      for (let i = 0; i < n; i++) {
        acc.fill(0);
        for (let p = 0, base = i * h * w * c; p < h * w; p++, base += c) {
          for (let k = 0; k < c; k++) acc[k] += v[base + k];
        }
        for (let k = 0; k < c; k++) out[i * c + k] = acc[k] / (h * w);
      }
      return output(args.backend, keepDims ? [n, 1, 1, c] : [n, c], out);
    },
  };
}

/** A float32 unary kernel from a loop over the input (other dtypes fall back to cpu). */
export function makeUnary(
  name: string,
  f: (x: Float32Array, out: Float32Array) => void,
): NativeKernel {
  const cpu = tf.getKernel(name, "cpu")!.kernelFunc;
  return {
    name,
    fn: (args) => {
      const { x } = args.inputs as Record<string, tf.TensorInfo>;
      if (x.dtype !== "float32") return cpu(args as Parameters<typeof cpu>[0]);
      const v = valuesOf(args.backend, x);
      const out = alloc(args.backend, v.length);
      f(v, out);
      return output(args.backend, x.shape, out);
    },
  };
}

/** The elementwise kernels overridden on the native backend. */
export function elementwiseKernels(): NativeKernel[] {
  return [
    makeSpatialMean(),
    makeUnary("Sqrt", (x, o) => {
      for (let i = 0; i < x.length; i++) o[i] = Math.sqrt(x[i]);
    }),
    makeUnary("Square", (x, o) => {
      for (let i = 0; i < x.length; i++) o[i] = x[i] * x[i];
    }),
    makeBinary("Add", "add"),
    makeBinary("Sub", "sub"),
    makeBinary("Multiply", "mul"),
    makeBinary("RealDiv", "div"),
  ];
}
