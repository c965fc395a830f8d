/**
 * DIST (Huang et al., NeurIPS 2022), as the authors' `DIST` loss: instead of matching the
 * teacher's probabilities exactly, match their relations with Pearson correlation, between
 * classes for each image (inter-class, β) and between images for each class (intra-class, γ):
 * `τ²·(β·(1 − mean_i ρ(y_s[i,:], y_t[i,:])) + γ·(1 − mean_j ρ(y_s[:,j], y_t[:,j])))` with
 * `y = softmax(z/τ)` and ρ a cosine similarity of centred vectors with 1e-8 added to the product
 * of norms.
 * @module
 */
import * as tf from "../tf.ts";

/**
 * Settings of {@linkcode distLoss}.
 *
 * @example The authors' defaults (β = γ = τ = 1)
 * ```ts
 * import type { DistOptions } from "@kd/vision/loss";
 *
 * const opts: DistOptions = { temperature: 1, beta: 1, gamma: 1 };
 * console.log(opts);
 * ```
 */
export interface DistOptions {
  /** Softmax temperature τ. */
  temperature: number;
  /** Weight β of the inter-class relation (within each image). */
  beta: number;
  /** Weight γ of the intra-class relation (within each class, across the batch). */
  gamma: number;
}

const EPS = 1e-8;

/**
 * Euclidean norm along `axis` whose gradient is 0 (as in PyTorch) rather than NaN at a zero
 * vector: a single-image batch has constant columns, so centring leaves zeros. The 1e-24 under
 * the root is far below float32 resolution of any non-zero norm here.
 */
function safeNorm(x: tf.Tensor, axis: number): tf.Tensor {
  return tf.sqrt(tf.add(tf.sum(tf.square(x), axis), 1e-24));
}

/** Mean over rows (axis 1) or columns (axis 0) of the Pearson correlation of `a` and `b`. */
function meanPearson(a: tf.Tensor2D, b: tf.Tensor2D, axis: 0 | 1): tf.Scalar {
  const ac = tf.sub(a, tf.mean(a, axis, true));
  const bc = tf.sub(b, tf.mean(b, axis, true));
  const dot = tf.sum(tf.mul(ac, bc), axis);
  const norms = tf.add(tf.mul(safeNorm(ac, axis), safeNorm(bc, axis)), EPS);
  return tf.mean(tf.div(dot, norms));
}

/**
 * The DIST term alone (no cross-entropy); teacher logits are constants.
 *
 * @example DIST (Huang et al., NeurIPS 2022): zero when the student ranks like the teacher
 * ```ts
 * import { distLoss } from "@kd/vision/loss";
 * import * as tf from "@tensorflow/tfjs";
 * import { assertAlmostEquals } from "@std/assert";
 *
 * const t = tf.tensor2d([[3, 1, 0], [0, 2, 1]]);
 * const loss = distLoss(t, t, { temperature: 1, beta: 1, gamma: 1 });
 * assertAlmostEquals(loss.dataSync()[0], 0, 1e-4);
 * ```
 */
export function distLoss(
  studentLogits: tf.Tensor2D,
  teacherLogits: tf.Tensor2D,
  opts: DistOptions,
): tf.Scalar {
  return tf.tidy(() => {
    const tau = opts.temperature;
    // softmax via exp(log-softmax): finite for logits of ±1e3.
    const ys = tf.exp(tf.logSoftmax(tf.div(studentLogits, tau))) as tf.Tensor2D;
    const yt = tf.exp(tf.logSoftmax(tf.div(teacherLogits, tau))) as tf.Tensor2D;
    const inter = tf.sub(1, meanPearson(ys, yt, 1));
    const intra = tf.sub(1, meanPearson(ys, yt, 0));
    const both = tf.add(tf.mul(inter, opts.beta), tf.mul(intra, opts.gamma));
    return tf.mul(both, tau * tau) as tf.Scalar;
  });
}
