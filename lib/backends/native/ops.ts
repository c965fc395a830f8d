/**
 * Fused training ops that use oneDNN when the `native` backend is active and the equivalent
 * composed tfjs ops elsewhere, so model code can call them unconditionally. Importing this
 * module loads no oneDNN code: it names the kernels, the native backend registers them.
 * @module
 */
import * as tf from "../../tf.ts";
import {
  ADAM_UPDATE,
  type AdamUpdateOptions,
  BN_TRAIN,
  CONV_BN_TRAIN,
  type ConvBNTrainAttrs,
  SUM_OF_SQUARES,
} from "./kernel_names.ts";

export type { AdamUpdateOptions } from "./kernel_names.ts";

/** Options of {@linkcode batchNormTrain}. */
export interface BatchNormTrainOptions {
  eps: number;
  /** Apply ReLU6 to the normalised output (fused on `native`). */
  relu6?: boolean;
}

/** Batch-norm output and the (biased) batch statistics over all but the last axis. */
export interface BatchNormTrainResult {
  y: tf.Tensor;
  mean: tf.Tensor1D;
  variance: tf.Tensor1D;
}

/**
 * Training-mode batch norm over the last (channel) axis with batch statistics, optionally fused
 * with ReLU6: `y = [relu6](gamma·(x-mean)/sqrt(var+eps) + beta)`. Differentiable w.r.t. x, gamma
 * and beta; `mean`/`variance` are for the caller's running statistics.
 */
export function batchNormTrain(
  x: tf.Tensor,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  opts: BatchNormTrainOptions,
): BatchNormTrainResult {
  const relu6 = opts.relu6 ?? false;
  if (tf.getBackend() === "native" && x.dtype === "float32") {
    const [y, mean, variance] = tf.engine().runKernel(
      BN_TRAIN,
      { x, scale: gamma, shift: beta },
      { eps: opts.eps, relu6 },
    ) as tf.Tensor[];
    return { y, mean: mean as tf.Tensor1D, variance: variance as tf.Tensor1D };
  }
  const axes = x.shape.slice(0, -1).map((_, i) => i);
  const { mean, variance } = tf.moments(x, axes);
  const y = tf.batchNorm(x, mean, variance, beta, gamma, opts.eps);
  return {
    y: relu6 ? tf.relu6(y) : y,
    mean: mean as tf.Tensor1D,
    variance: variance as tf.Tensor1D,
  };
}

/** Options of {@linkcode convBatchNormTrain}: the conv (TF "same" padding) and the batch norm. */
export interface ConvBatchNormTrainOptions {
  stride: number;
  dilation: number;
  /** `filter` is `[kh, kw, C, 1]` (depthwise) instead of HWIO. */
  depthwise: boolean;
  eps: number;
  relu6: boolean;
  /** Weight of the batch in the running statistics (PyTorch semantics). */
  momentum: number;
}

/** Running statistics a training-mode batch norm updates. */
export interface RunningStats {
  mean: tf.Variable;
  variance: tf.Variable;
}

/**
 * Convolution followed by training-mode batch norm (and ReLU6); updates `running` the PyTorch
 * way (`running = (1-m)·running + m·batch`, unbiased batch variance). On `native` one fused
 * kernel with one gradient; elsewhere the conv, {@linkcode batchNormTrain} and tf ops.
 */
export function convBatchNormTrain(
  x: tf.Tensor4D,
  filter: tf.Tensor4D,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  running: RunningStats,
  o: ConvBatchNormTrainOptions,
): tf.Tensor4D {
  if (tf.getBackend() === "native" && o.dilation === 1 && x.dtype === "float32") {
    const attrs: ConvBNTrainAttrs = {
      strides: [o.stride, o.stride],
      dilations: [1, 1],
      depthwise: o.depthwise,
      eps: o.eps,
      relu6: o.relu6,
      momentum: o.momentum,
    };
    const [y, mean, variance] = tf.engine().runKernel(
      CONV_BN_TRAIN,
      {
        x,
        filter,
        scale: gamma,
        offset: beta,
        runningMean: running.mean,
        runningVar: running.variance,
      },
      attrs as unknown as tf.NamedAttrMap,
    ) as tf.Tensor[];
    running.mean.assign(mean);
    running.variance.assign(variance);
    tf.dispose([mean, variance]);
    return y as tf.Tensor4D;
  }
  const z = o.depthwise
    ? tf.depthwiseConv2d(x, filter, o.stride, "same", "NHWC", o.dilation)
    : tf.conv2d(x, filter, o.stride, "same", "NHWC", o.dilation);
  const r = batchNormTrain(z, gamma, beta, { eps: o.eps, relu6: o.relu6 });
  updateRunningStats(running, r.mean, r.variance, z.size / z.shape[3], o.momentum);
  tf.dispose([z, r.mean, r.variance]);
  return r.y as tf.Tensor4D;
}

