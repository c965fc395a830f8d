/**
 * Student vs teacher on the validation images a run was validated on: both models' predictions
 * per image, and the images where they disagree (for the distillation notebook).
 * @module
 */
import { join } from "node:path";
import { type ImageSplit, loadSplit } from "../data/dataset.ts";
import { createModel, loadModel } from "../models/registry.ts";
import { argmaxRows } from "../metrics.ts";
import { predictLogits } from "../predict.ts";
import { teacherLogits } from "../teacher_cache.ts";
import { evenlySpaced, subsetSplit } from "../data/subset.ts";
import type { TrainConfig } from "../train.ts";

/** Predictions of a run's best student and its teacher on the run's validation images. */
export interface StudentTeacherComparison {
  classNames: string[];
  /** Validation images at the student's input size (the subset the run used). */
  val: ImageSplit;
  labels: Int32Array;
  student: Int32Array;
  teacher: Int32Array;
  /** Row indices (into `val`) where student and teacher predict different classes. */
  disagree: number[];
}

/** Reorder teacher logit columns to the dataset's class order when the names say how. */
function alignColumns(
  logits: Float32Array,
  teacherLabels: string[] | undefined,
  classNames: string[],
) {
  const k = classNames.length;
  const cols = classNames.map((c) => teacherLabels?.indexOf(c) ?? -1);
  if (!teacherLabels || cols.some((c) => c < 0) || cols.every((c, i) => c === i)) return logits;
  const kt = teacherLabels.length, n = logits.length / kt;
  const out = new Float32Array(n * k);
  for (let i = 0; i < n; i++) cols.forEach((c, j) => out[i * k + j] = logits[i * kt + c]);
  return out;
}

/** Compare the best student of run `runDir` (trained with `config`) with its teacher. */
export async function compareWithTeacher(
  runDir: string,
  config: TrainConfig,
): Promise<StudentTeacherComparison> {
  if (!config.teacher) throw new Error("compareWithTeacher: the run has no teacher");
  const full = await loadSplit({
    data: config.data,
    split: config.valSplit,
    preprocess: { size: config.imageSize },
    quiet: true,
  });
  const val = subsetSplit(full, evenlySpaced(full.n, config.valLimit));
  const k = val.classNames.length;
  const student = await loadModel(join(runDir, "best"));
  let studentLogits: Float32Array;
  try {
    studentLogits = await predictLogits(student, val, { quiet: true });
  } finally {
    student.dispose();
  }
  const teacher = await createModel(config.teacher, { numLabels: k, labels: val.classNames });
  let tLogits: Float32Array;
  try {
    const tVal = await loadSplit({
      data: config.data,
      split: config.valSplit,
      preprocess: teacher.input,
      quiet: true,
    });
    // Same cache as training: usually no teacher forward pass is needed here.
    tLogits = alignColumns(
      await teacherLogits(teacher, config.teacher, tVal, { ids: val.ids, quiet: true }),
      teacher.config.labels,
      val.classNames,
    );
  } finally {
    teacher.dispose();
  }
  const s = argmaxRows(studentLogits, k), t = argmaxRows(tLogits, k);
  const disagree = [...s.keys()].filter((i) => s[i] !== t[i]);
  return { classNames: val.classNames, val, labels: val.labels, student: s, teacher: t, disagree };
}
