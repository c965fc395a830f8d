/**
 * Validation of a student: its logits on the validation subset, accuracy, macro-F1, calibration,
 * the validation loss (the training objective, teacher term included), and how closely it
 * follows its teacher (top-1 agreement, KL).
 * @module
 */
import * as tf from "../tf.ts";
import type { ImageSplit } from "../data/dataset.ts";
import type { Classifier } from "../models/model.ts";
import { distillationLoss, type DistillationOptions } from "../loss.ts";
import { type EvalMetrics, evaluateLogits, meanKlToTeacher, topOneAgreement } from "../metrics.ts";
import { predictLogits } from "../predict.ts";

/** What {@linkcode evaluateStudent} measures. */
export interface Validation {
  metrics: EvalMetrics;
  loss: number;
  agreement: number | null;
  klToTeacher: number | null;
}

/** Evaluate `student` on `val` (teacher logits `teacherVal`, aligned, or null for scratch). */
export async function evaluateStudent(
  student: Classifier,
  val: ImageSplit,
  teacherVal: Float32Array | null,
  loss: DistillationOptions,
): Promise<Validation> {
  const k = val.classNames.length;
  const logits = await predictLogits(student, val, { quiet: true });
  const metrics = evaluateLogits(logits, val.labels, k);
  const total = tf.tidy(() =>
    distillationLoss(
      tf.tensor2d(logits, [val.n, k]),
      teacherVal ? tf.tensor2d(teacherVal, [val.n, k]) : null,
      val.labels,
      loss,
    ).total
  );
  const valLoss = (await total.data())[0];
  total.dispose();
  return {
    metrics,
    loss: valLoss,
    agreement: teacherVal ? topOneAgreement(logits, teacherVal, k) : null,
    klToTeacher: teacherVal ? meanKlToTeacher(logits, teacherVal, k) : null,
  };
}
