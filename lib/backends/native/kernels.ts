/**
 * What every `native` kernel shares (reading the cpu backend's typed arrays in place, pooled
 * output buffers, the cpu fallback), and the matmul, transpose and softmax kernels on oneDNN.
 * Kernels fall back to the `cpu` kernel for cases they do not cover (e.g. non-float32).
 * @module
 */
import * as tf from "../../tf.ts";
import type { MathBackendCPU } from "@tensorflow/tfjs-backend-cpu";
import { cached, D, denseStrides, mdStrides, Primitive, sgemm } from "./dnnl.ts";
import type { BufferPool } from "./pool.ts";

/** The arguments tfjs passes a kernel. */
export type KernelArgs = {
  inputs: tf.NamedTensorInfoMap;
  backend: tf.KernelBackend;
  attrs?: tf.NamedAttrMap;
};
/** A tfjs kernel function. */
export type KernelFn = (args: KernelArgs) => tf.TensorInfo | tf.TensorInfo[];

/** Typed array of a tensor held by the native (cpu-derived) backend. */
export function valuesOf(backend: tf.KernelBackend, t: tf.TensorInfo): Float32Array {
  return (backend as MathBackendCPU).data.get(t.dataId).values as Float32Array;
}

/**
 * An output buffer of `n` floats for a kernel on `backend`: recycled (contents arbitrary) on the
 * native backend, whose kernels overwrite every element; a fresh zeroed array elsewhere.
 */
export function alloc(backend: tf.KernelBackend, n: number): Float32Array {
  const pool = (backend as { pool?: BufferPool }).pool;
  if (!pool) return new Float32Array(n);
  const a = pool.alloc(n);
  if (poison) a.fill(NaN);
  return a;
}

/** Give `a`, from {@linkcode alloc} and referenced by nothing any more, back to `backend`'s pool. */
export function release(backend: tf.KernelBackend, a: Float32Array): void {
  (backend as { pool?: BufferPool }).pool?.release(a);
}

/** `KD_NATIVE_POOL_POISON=1` fills every output buffer with NaN first (tests: nothing reads it). */
const poison = Deno.env.get("KD_NATIVE_POOL_POISON") === "1";

/** Wrap `values` as an output tensor of the native backend. */
export function output(
  backend: tf.KernelBackend,
  shape: number[],
  values: Float32Array,
): tf.TensorInfo {
  return (backend as MathBackendCPU).makeTensorInfo(shape, "float32", values);
}

/** The cpu backend's kernel `name` (the fallback for cases a native kernel does not cover). */
export function cpuKernel(name: string): KernelFn {
  const k = tf.getKernel(name, "cpu");
  if (!k) throw new Error(`tfjs cpu backend has no ${name} kernel`);
  return k.kernelFunc as KernelFn;
}

/** `[batch, m, n]` products via `dnnl_sgemm`; batch broadcast only when one side has batch 1. */
function batchMatMul(args: KernelArgs): tf.TensorInfo {
  const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
  const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
  const ra = a.shape.length, rb = b.shape.length;
  const batchA = a.shape.slice(0, -2).reduce((x, y) => x * y, 1);
  const batchB = b.shape.slice(0, -2).reduce((x, y) => x * y, 1);
  const m = transposeA ? a.shape[ra - 1] : a.shape[ra - 2];
  const k = transposeA ? a.shape[ra - 2] : a.shape[ra - 1];
  const n = transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
  const outBatchShape = (batchA >= batchB ? a : b).shape.slice(0, -2);
  if (
    a.dtype !== "float32" || b.dtype !== "float32" ||
    (batchA !== batchB && batchA !== 1 && batchB !== 1)
  ) {
    return cpuKernel("BatchMatMul")(args) as tf.TensorInfo;
  }
  const va = valuesOf(args.backend, a), vb = valuesOf(args.backend, b);
  const batch = Math.max(batchA, batchB);
  const out = alloc(args.backend, batch * m * n);
  if (batchB === 1 && !transposeA && batch > 1) {
    // One big GEMM: stack A's batches as rows.
    sgemm(false, transposeB, batch * m, n, k, va, vb, out);
  } else {
    for (let i = 0; i < batch; i++) {
      const sa = batchA === 1 ? va : va.subarray(i * m * k, (i + 1) * m * k);
      const sb = batchB === 1 ? vb : vb.subarray(i * k * n, (i + 1) * k * n);
      sgemm(transposeA, transposeB, m, n, k, sa, sb, out.subarray(i * m * n, (i + 1) * m * n));
    }
  }
  return output(args.backend, [...outBatchShape, m, n], out);
}

/** Below this many elements the cpu kernels are as fast as a oneDNN call. */
const SMALL = 4096;

