/**
 * The Hugging Face guide's distillation loss, computed in log-space so it stays finite for
 * logits in the thousands:
 * `total = (1-λ)·CE(student, labels) + λ·T²·KL(softmax(teacher/T) ‖ softmax(student/T))`,
 * with KL reduced like PyTorch's `KLDivLoss(reduction="batchmean")` (sum over classes and
 * batch, divided by the batch size).
 * @module
 */
import * as tf from "./tf.ts";
import { UserError } from "./core/errors.ts";

/** Settings of {@linkcode distillationLoss}. */
export interface DistillationOptions {
  /** Softmax temperature T (> 0). */
  temperature: number;
  /** Weight λ ∈ [0, 1] of the distillation term: 0 is plain supervised training, 1 pure distillation. */
  lambda: number;
}

/** The loss and its two parts, each a scalar tensor. */
export interface LossParts {
  total: tf.Scalar;
  ce: tf.Scalar;
  kd: tf.Scalar;
}

/** Throw a UserError unless T > 0 and λ ∈ [0, 1] (checked before any work starts). */
export function validateDistillationOptions(opts: DistillationOptions): void {
  if (!(Number.isFinite(opts.temperature) && opts.temperature > 0)) {
    throw new UserError(`--temperature must be a number > 0, got ${opts.temperature}`);
  }
  if (!(Number.isFinite(opts.lambda) && opts.lambda >= 0 && opts.lambda <= 1)) {
    throw new UserError(`--lambda must be a number in [0, 1], got ${opts.lambda}`);
  }
}

/**
 * `T² · KLDiv_batchmean(log_softmax(s/T), softmax(t/T))`; teacher logits are constants.
 *
 * @example T²·KL between softened distributions; zero when student and teacher agree
 * ```ts
 * import { kdLoss } from "@kd/vision/loss";
 * import * as tf from "@tensorflow/tfjs";
 * import { assertAlmostEquals } from "@std/assert";
 *
 * const logits = tf.tensor2d([[1, 2, 3]]);
 * assertAlmostEquals(kdLoss(logits, logits, 5).dataSync()[0], 0, 1e-6);
 * ```
 */
export function kdLoss(
  studentLogits: tf.Tensor2D,
  teacherLogits: tf.Tensor2D,
  temperature: number,
): tf.Scalar {
  return tf.tidy(() => {
    const logQ = tf.logSoftmax(tf.div(studentLogits, temperature));
    const logP = tf.logSoftmax(tf.div(teacherLogits, temperature));
    // p·(log p − log q) with p = exp(log p): where p underflows to 0 the term is 0·finite = 0,
    // matching PyTorch's xlogy convention without ever forming log(0).
    const pointwise = tf.mul(tf.exp(logP), tf.sub(logP, logQ));
    const batch = studentLogits.shape[0];
    return tf.mul(tf.div(tf.sum(pointwise), batch), temperature * temperature) as tf.Scalar;
  });
}

/**
 * Mean cross-entropy of logits against integer labels.
 *
 * @example Mean cross-entropy against integer labels
 * ```ts
 * import { crossEntropy } from "@kd/vision/loss";
 * import * as tf from "@tensorflow/tfjs";
 * import { assertAlmostEquals } from "@std/assert";
 *
 * const ce = crossEntropy(tf.tensor2d([[0, 0, 0]]), Int32Array.from([2]));
 * assertAlmostEquals(ce.dataSync()[0], Math.log(3), 1e-6);
 * ```
 */
export function crossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D | Int32Array): tf.Scalar {
  return tf.tidy(() => {
    const y = labels instanceof Int32Array ? tf.tensor1d(labels, "int32") : labels;
    const oneHot = tf.oneHot(y, logits.shape[1]);
    const nll = tf.neg(tf.sum(tf.mul(oneHot, tf.logSoftmax(logits)), 1));
    return tf.mean(nll) as tf.Scalar;
  });
}

/**
 * `(1-λ)·CE + λ·KD` with its parts; with no teacher it is plain cross-entropy (KD reported as 0).
 *
 * @example The guide's loss on a batch of two
 * ```ts
 * import { distillationLoss } from "@kd/vision/loss";
 * import * as tf from "@tensorflow/tfjs";
 * import { assertAlmostEquals } from "@std/assert";
 *
 * const student = tf.tensor2d([[2, 0, 0], [0, 1, 0]]);
 * const teacher = tf.tensor2d([[3, 1, 0], [0, 2, 1]]);
 * const labels = Int32Array.from([0, 1]);
 * const { total, ce, kd } = distillationLoss(student, teacher, labels, { temperature: 5, lambda: 0.5 });
 * const [t, c, k] = [total, ce, kd].map((x) => x.dataSync()[0]);
 * assertAlmostEquals(t, 0.5 * c + 0.5 * k, 1e-5);
 * ```
 */
export function distillationLoss(
  studentLogits: tf.Tensor2D,
  teacherLogits: tf.Tensor2D | null,
  labels: tf.Tensor1D | Int32Array,
  opts: DistillationOptions,
): LossParts {
  return tf.tidy(() => {
    const ce = crossEntropy(studentLogits, labels);
    if (teacherLogits === null) return { total: tf.clone(ce), ce, kd: tf.scalar(0) };
    if (teacherLogits.shape[1] !== studentLogits.shape[1]) {
      throw new UserError(
        `teacher has ${teacherLogits.shape[1]} classes but the student has ${
          studentLogits.shape[1]
        }`,
      );
    }
    const kd = kdLoss(studentLogits, teacherLogits, opts.temperature);
    const total = tf.add(tf.mul(ce, 1 - opts.lambda), tf.mul(kd, opts.lambda)) as tf.Scalar;
    return { total, ce, kd };
  });
}
