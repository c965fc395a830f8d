/**
 * Convolution + training-mode batch norm (+ ReLU6) as one kernel with one gradient, for the
 * `native` backend. Forward: the conv primitive writes `z = conv(x) − running mean` (through the
 * conv's bias: centred data keep the float32 sums below exact), one
 * multi-threaded pass takes `Σz` and `Σz²` ({@linkcode channelSums}), one binary primitive applies
 * the normalisation and the clip. Backward: the ReLU6 mask, oneDNN's batch-norm backward for
 * `dz`, `dγ`, `dβ` (on the centred z), then the conv's own data and filter gradients. Every per-element pass is a
 * multi-threaded oneDNN primitive; tfjs's composition walks each activation a dozen times. The
 * kernel also returns the updated running statistics (PyTorch's rule), which replaces a handful
 * of tiny tfjs ops per layer and step.
 * @module
 */
import * as tf from "../../tf.ts";
import { D } from "./dnnl.ts";
import { alloc, type KernelArgs, type NativeKernel, output, release, valuesOf } from "./kernels.ts";
import { channelSums, type ConvGeometry, convInfo, convPrimitive, geometry } from "./conv.ts";
import { applyAffine, bnBackwardPass, clipMask, ONEDNN_APPLY_MIN } from "./fused.ts";
import * as loops from "./bn_loops.ts";
import { CONV_BN_TRAIN, CONV_BN_TRAIN_GRAD, type ConvBNTrainAttrs } from "./kernel_names.ts";

function convAttrs(a: ConvBNTrainAttrs) {
  return { strides: a.strides, pad: "same", dilations: a.dilations, dataFormat: "NHWC" };
}

/** The conv geometry of the fused op, or null when the oneDNN conv does not cover it. */
function convBNGeometry(
  xShape: number[],
  filterShape: number[],
  a: ConvBNTrainAttrs,
): ConvGeometry | null {
  return geometry(convInfo(xShape, filterShape, convAttrs(a), a.depthwise), a.depthwise);
}

/** A conv + batch-norm (+ ReLU6) layer: the convolution's geometry and the batch norm's settings. */
export interface ConvBNLayer {
  g: ConvGeometry;
  eps: number;
  relu6: boolean;
  /** PyTorch-style running-statistics momentum (weight of the batch). */
  momentum: number;
}

/** What a layer's forward keeps for its gradient: `z = conv(x) − running mean`, its statistics. */
export interface ConvBNSaved {
  z: Float32Array;
  zMean: Float32Array;
  variance: Float32Array;
}

/** The parameters of a layer as arrays: filter, γ, β, running mean and variance. */
export type ConvBNParams = [Float32Array, Float32Array, Float32Array, Float32Array, Float32Array];

/**
 * One layer's training forward (see the module doc): writes `z` and `y` (plus `residual` when
 * given, after the activation) and returns the saved statistics and the updated running ones.
 * Shared by the per-op kernel and the compiled training graph, so both compute the same bits.
 */