/** Transpose as a oneDNN reorder: the source described with permuted strides, copied densely. */
function transpose(args: KernelArgs): tf.TensorInfo {
  const { x } = args.inputs as Record<string, tf.TensorInfo>;
  const { perm } = args.attrs as { perm: number[] };
  const size = tf.util.sizeFromShape(x.shape);
  if (x.dtype !== "float32" || size < SMALL || x.shape.length > 6) {
    return cpuKernel("Transpose")(args) as tf.TensorInfo;
  }
  const outShape = perm.map((p) => x.shape[p]);
  const inStrides = denseStrides(x.shape);
  const r = cached(`transpose|${x.shape}|${perm}`, () =>
    new Primitive({
      op: "reorder",
      src: mdStrides(outShape, perm.map((p) => inStrides[p])),
      dst: mdStrides(outShape, denseStrides(outShape)),
    }));
  const out = alloc(args.backend, size);
  r.run({ [D.arg.src]: valuesOf(args.backend, x), [D.arg.dst]: out });
  return output(args.backend, outShape, out);
}

/** Softmax along `dim` with oneDNN's softmax primitive. */
function softmax(args: KernelArgs): tf.TensorInfo {
  const { logits } = args.inputs as Record<string, tf.TensorInfo>;
  const { dim } = args.attrs as { dim: number };
  const size = tf.util.sizeFromShape(logits.shape);
  if (logits.dtype !== "float32" || size < SMALL) {
    return cpuKernel("Softmax")(args) as tf.TensorInfo;
  }
  const axis = dim < 0 ? dim + logits.shape.length : dim;
  const data = () => mdStrides(logits.shape, denseStrides(logits.shape));
  const p = cached(
    `softmax|${logits.shape}|${axis}`,
    () => new Primitive({ op: "softmax", prop: D.prop.fwdInference, data: data(), axis }),
  );
  const out = alloc(args.backend, size);
  p.run({ [D.arg.src]: valuesOf(args.backend, logits), [D.arg.dst]: out });
  return output(args.backend, logits.shape, out);
}

/**
 * `out` = `x` (dense, `shape`) repeated `reps[i]` times along each axis, by block copies: each
 * row of `x` goes to its place in the first tile, then, innermost axis first, every filled block
 * is copied `reps[k] − 1` times along axis `k`. tfjs's cpu `Tile` computes an index per element;
 * `broadcastTo` (a pooling gradient) runs through it.
 */
export function tileInto(
  x: Float32Array,
  shape: number[],
  reps: number[],
  out: Float32Array,
): void {
  const r = shape.length;
  if (r === 0) {
    out[0] = x[0];
    return;
  }
  const outShape = shape.map((d, i) => d * reps[i]);
  const strides = denseStrides(outShape);
  const row = shape[r - 1];
  // Place every row of x (multi-index over the outer axes, all inside the first tile).
  const outer = x.length / row;
  const idx = new Array<number>(r - 1).fill(0);
  for (let i = 0; i < outer; i++) {
    let at = 0;
    for (let k = 0; k < r - 1; k++) at += idx[k] * strides[k];
    out.set(x.subarray(i * row, (i + 1) * row), at);
    for (let k = r - 2; k >= 0 && ++idx[k] === shape[k]; k--) idx[k] = 0;
  }
  // Replicate along axis k the block of axes ≥ k, at every base position of the axes < k.
  for (let k = r - 1; k >= 0; k--) {
    if (reps[k] === 1) continue;
    const block = shape[k] * strides[k];
    const bases = shape.slice(0, k);
    const count = bases.reduce((a, b) => a * b, 1);
    const pos = new Array<number>(k).fill(0);
    for (let i = 0; i < count; i++) {
      let at = 0;
      for (let j = 0; j < k; j++) at += pos[j] * strides[j];
      for (let t = 1; t < reps[k]; t++) out.copyWithin(at + t * block, at, at + block);
      for (let j = k - 1; j >= 0 && ++pos[j] === bases[j]; j--) pos[j] = 0;
    }
  }
}

/** `Tile` for float32 by block copies ({@linkcode tileInto}); other dtypes on cpu. */
function tile(args: KernelArgs): tf.TensorInfo {
  const { x } = args.inputs as Record<string, tf.TensorInfo>;
  const { reps } = args.attrs as { reps: number[] };
  if (x.dtype !== "float32" || reps.length !== x.shape.length) {
    return cpuKernel("Tile")(args) as tf.TensorInfo;
  }
  const outShape = x.shape.map((d, i) => d * reps[i]);
  const out = alloc(args.backend, tf.util.sizeFromShape(outShape));
  tileInto(valuesOf(args.backend, x), x.shape, reps, out);
  return output(args.backend, outShape, out);
}

/** A kernel name and its oneDNN-backed implementation. */
export interface NativeKernel {
  name: string;
  fn: KernelFn;
}

/** The matmul, transpose and softmax kernels on oneDNN, and tile by block copies. */
export function nativeKernels(): NativeKernel[] {
  return [
    { name: "BatchMatMul", fn: batchMatMul },
    { name: "Transpose", fn: transpose },
    { name: "Softmax", fn: softmax },
    { name: "Tile", fn: tile },
  ];
}
