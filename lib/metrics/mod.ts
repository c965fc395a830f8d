/**
 * Metrics and statistics: accuracy, macro-F1, calibration and teacher agreement from logits; a
 * model evaluated on a split; confidence intervals, paired differences, McNemar's exact test and
 * the seeds a comparison needs.
 *
 * @example Accuracy and macro-F1 of three predictions
 * ```ts
 * import { accuracy, confusionMatrix, macroF1 } from "@kd/vision/metrics";
 *
 * const labels = [0, 1, 2], predictions = [0, 1, 1];
 * console.log(accuracy(labels, predictions)); // 0.666…
 * console.log(macroF1(confusionMatrix(labels, predictions, 3)));
 * ```
 * @module
 */
export {
  accuracy,
  argmaxRows,
  confusionMatrix,
  type EvalMetrics,
  evaluateLogits,
  expectedCalibrationError,
  macroF1,
} from "../metrics.ts";
export { evaluateModel, type Evaluation } from "../evaluate.ts";
export {
  describe,
  type McNemar,
  mcnemarExact,
  pairedDifference,
  seedsForPower,
  type Stat,
} from "../stats.ts";
