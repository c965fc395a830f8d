/**
 * Fused training kernels for the `native` backend: batch norm with batch statistics (optionally
 * followed by ReLU6) as ONE kernel with ONE gradient kernel. tfjs's own autodiff of
 * `moments`/`batchNorm`/`relu6` walks every activation tensor about a dozen times; these take
 * two passes forward and two backward. The default runs the loops of `bn_loops.ts`; with
 * `KD_NATIVE_BN=onednn` it runs oneDNN batch normalization + eltwise clip primitives instead
 * (slower with oneDNN 2.6 channels-last, kept for comparison on other versions).
 * @module
 */
import * as tf from "../../tf.ts";
import { cached, D, type Md, md, type PostOp, postOpSrc1, Primitive } from "./dnnl.ts";
import { alloc, type KernelArgs, type NativeKernel, output, valuesOf } from "./kernels.ts";
import * as loops from "./bn_loops.ts";
import {
  ADAM_UPDATE,
  type AdamUpdateOptions,
  BN_TRAIN,
  BN_TRAIN_GRAD,
  SUM_OF_SQUARES,
} from "./kernel_names.ts";

/** `KD_NATIVE_BN=onednn` selects oneDNN's batch norm instead of the JS loops (for comparison). */
const useOneDnn = () => Deno.env.get("KD_NATIVE_BN") === "onednn";

interface BNAttrs {
  eps: number;
  relu6: boolean;
}

/** oneDNN dims {N, C, H, W} (nhwc) for an NHWC tensor, or {rows, C, 1, 1} for any other rank. */
function bnDims(shape: number[]): number[] {
  const c = shape[shape.length - 1];
  if (shape.length === 4) return [shape[0], c, shape[1], shape[2]];
  return [shape.slice(0, -1).reduce((a, b) => a * b, 1), c, 1, 1];
}

function bnSpec(d: number[], eps: number, op: "bnorm" | "bnormBwd") {
  const prop = op === "bnorm" ? D.prop.fwdTraining : D.prop.bwd;
  return { op, prop, data: md(d, D.tag.nhwc), channels: md([d[1]], D.tag.a), eps };
}

function bnForward(d: number[], eps: number): Primitive {
  return cached(`bn_fwd|${d}|${eps}`, () => new Primitive(bnSpec(d, eps, "bnorm")));
}

/** oneDNN's batch-norm backward over NHWC dims `d` (`[N, C, H, W]`): dx, dγ and dβ. */
function bnBackward(d: number[], eps: number): Primitive {
  return cached(
    `bn_bwd|${d}|${eps}`,
    () => new Primitive(bnSpec(d, eps, "bnormBwd"), { hint: bnForward(d, eps) }),
  );
}

function clipSpec(size: number, op: "eltwise" | "eltwiseBwd") {
  const data = md([size], D.tag.a);
  return { op, prop: D.prop.fwdTraining, alg: D.alg.clipV2UseDst, data, alpha: 0, beta: 6 };
}

function clipForward(size: number): Primitive {
  return cached(`clip_fwd|${size}`, () => new Primitive(clipSpec(size, "eltwise")));
}

/** `dx = dy·[0 < y < 6]` (ReLU6 backward from its output) over `size` elements. */
function clipBackward(size: number): Primitive {
  return cached(
    `clip_bwd|${size}`,
    () => new Primitive(clipSpec(size, "eltwiseBwd"), { hint: clipForward(size) }),
  );
}

/** Tensors at least this large run their per-element passes as oneDNN binary primitives. */
export const ONEDNN_APPLY_MIN = 1 << 16;

/** A per-channel binary `mul` over NHWC dims `d` followed by `post`. */
function channelAffine(d: number[], post: (data: Md, ch: Md) => PostOp[]): Primitive {
  const data = md(d, D.tag.nhwc), ch = md([1, d[1], 1, 1], D.tag.nhwc);
  return new Primitive({ op: "binary", alg: D.alg.mul, src: data, src1: ch, dst: data }, {
    post: post(data, ch),
  });
}

/**
 * `y = [clip₀⁶](x·a + b) [+ r]`, a and b per channel, r a whole tensor (a residual): binary mul
 * and post-ops.
 */
