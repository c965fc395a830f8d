/**
 * Fused training ops that use oneDNN when the `native` backend is active and the equivalent
 * composed tfjs ops elsewhere, so model code can call them unconditionally.
 * @module
 */
import * as tf from "../../tf.ts";
import { BN_TRAIN } from "./fused.ts";

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
