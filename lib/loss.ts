/**
 * The Hugging Face guide's distillation loss, computed in log-space so it stays finite for
 * logits in the thousands:
 * `total = (1-λ)·CE(student, labels) + λ·T²·KL(softmax(teacher/T) ‖ softmax(student/T))`,
 * with KL reduced like PyTorch's `KLDivLoss(reduction="batchmean")` (sum over classes and
 * batch, divided by the batch size).
 *
 * The KL term is one of three methods (`method`): `kd` (the above, Hinton et al.), `dkd`
 * (Decoupled KD, `loss/dkd.ts`) or `dist` (DIST, `loss/dist.ts`); each replaces the KL term and
 * is mixed with cross-entropy by the same λ. Labels may be soft (rows of class weights, as mixup
 * makes them): cross-entropy is then taken against that distribution.
 * @module
 */
import * as tf from "./tf.ts";
import { UserError } from "./core/errors.ts";
import { dkdLoss, dkdWarmupWeight } from "./loss/dkd.ts";
import { distLoss } from "./loss/dist.ts";

/** The distillation terms {@linkcode distillationLoss} can use. */
export const KD_METHODS = ["kd", "dkd", "dist"] as const;
/**
 * One of {@linkcode KD_METHODS}.
 *
 * @example Choosing the distillation term of a run
 * ```ts
 * import type { KdMethod } from "@kd/vision/loss";
 *
 * const method: KdMethod = "dkd"; // "kd" (Hinton, the default), "dkd" or "dist"
 * console.log(method);
 * ```
 */
export type KdMethod = typeof KD_METHODS[number];

/** Defaults of the method weights: mdistiller's DKD (α 1, β 8) and the DIST paper's (β 1, γ 1). */
export const METHOD_DEFAULTS = {
  dkdAlpha: 1,
  dkdBeta: 8,
  dkdWarmup: 0,
  distBeta: 1,
  distGamma: 1,
} as const;

/** Settings of {@linkcode distillationLoss}. */
export interface DistillationOptions {
  /** Softmax temperature T (> 0); τ of DIST. */
  temperature: number;
  /** Weight λ ∈ [0, 1] of the distillation term: 0 is plain supervised training, 1 pure distillation. */
  lambda: number;
  /** The distillation term (absent: `kd`). */
  method?: KdMethod;
  /** DKD: weight α of the target-class term. */
  dkdAlpha?: number;
  /** DKD: weight β of the non-target-class term. */
  dkdBeta?: number;
  /** DKD: epochs of linear warm-up of its term (0: none). */
  dkdWarmup?: number;
  /** DIST: weight β of the inter-class relation. */
  distBeta?: number;
  /** DIST: weight γ of the intra-class relation. */
  distGamma?: number;
}

/** Integer labels, or soft labels `[n × k]` (rows summing to 1). */
export type Labels = tf.Tensor1D | tf.Tensor2D | Int32Array;

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
  const method = opts.method ?? "kd";
  if (!KD_METHODS.includes(method)) {
    throw new UserError(`--method must be one of ${KD_METHODS.join(", ")}, got "${method}"`);
  }
  const weights: [number | undefined, string][] = [
    [opts.dkdAlpha, "--dkd-alpha"],
    [opts.dkdBeta, "--dkd-beta"],
    [opts.distBeta, "--dist-beta"],
    [opts.distGamma, "--dist-gamma"],
  ];
  for (const [v, flag] of weights) {
    if (v !== undefined && !(Number.isFinite(v) && v >= 0)) {
      throw new UserError(`${flag} must be a number >= 0, got ${v}`);
    }
  }
  const w = opts.dkdWarmup;
  if (w !== undefined && !(Number.isInteger(w) && w >= 0)) {
    throw new UserError(`--dkd-warmup must be an integer number of epochs >= 0, got ${w}`);
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
 * Mean cross-entropy of logits against integer labels, or against soft labels `[n × k]`.
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
export function crossEntropy(logits: tf.Tensor2D, labels: Labels): tf.Scalar {
  return tf.tidy(() => {
    const target = labels instanceof Int32Array
      ? tf.oneHot(tf.tensor1d(labels, "int32"), logits.shape[1])
      : labels.rank === 2
      ? labels
      : tf.oneHot(labels as tf.Tensor1D, logits.shape[1]);
    const nll = tf.neg(tf.sum(tf.mul(target, tf.logSoftmax(logits)), 1));
    return tf.mean(nll) as tf.Scalar;
  });
}

/**
 * The method's distillation term alone (`opts.method`, default `kd`), unweighted by λ. DKD
 * needs one true class per image, so it refuses soft labels.
 */
export function methodLoss(
  studentLogits: tf.Tensor2D,
  teacherLogits: tf.Tensor2D,
  labels: Labels,
  opts: DistillationOptions,
): tf.Scalar {
  const method = opts.method ?? "kd";
  if (method === "dkd") {
    if (!(labels instanceof Int32Array) && labels.rank !== 1) {
      throw new UserError("--method dkd needs one true class per image; it cannot use mixup");
    }
    return dkdLoss(studentLogits, teacherLogits, labels as tf.Tensor1D | Int32Array, {
      temperature: opts.temperature,
      alpha: opts.dkdAlpha ?? METHOD_DEFAULTS.dkdAlpha,
      beta: opts.dkdBeta ?? METHOD_DEFAULTS.dkdBeta,
    });
  }
  if (method === "dist") {
    return distLoss(studentLogits, teacherLogits, {
      temperature: opts.temperature,
      beta: opts.distBeta ?? METHOD_DEFAULTS.distBeta,
      gamma: opts.distGamma ?? METHOD_DEFAULTS.distGamma,
    });
  }
  return kdLoss(studentLogits, teacherLogits, opts.temperature);
}

/**
 * `(1-λ)·CE + λ·w·KD` with its parts, KD being the method's term and `kdWeight` (w) its warm-up
 * weight in this epoch (`kdWarmupWeight`); with no teacher it is plain cross-entropy (KD
 * reported as 0). The reported `kd` is the term before warm-up.
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
  labels: Labels,
  opts: DistillationOptions,
  kdWeight = 1,
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
    const kd = methodLoss(studentLogits, teacherLogits, labels, opts);
    const total = tf.add(
      tf.mul(ce, 1 - opts.lambda),
      tf.mul(kd, opts.lambda * kdWeight),
    ) as tf.Scalar;
    return { total, ce, kd };
  });
}

/** The warm-up weight of the distillation term in (1-based) `epoch`: DKD's `min(epoch/warmup, 1)`. */
export function kdWarmupWeight(opts: DistillationOptions, epoch: number): number {
  return opts.method === "dkd" ? dkdWarmupWeight(epoch, opts.dkdWarmup ?? 0) : 1;
}
