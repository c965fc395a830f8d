/**
 * Decoupled Knowledge Distillation (Zhao et al., CVPR 2022), as mdistiller's `dkd_loss`: the KL
 * term split into a target-class part (TCKD, the binary distribution [p_target, 1 − p_target])
 * and a non-target part (NCKD, the distribution over the other classes), weighted separately by
 * α and β, each scaled by T² and summed over the batch / n.
 *
 * Everything is computed from log-softmaxes so logits of ±1e3 stay finite: mdistiller takes
 * `log` of probabilities that underflow to 0 there.
 * @module
 */
import * as tf from "../tf.ts";

/**
 * Settings of {@linkcode dkdLoss}.
 *
 * @example mdistiller's defaults for CIFAR-100 (α = 1, β = 8, τ = 4)
 * ```ts
 * import type { DkdOptions } from "@kd/vision/loss";
 *
 * const opts: DkdOptions = { temperature: 4, alpha: 1, beta: 8 };
 * console.log(opts.beta / opts.alpha); // the non-target classes weigh 8× the target class
 * ```
 */
export interface DkdOptions {
  temperature: number;
  /** Weight α of the target-class term. */
  alpha: number;
  /** Weight β of the non-target-class term. */
  beta: number;
}

// mdistiller masks the target class by subtracting 1000 before the softmax; the reference
// (tests/fixtures/kd_methods_reference.json) states that exact formula, so we keep it.
const NCKD_MASK = 1000;
// A finite stand-in for −∞ when summing the non-target probabilities: −∞ would turn the
// gradient of the masked entries into NaN (0·∞) instead of 0.
const EXCLUDE = -1e30;

/** log [p_target, 1 − p_target] per row, from logits already divided by T. */
function logBinary(z: tf.Tensor2D, gt: tf.Tensor2D): tf.Tensor2D {
  const lse = tf.logSumExp(z, 1, true);
  const logTarget = tf.sub(tf.sum(tf.mul(z, gt), 1, true), lse);
  const logOther = tf.sub(tf.logSumExp(tf.add(z, tf.mul(gt, EXCLUDE)), 1, true), lse);
  return tf.concat([logTarget, logOther], 1) as tf.Tensor2D;
}

/** Σ p·(log p − log q) over all entries, with p = exp(log p) (0 where p underflows). */
function klSum(logP: tf.Tensor, logQ: tf.Tensor): tf.Scalar {
  return tf.sum(tf.mul(tf.exp(logP), tf.sub(logP, logQ)));
}

/**
 * The DKD term `α·TCKD + β·NCKD` alone (no cross-entropy); teacher logits are constants.
 *
 * @example Decoupled KD (Zhao et al., CVPR 2022) on one image
 * ```ts
 * import { dkdLoss } from "@kd/vision/loss";
 * import * as tf from "@tensorflow/tfjs";
 * import { assert } from "@std/assert";
 *
 * const s = tf.tensor2d([[2, 0, -1]]), t = tf.tensor2d([[3, 1, 0]]);
 * const loss = dkdLoss(s, t, Int32Array.from([0]), { temperature: 4, alpha: 1, beta: 8 });
 * assert(loss.dataSync()[0] >= 0);
 * ```
 */
export function dkdLoss(
  studentLogits: tf.Tensor2D,
  teacherLogits: tf.Tensor2D,
  labels: tf.Tensor1D | Int32Array,
  opts: DkdOptions,
): tf.Scalar {
  return tf.tidy(() => {
    const T = opts.temperature;
    const y = labels instanceof Int32Array ? tf.tensor1d(labels, "int32") : labels;
    const gt = tf.oneHot(y, studentLogits.shape[1]).toFloat() as tf.Tensor2D;
    const zs = tf.div(studentLogits, T) as tf.Tensor2D;
    const zt = tf.div(teacherLogits, T) as tf.Tensor2D;
    const tckd = klSum(logBinary(zt, gt), logBinary(zs, gt));
    const mask = tf.mul(gt, NCKD_MASK);
    const nckd = klSum(tf.logSoftmax(tf.sub(zt, mask)), tf.logSoftmax(tf.sub(zs, mask)));
    const scale = (T * T) / studentLogits.shape[0];
    return tf.mul(tf.add(tf.mul(tckd, opts.alpha), tf.mul(nckd, opts.beta)), scale) as tf.Scalar;
  });
}

/** DKD's linear warm-up of its term: `min(epoch / warmup, 1)` (epochs 1-based; 0: off). */
export function dkdWarmupWeight(epoch: number, warmup: number): number {
  return warmup > 0 ? Math.min(epoch / warmup, 1) : 1;
}