export function convBNForward(
  l: ConvBNLayer,
  x: Float32Array,
  [filter, gamma, beta, runningMean, runningVar]: ConvBNParams,
  z: Float32Array,
  y: Float32Array,
  residual?: Float32Array,
): { saved: ConvBNSaved; runningMean: Float32Array; runningVar: Float32Array } {
  const { g } = l;
  const c = g.oc, rows = g.n * g.oh * g.ow, size = rows * c;
  const d = [g.n, c, g.oh, g.ow];
  // The running mean centres z (see the module doc).
  const negShift = new Float32Array(c);
  for (let k = 0; k < c; k++) negShift[k] = -runningMean[k];
  convPrimitive("conv", g, true).run({
    [D.arg.src]: x,
    [D.arg.weights]: filter,
    [D.arg.bias]: negShift,
    [D.arg.dst]: z,
  });
  const variance = new Float32Array(c);
  const zMean = new Float32Array(c);
  if (size >= ONEDNN_APPLY_MIN) {
    const sq = new Float32Array(c), s1 = new Float32Array(c);
    channelSums(d, z, z, sq, s1);
    for (let k = 0; k < c; k++) {
      const m = s1[k] / rows;
      zMean[k] = m;
      variance[k] = Math.max(sq[k] / rows - m * m, 0);
    }
  } else loops.bnStatistics(z, c, zMean, variance);
  // PyTorch's running-statistics update, rounded like the composed float32 ops it replaces.
  const f = Math.fround, m = f(l.momentum), keep = f(1 - l.momentum), unbias = f(rows / (rows - 1));
  const newMean = new Float32Array(c), newVar = new Float32Array(c);
  for (let k = 0; k < c; k++) {
    const batchVar = rows > 1 ? f(variance[k] * unbias) : variance[k];
    newMean[k] = f(runningMean[k] * keep) + f(f(zMean[k] + runningMean[k]) * m);
    newVar[k] = f(runningVar[k] * keep) + f(batchVar * m);
  }
  const { a: mul, b: add } = loops.bnScaleShift(gamma, beta, zMean, variance, l.eps);
  applyAffine(d, z, [mul, add], l.relu6, y, residual);
  return { saved: { z, zMean, variance }, runningMean: newMean, runningVar: newVar };
}

/**
 * One layer's batch-norm (+ ReLU6) gradient: writes `dz`, the gradient at the conv's output
 * (it may be `dy` when the caller owns `dy`), from `dy` at the output `y`; returns `[dγ, dβ]`.
 * The conv's own gradients follow from `dz` ({@linkcode convCompute}).
 */
export function convBNBackward(
  l: ConvBNLayer,
  { z, zMean, variance }: ConvBNSaved,
  gamma: Float32Array,
  y: Float32Array,
  dy: Float32Array,
  dz: Float32Array,
): [Float32Array, Float32Array] {
  const c = l.g.oc, size = z.length, rows = size / c;
  const d = [l.g.n, c, l.g.oh, l.g.ow];
  // With ReLU6 the masked gradient goes to dz and is overwritten there in place (as oneDNN
  // allows on diff_dst); without, the batch-norm backward reads dy.
  if (l.relu6) {
    if (size >= ONEDNN_APPLY_MIN) clipMask(y, dy, dz);
    // The same mask as the oneDNN pass: 0 < y < 6.
    else for (let i = 0; i < size; i++) dz[i] = y[i] > 0 && y[i] < 6 ? dy[i] : 0;
  }
  const g = l.relu6 ? dz : dy;
  if (size >= ONEDNN_APPLY_MIN) {
    // oneDNN's batch-norm backward: the sums and dz in one primitive (measured faster than the
    // sums as a 1x1 depthwise backward-weights pass plus a binary pass).
    return bnBackwardPass(d, l.eps, [z, zMean, variance, gamma], g, dz);
  }
  const dscale = new Float32Array(c), doffset = new Float32Array(c);
  const sums = loops.bnBackwardReduce(z, gamma, gamma, zMean, false, g, dz);
  const k = loops.bnBackwardCoefficients(
    gamma,
    zMean,
    variance,
    l.eps,
    rows,
    sums,
    dscale,
    doffset,
  );
  loops.bnBackwardApply(z, g, k, dz);
  return [dscale, doffset];
}

/**
 * The saved state per forward output `y` (keyed by y's data id), for the gradient. Not kernel
 * outputs: tfjs's tape gives every output without a gradient a zero-filled gradient tensor of
 * its size, an activation-sized allocation per layer and step for nothing.
 */
const forwardState = new WeakMap<object, ConvBNSaved>();

function layerOf(xShape: number[], filterShape: number[], a: ConvBNTrainAttrs): ConvBNLayer {
  const g = convBNGeometry(xShape, filterShape, a);
  if (!g) throw new Error("native conv+batch norm: unsupported convolution (see convBNGeometry)");
  return { g, eps: a.eps, relu6: a.relu6, momentum: a.momentum };
}