function affineForward(d: number[], relu6: boolean, residual: boolean): Primitive {
  return cached(`bn_apply_fwd|${d}|${relu6}|${residual}`, () =>
    channelAffine(d, (data, ch) => [
      { kind: "binary", alg: D.alg.add, src1: ch },
      ...(relu6 ? [{ kind: "eltwise" as const, alg: D.alg.clip, alpha: 0, beta: 6 }] : []),
      ...(residual ? [{ kind: "binary" as const, alg: D.alg.add, src1: data }] : []),
    ]));
}

/** `dx = ((x·r) + g)·k1 + k3`, r/k1/k3 per channel: binary mul + three post-ops. */
function affineBackward(d: number[]): Primitive {
  return cached(`bn_apply_bwd|${d}`, () =>
    channelAffine(d, (data, ch) => [
      { kind: "binary", alg: D.alg.add, src1: data },
      { kind: "binary", alg: D.alg.mul, src1: ch },
      { kind: "binary", alg: D.alg.add, src1: ch },
    ]));
}

/**
 * `y = [clip₀⁶](x·a + b) [+ residual]` per channel: a oneDNN pass when large, the JS loop
 * otherwise. The residual is added after the clip, as a block adds its input to its output.
 */
export function applyAffine(
  d: number[],
  x: Float32Array,
  [a, b]: Float32Array[],
  relu6: boolean,
  y: Float32Array,
  residual?: Float32Array,
): void {
  if (x.length < ONEDNN_APPLY_MIN) {
    loops.bnApply(x, a, b, relu6, y);
    if (residual) { for (let i = 0; i < y.length; i++) y[i] += residual[i]; }
    return;
  }
  affineForward(d, relu6, residual !== undefined).run({
    [D.arg.src]: x,
    [D.arg.src1]: a,
    [postOpSrc1(0)]: b,
    ...(residual ? { [postOpSrc1(relu6 ? 2 : 1)]: residual } : {}),
    [D.arg.dst]: y,
  });
}

/** `out = dy·[0 < y < 6]`: the ReLU6 gradient read off its output, in one oneDNN pass. */
export function clipMask(y: Float32Array, dy: Float32Array, out: Float32Array): void {
  clipBackward(y.length).run({ [D.arg.dst]: y, [D.arg.diffDst]: dy, [D.arg.diffSrc]: out });
}

/**
 * oneDNN's batch-norm backward of `x` (statistics `mean`, `variance`, scale `gamma`) for the
 * output gradient `g`: writes `dx` (may be `g`) and returns `[dγ, dβ]`.
 */
export function bnBackwardPass(
  d: number[],
  eps: number,
  [x, mean, variance, gamma]: Float32Array[],
  g: Float32Array,
  dx: Float32Array,
): [Float32Array, Float32Array] {
  const dscale = new Float32Array(d[1]), dshift = new Float32Array(d[1]);
  bnBackward(d, eps).run({
    [D.arg.src]: x,
    [D.arg.mean]: mean,
    [D.arg.variance]: variance,
    [D.arg.diffDst]: g,
    [D.arg.scale]: gamma,
    [D.arg.shift]: gamma,
    [D.arg.diffSrc]: dx,
    [D.arg.diffScale]: dscale,
    [D.arg.diffShift]: dshift,
  });
  return [dscale, dshift];
}

function bnTrain(args: KernelArgs): tf.TensorInfo[] {
  const { x, scale, shift } = args.inputs as Record<string, tf.TensorInfo>;
  const { eps, relu6 } = args.attrs as unknown as BNAttrs;
  const d = bnDims(x.shape), c = d[1];
  const xv = valuesOf(args.backend, x), y = alloc(args.backend, xv.length);
  const gamma = valuesOf(args.backend, scale), beta = valuesOf(args.backend, shift);
  const mean = new Float32Array(c), variance = new Float32Array(c);
  if (useOneDnn()) {
    bnForward(d, eps).run({
      [D.arg.src]: xv,
      [D.arg.scale]: gamma,
      [D.arg.shift]: beta,
      [D.arg.dst]: y,
      [D.arg.mean]: mean,
      [D.arg.variance]: variance,
    });
    if (relu6) clipForward(y.length).run({ [D.arg.src]: y, [D.arg.dst]: y });
  } else {
    loops.bnStatistics(xv, c, mean, variance);
    const { a, b } = loops.bnScaleShift(gamma, beta, mean, variance, eps);
    applyAffine(d, xv, [a, b], relu6, y);
  }
  const b = args.backend;
  return [output(b, x.shape, y), output(b, [c], mean), output(b, [c], variance)];
}

