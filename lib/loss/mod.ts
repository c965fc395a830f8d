/**
 * Losses: the guide's distillation loss `(1-λ)·CE + λ·T²·KL(softmax(t/T) ‖ softmax(s/T))`, its
 * two parts, and the logit methods that replace the KL term (`--method dkd|dist`), computed in
 * log space on TensorFlow.js tensors.
 *
 * @example The loss of a batch of two
 * ```ts
 * import { distillationLoss } from "@kd/vision/loss";
 * import * as tf from "@tensorflow/tfjs";
 *
 * const student = tf.tensor2d([[2, 0, 0], [0, 1, 0]]);
 * const teacher = tf.tensor2d([[3, 1, 0], [0, 2, 1]]);
 * const parts = distillationLoss(student, teacher, Int32Array.from([0, 1]), {
 *   temperature: 5,
 *   lambda: 0.5,
 * });
 * console.log((await parts.total.data())[0]);
 * ```
 * @module
 */
export {
  crossEntropy,
  distillationLoss,
  type DistillationOptions,
  KD_METHODS,
  kdLoss,
  type KdMethod,
  type Labels,
  type LossParts,
  METHOD_DEFAULTS,
} from "../loss.ts";
export { dkdLoss, type DkdOptions } from "./dkd.ts";
export { distLoss, type DistOptions } from "./dist.ts";
