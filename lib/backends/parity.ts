/**
 * Kernel parity checks (used by the tests and `deno task bench gpu`): run the same kernel on the
 * `cpu` backend and on the backend under test from identical random inputs, and compare.
 * @module
 */
import * as tf from "../tf.ts";

/** Deterministic pseudo-random floats in [-1, 1) (xorshift; no dependence on tf's RNG). */
export function randomValues(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

/** Input spec: shape and seed. */
export type InputSpec = { shape: number[]; seed: number };

/** Run kernel `name` on `backend` with inputs built from `specs`; returns every output's values. */
export async function runKernelOn(
  backend: string,
  name: string,
  specs: Record<string, InputSpec>,
  attrs: Record<string, unknown>,
): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const inputs: Record<string, tf.Tensor> = {};
  for (const [k, s] of Object.entries(specs)) {
    inputs[k] = tf.tensor(randomValues(s.shape.reduce((a, b) => a * b, 1), s.seed), s.shape);
  }
  const out = tf.engine().runKernel(name, inputs, attrs as tf.NamedAttrMap);
  const outs = Array.isArray(out) ? out : [out];
  // Async reads: webgpu's synchronous read path needs a canvas, which Deno lacks.
  const values = await Promise.all(
    outs.map((t) => (t as tf.Tensor).data() as Promise<Float32Array>),
  );
  tf.dispose([...Object.values(inputs), ...outs as tf.Tensor[]]);
  return values;
}

/** Largest |a-b| over two arrays of equal length (Infinity when lengths differ). */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** One convolution case of the parity suites. */
export interface ConvCase {
  n: number;
  h: number;
  w: number;
  ci: number;
  /** Output channels (regular) or channel multiplier (depthwise). */
  co: number;
  k: number;
  s: number;
  pad: "same" | "valid";
}

/** Strides 1/2, same/valid, 1×1 and 3×3, batch 1 and > 1. */
export const CONV_CASES: ConvCase[] = [
  { n: 1, h: 7, w: 7, ci: 3, co: 5, k: 3, s: 1, pad: "same" },
  { n: 2, h: 8, w: 8, ci: 4, co: 6, k: 3, s: 2, pad: "same" },
  { n: 2, h: 9, w: 7, ci: 4, co: 6, k: 3, s: 2, pad: "valid" },
  { n: 3, h: 6, w: 6, ci: 8, co: 4, k: 1, s: 1, pad: "valid" },
  { n: 2, h: 7, w: 7, ci: 5, co: 3, k: 1, s: 2, pad: "same" },
  { n: 1, h: 10, w: 10, ci: 16, co: 1, k: 3, s: 1, pad: "valid" },
];

/** The kernel invocations (name, inputs, attrs) that cover a conv case, forward and backward. */
export function convInvocations(
  c: ConvCase,
  depthwise: boolean,
): { name: string; inputs: Record<string, InputSpec>; attrs: Record<string, unknown> }[] {
  const fShape = [c.k, c.k, c.ci, c.co];
  const outCh = depthwise ? c.ci * c.co : c.co;
  const oh = c.pad === "same" ? Math.ceil(c.h / c.s) : Math.ceil((c.h - c.k + 1) / c.s);
  const ow = c.pad === "same" ? Math.ceil(c.w / c.s) : Math.ceil((c.w - c.k + 1) / c.s);
  const xShape = [c.n, c.h, c.w, c.ci], dyShape = [c.n, oh, ow, outCh];
  const common = { strides: [c.s, c.s], pad: c.pad, dataFormat: "NHWC", dilations: [1, 1] };
  const pre = depthwise ? "DepthwiseConv2dNative" : "Conv2D";
  return [
    {
      name: pre,
      inputs: { x: { shape: xShape, seed: 1 }, filter: { shape: fShape, seed: 2 } },
      attrs: common,
    },
    {
      name: `${pre}BackpropInput`,
      inputs: { dy: { shape: dyShape, seed: 3 }, filter: { shape: fShape, seed: 2 } },
      attrs: { ...common, inputShape: xShape },
    },
    {
      name: `${pre}BackpropFilter`,
      inputs: { x: { shape: xShape, seed: 1 }, dy: { shape: dyShape, seed: 3 } },
      attrs: { ...common, filterShape: fShape },
    },
  ];
}

/** Largest |v| in an array (0 for an empty one). */
export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/** One parity result: kernel, case and the max abs difference from `cpu`. */
export interface ParityResult {
  kernel: string;
  case: string;
  maxAbsDiff: number;
}

/** Run every conv case (regular and depthwise, forward and both backprops) on `backend` vs cpu. */
export async function convParity(backend: string): Promise<ParityResult[]> {
  const out: ParityResult[] = [];
  for (const depthwise of [false, true]) {
    for (const c of CONV_CASES) {
      for (const inv of convInvocations(c, depthwise)) {
        const want = await runKernelOn("cpu", inv.name, inv.inputs, inv.attrs);
        const got = await runKernelOn(backend, inv.name, inv.inputs, inv.attrs);
        out.push({
          kernel: inv.name,
          case: JSON.stringify(c),
          maxAbsDiff: maxAbsDiff(got[0], want[0]),
        });
      }
    }
  }
  return out;
}