function bnTrainGrad(args: KernelArgs): tf.TensorInfo[] {
  const { x, scale, shift, mean, variance, dy, y } = args.inputs as Record<string, tf.TensorInfo>;
  const { eps, relu6 } = args.attrs as unknown as BNAttrs;
  const be = args.backend;
  const d = bnDims(x.shape), c = d[1];
  const [xv, gamma, mv, vv, dyv] = [x, scale, mean, variance, dy].map((t) => valuesOf(be, t));
  const dx = alloc(be, dyv.length);
  const large = xv.length >= ONEDNN_APPLY_MIN;
  // The ReLU6 mask from the saved output (0 < y < 6; differs from tfjs's 0 < pre ≤ 6 only where
  // pre is exactly 6), parked in dx.
  const masked = relu6 && (large || useOneDnn());
  if (masked) clipMask(valuesOf(be, y), dyv, dx);
  const g = relu6 ? dx : dyv;
  if (useOneDnn()) {
    const [dscale, dshift] = bnBackwardPass(d, eps, [xv, mv, vv, gamma], g, dx);
    return [output(be, x.shape, dx), output(be, [c], dscale), output(be, [c], dshift)];
  }
  const { a, b } = loops.bnScaleShift(gamma, valuesOf(be, shift), mv, vv, eps);
  // Without the oneDNN mask, the loop applies it and parks the masked gradient in dx.
  const sums = loops.bnBackwardReduce(xv, a, b, mv, relu6 && !masked, masked ? dx : dyv, dx);
  const dscale = new Float32Array(c), dshift = new Float32Array(c);
  const k = loops.bnBackwardCoefficients(gamma, mv, vv, eps, xv.length / c, sums, dscale, dshift);
  let result = dx;
  if (large && k.k1.every((v) => v !== 0)) {
    // dx = k1·((k2/k1)·x + g) + k3 as one multi-threaded binary primitive with post-ops.
    const ratio = k.k2.map((v, i) => v / k.k1[i]);
    if (relu6) result = alloc(be, dx.length); // dx holds g, an input of this pass
    affineBackward(d).run({
      [D.arg.src]: xv,
      [D.arg.src1]: ratio,
      [postOpSrc1(0)]: g,
      [postOpSrc1(1)]: k.k1,
      [postOpSrc1(2)]: k.k3,
      [D.arg.dst]: result,
    });
  } else loops.bnBackwardApply(xv, g, k, dx);
  return [output(be, x.shape, result), output(be, [c], dscale), output(be, [c], dshift)];
}

/** The gradient of {@linkcode BN_TRAIN} (registered with the native backend's kernels). */
export const bnTrainGradient: tf.GradConfig = {
  kernelName: BN_TRAIN,
  inputsToSave: ["x", "scale", "shift"],
  outputsToSave: [true, true, true],
  gradFunc: (dys: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs?: tf.NamedAttrMap) => {
    const [x, scale, shift, y, mean, variance] = saved;
    const dy = Array.isArray(dys) ? dys[0] : dys;
    const [dx, dscale, dshift] = tf.engine().runKernel(
      BN_TRAIN_GRAD,
      { x, scale, shift, mean, variance, dy, y },
      attrs ?? {},
    ) as tf.Tensor[];
    return { x: () => dx, scale: () => dscale, shift: () => dshift };
  },
};