function convBNTrain(args: KernelArgs): tf.TensorInfo[] {
  const { x, filter, scale, offset, runningMean, runningVar } = args.inputs as Record<
    string,
    tf.TensorInfo
  >;
  const l = layerOf(x.shape, filter.shape, args.attrs as unknown as ConvBNTrainAttrs);
  const { g } = l, b = args.backend, size = g.n * g.oh * g.ow * g.oc;
  const params = [filter, scale, offset, runningMean, runningVar].map((t) => valuesOf(b, t));
  const z = alloc(b, size), y = alloc(b, size);
  const r = convBNForward(l, valuesOf(b, x), params as ConvBNParams, z, y);
  const yInfo = output(b, [g.n, g.oh, g.ow, g.oc], y);
  forwardState.set(yInfo.dataId, r.saved);
  return [yInfo, output(b, [g.oc], r.runningMean), output(b, [g.oc], r.runningVar)];
}

function convBNTrainGrad(args: KernelArgs): tf.TensorInfo[] {
  const { scale, dy, y, x, filter } = args.inputs as Record<string, tf.TensorInfo>;
  const l = layerOf(x.shape, filter.shape, args.attrs as unknown as ConvBNTrainAttrs);
  const state = forwardState.get(y.dataId);
  if (!state) throw new Error("native conv+batch norm: gradient without its forward state");
  forwardState.delete(y.dataId);
  const b = args.backend;
  const dz = alloc(b, state.z.length);
  const [dscale, doffset] = convBNBackward(
    l,
    state,
    valuesOf(b, scale),
    valuesOf(b, y),
    valuesOf(b, dy),
    dz,
  );
  release(b, state.z);
  return [output(b, y.shape, dz), output(b, [l.g.oc], dscale), output(b, [l.g.oc], doffset)];
}

/** The gradient of {@linkcode CONV_BN_TRAIN} (registered with the native backend's kernels). */
export const convBNGradient: tf.GradConfig = {
  kernelName: CONV_BN_TRAIN,
  inputsToSave: ["x", "filter", "scale"],
  outputsToSave: [true, false, false],
  gradFunc: (dys: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs?: tf.NamedAttrMap) => {
    // z = conv(x) − running mean, its mean and variance wait in `forwardState` (the running
    // statistics, variables updated right after the forward, are not read again).
    const [x, filter, scale, y] = saved;
    const dy = Array.isArray(dys) ? dys[0] : dys;
    const a = attrs as unknown as ConvBNTrainAttrs;
    const [dz, dscale, doffset] = tf.engine().runKernel(
      CONV_BN_TRAIN_GRAD,
      { scale, dy, y, x, filter },
      attrs ?? {},
    ) as tf.Tensor[];
    const conv = { ...convAttrs(a), dimRoundingMode: undefined };
    const names = a.depthwise
      ? ["DepthwiseConv2dNativeBackpropInput", "DepthwiseConv2dNativeBackpropFilter"]
      : ["Conv2DBackpropInput", "Conv2DBackpropFilter"];
    return {
      x: () =>
        tf.engine().runKernel(
          names[0],
          { dy: dz, filter },
          { ...conv, inputShape: x.shape } as unknown as tf.NamedAttrMap,
        ) as tf.Tensor,
      filter: () =>
        tf.engine().runKernel(
          names[1],
          { x, dy: dz },
          { ...conv, filterShape: filter.shape } as unknown as tf.NamedAttrMap,
        ) as tf.Tensor,
      scale: () => dscale,
      offset: () => doffset,
      runningMean: () => tf.zerosLike(scale),
      runningVar: () => tf.zerosLike(scale),
    };
  },
};

/** The fused conv + batch-norm kernels registered on the native backend. */
export function convBNKernels(): NativeKernel[] {
  return [
    { name: CONV_BN_TRAIN, fn: convBNTrain },
    { name: CONV_BN_TRAIN_GRAD, fn: convBNTrainGrad },
  ];
}