/** PyTorch's running-statistics update from a batch of `n` rows (unbiased running variance). */
export function updateRunningStats(
  running: RunningStats,
  mean: tf.Tensor,
  variance: tf.Tensor,
  n: number,
  m: number,
): void {
  tf.tidy(() => {
    const unbiased = n > 1 ? tf.mul(variance, n / (n - 1)) : variance;
    running.mean.assign(tf.add(tf.mul(running.mean, 1 - m), tf.mul(mean, m)));
    running.variance.assign(tf.add(tf.mul(running.variance, 1 - m), tf.mul(unbiased, m)));
  });
}

/** New parameter and moment values after one Adam/AdamW step. */
export interface AdamUpdateResult {
  param: tf.Tensor;
  m: tf.Tensor;
  v: tf.Tensor;
}

/**
 * One Adam/AdamW update of a parameter: on `native` a single pass over the four arrays (the
 * composed version runs ~15 tfjs kernels per parameter); elsewhere exactly `lib/optim.ts`'s ops.
 * The caller assigns the results to its variables.
 */
export function adamUpdate(
  param: tf.Tensor,
  grad: tf.Tensor,
  m: tf.Tensor,
  v: tf.Tensor,
  o: AdamUpdateOptions,
): AdamUpdateResult {
  if (tf.getBackend() === "native" && [param, grad, m, v].every((t) => t.dtype === "float32")) {
    const [p2, m2, v2] = tf.engine().runKernel(
      ADAM_UPDATE,
      { param, grad, m, v },
      { ...o },
    ) as tf.Tensor[];
    return { param: p2, m: m2, v: v2 };
  }
  return tf.tidy(() => {
    let g = o.gradScale !== undefined && o.gradScale !== 1 ? tf.mul(grad, o.gradScale) : grad;
    if (!o.decoupled && o.weightDecay) g = tf.add(g, tf.mul(param, o.weightDecay));
    const m2 = tf.add(tf.mul(m, o.beta1), tf.mul(g, 1 - o.beta1));
    const v2 = tf.add(tf.mul(v, o.beta2), tf.mul(tf.square(g), 1 - o.beta2));
    const mHat = tf.div(m2, 1 - o.beta1 ** o.step);
    const vHat = tf.div(v2, 1 - o.beta2 ** o.step);
    let next = tf.sub(param, tf.mul(tf.div(mHat, tf.add(tf.sqrt(vHat), o.eps)), o.lr));
    if (o.decoupled && o.weightDecay) next = tf.sub(next, tf.mul(param, o.lr * o.weightDecay));
    return { param: next, m: m2, v: v2 };
  });
}

/** `Σ x²` over all elements of all `tensors` as a number: one kernel on `native`, tf ops elsewhere. */
export async function sumOfSquares(tensors: tf.Tensor[]): Promise<number> {
  if (!tensors.length) return 0;
  const native = tf.getBackend() === "native" && tensors.every((t) => t.dtype === "float32");
  const total = native
    ? tf.engine().runKernel(SUM_OF_SQUARES, tensors as unknown as tf.NamedTensorMap) as tf.Tensor
    : tf.tidy(() => tf.addN(tensors.map((g) => tf.sum(tf.square(g)))));
  // An asynchronous read: GPU backends (webgpu in Deno) cannot read synchronously.
  const value = (await total.data())[0];
  total.dispose();
  return value;
}