/** One Adam/AdamW step in one pass (same formula and order as `lib/optim.ts`). */
function adamUpdateKernel(args: KernelArgs): tf.TensorInfo[] {
  const { param, grad, m, v } = args.inputs as Record<string, tf.TensorInfo>;
  const o = args.attrs as unknown as AdamUpdateOptions;
  const p0 = valuesOf(args.backend, param), g0 = valuesOf(args.backend, grad);
  const m0 = valuesOf(args.backend, m), v0 = valuesOf(args.backend, v);
  const n = p0.length;
  const p1 = alloc(args.backend, n), m1 = alloc(args.backend, n), v1 = alloc(args.backend, n);
  const c1 = 1 - o.beta1 ** o.step, c2 = 1 - o.beta2 ** o.step;
  const l2 = o.decoupled ? 0 : o.weightDecay, keep = o.decoupled ? 1 - o.lr * o.weightDecay : 1;
  // `lib/optim.ts`'s formula with the bias corrections folded into constants: one sqrt and one
  // division per element (≈1.6× faster than the literal form), all on locals.
  const b1 = o.beta1, b2 = o.beta2, nb1 = 1 - b1, nb2 = 1 - b2, eps = o.eps;
  const k = o.lr / c1, s2 = 1 / Math.sqrt(c2);
  // The clipped gradient rounded to float32, exactly what a separate multiply would store.
  const gs = Math.fround(o.gradScale ?? 1), f = Math.fround;
  for (let i = 0; i < n; i++) {
    const p = p0[i], g = (gs === 1 ? g0[i] : f(g0[i] * gs)) + p * l2;
    const mi = m0[i] * b1 + g * nb1;
    const vi = v0[i] * b2 + g * g * nb2;
    m1[i] = mi;
    v1[i] = vi;
    p1[i] = p * keep - k * mi / (Math.sqrt(vi) * s2 + eps);
  }
  return [
    output(args.backend, param.shape, p1),
    output(args.backend, m.shape, m1),
    output(args.backend, v.shape, v1),
  ];
}

/** Inference batch norm (tfjs `FusedBatchNorm`) with per-channel statistics as one affine pass. */
function makeInferenceBatchNorm(): NativeKernel {
  const cpu = tf.getKernel("FusedBatchNorm", "cpu")!.kernelFunc;
  return {
    name: "FusedBatchNorm",
    fn: (args) => {
      const { x, mean, variance, scale, offset } = args.inputs as Record<
        string,
        tf.TensorInfo | undefined
      >;
      const c = x!.shape[x!.shape.length - 1];
      const perChannel = (t?: tf.TensorInfo) =>
        !t || (t.dtype === "float32" && t.shape.length === 1 && t.shape[0] === c);
      if (
        x!.dtype !== "float32" || !mean || !variance ||
        ![mean, variance, scale, offset].every(perChannel)
      ) {
        return cpu(args as Parameters<typeof cpu>[0]);
      }
      const eps = (args.attrs as { varianceEpsilon?: number }).varianceEpsilon ?? 0.001;
      const { a, b } = loops.bnScaleShift(
        scale ? valuesOf(args.backend, scale) : new Float32Array(c).fill(1),
        offset ? valuesOf(args.backend, offset) : new Float32Array(c),
        valuesOf(args.backend, mean),
        valuesOf(args.backend, variance),
        eps,
      );
      const xv = valuesOf(args.backend, x!);
      const y = alloc(args.backend, xv.length);
      applyAffine(bnDims(x!.shape), xv, [a, b], false, y);
      return output(args.backend, x!.shape, y);
    },
  };
}

/** Σx² over every input tensor (float64 accumulation), one kernel for a whole gradient set. */
function sumOfSquaresKernel(args: KernelArgs): tf.TensorInfo {
  let total = 0;
  for (const t of Object.values(args.inputs) as tf.TensorInfo[]) {
    const v = valuesOf(args.backend, t);
    let a = 0, b = 0;
    const n = v.length, even = n - (n & 1);
    // Two accumulators halve the dependency chain of the adds.
    for (let i = 0; i < even; i += 2) {
      a += v[i] * v[i];
      b += v[i + 1] * v[i + 1];
    }
    if (even < n) a += v[n - 1] * v[n - 1];
    total += a + b;
  }
  return output(args.backend, [], Float32Array.of(total));
}

/** The fused kernels registered on the native backend. */
export function fusedKernels(): NativeKernel[] {
  return [
    { name: BN_TRAIN, fn: bnTrain },
    { name: BN_TRAIN_GRAD, fn: bnTrainGrad },
    makeInferenceBatchNorm(),
    { name: ADAM_UPDATE, fn: adamUpdateKernel },
    { name: SUM_OF_SQUARES, fn: sumOfSquaresKernel },
  ];
}
