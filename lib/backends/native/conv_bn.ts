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
import { alloc, type KernelArgs, type NativeKernel, output, valuesOf } from "./kernels.ts";
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

/**
 * `z` and its mean per forward output `y` (keyed by y's data id), for the gradient. They are
 * not kernel outputs: tfjs's tape gives every output without a gradient a zero-filled gradient
 * tensor of its size, an activation-sized allocation per layer and step for nothing.
 */
const forwardState = new WeakMap<
  object,
  { z: Float32Array; zMean: Float32Array; variance: Float32Array }
>();

function convBNTrain(args: KernelArgs): tf.TensorInfo[] {
  const { x, filter, scale, offset, runningMean, runningVar } = args.inputs as Record<
    string,
    tf.TensorInfo
  >;
  const a = args.attrs as unknown as ConvBNTrainAttrs;
  const g = convBNGeometry(x.shape, filter.shape, a);
  if (!g) throw new Error("native conv+batch norm: unsupported convolution (see convBNGeometry)");
  const c = g.oc, rows = g.n * g.oh * g.ow, size = rows * c;
  const d = [g.n, c, g.oh, g.ow];
  // The running mean centres z (see the module doc).
  const s = valuesOf(args.backend, runningMean);
  const negShift = new Float32Array(c);
  for (let k = 0; k < c; k++) negShift[k] = -s[k];
  const z = alloc(args.backend, size);
  convPrimitive("conv", g, true).run({
    [D.arg.src]: valuesOf(args.backend, x),
    [D.arg.weights]: valuesOf(args.backend, filter),
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
  const f = Math.fround, m = f(a.momentum), keep = f(1 - a.momentum), unbias = f(rows / (rows - 1));
  const rv = valuesOf(args.backend, runningVar);
  const newMean = new Float32Array(c), newVar = new Float32Array(c);
  for (let k = 0; k < c; k++) {
    const batchVar = rows > 1 ? f(variance[k] * unbias) : variance[k];
    newMean[k] = f(s[k] * keep) + f(f(zMean[k] + s[k]) * m);
    newVar[k] = f(rv[k] * keep) + f(batchVar * m);
  }
  const { a: mul, b: add } = loops.bnScaleShift(
    valuesOf(args.backend, scale),
    valuesOf(args.backend, offset),
    zMean,
    variance,
    a.eps,
  );
  const y = alloc(args.backend, size);
  applyAffine(d, z, [mul, add], a.relu6, y);
  const yInfo = output(args.backend, [g.n, g.oh, g.ow, c], y);
  forwardState.set(yInfo.dataId, { z, zMean, variance });
  return [yInfo, output(args.backend, [c], newMean), output(args.backend, [c], newVar)];
}

function convBNTrainGrad(args: KernelArgs): tf.TensorInfo[] {
  const { scale, dy, y } = args.inputs as Record<string, tf.TensorInfo>;
  const { eps, relu6 } = args.attrs as unknown as ConvBNTrainAttrs;
  const state = forwardState.get(y.dataId);
  if (!state) throw new Error("native conv+batch norm: gradient without its forward state");
  forwardState.delete(y.dataId);
  const pool = (args.backend as { pool?: { release(a: Float32Array): void } }).pool;
  const { z: zv, zMean, variance: vv } = state;
  const c = y.shape[y.shape.length - 1];
  const dyv = valuesOf(args.backend, dy);
  const size = zv.length, rows = size / c;
  const d = [y.shape[0], c, y.shape[1], y.shape[2]];
  const shape = y.shape;
  const gamma = valuesOf(args.backend, scale);
  // With ReLU6 the masked gradient g gets its own buffer and dz overwrites it (in place on
  // diff_dst, as oneDNN allows); without, dz gets a fresh buffer. z goes back to the pool.
  const gBuffer = relu6 ? alloc(args.backend, size) : null;
  const g = gBuffer ?? dyv;
  const dz = gBuffer ?? alloc(args.backend, size);
  let dscale: Float32Array = new Float32Array(c), doffset: Float32Array = new Float32Array(c);
  if (size >= ONEDNN_APPLY_MIN) {
    if (gBuffer) clipMask(valuesOf(args.backend, y), dyv, gBuffer);
    // oneDNN's batch-norm backward: the sums and dz in one primitive (measured faster than the
    // sums as a 1x1 depthwise backward-weights pass plus a binary pass).
    [dscale, doffset] = bnBackwardPass(d, eps, [zv, zMean, vv, gamma], g, dz);
  } else {
    if (gBuffer) {
      // The same mask as the large path: 0 < y < 6.
      const yv = valuesOf(args.backend, y);
      for (let i = 0; i < size; i++) gBuffer[i] = yv[i] > 0 && yv[i] < 6 ? dyv[i] : 0;
    }
    const sums = loops.bnBackwardReduce(zv, gamma, gamma, zMean, false, g, dz);
    const k = loops.bnBackwardCoefficients(gamma, zMean, vv, eps, rows, sums, dscale, doffset);
    loops.bnBackwardApply(zv, g, k, dz);
  }
  pool?.release(zv);
  const b = args.backend;
  return [output(b, shape, dz), output(b, [c], dscale), output(b, [c], doffset)];
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
      { scale, dy, y },
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
