/**
 * Student vs teacher on the validation images a run was validated on: both models' predictions
 * per image, and the images where they disagree (for the distillation notebook).
 * @module
 */
import { join } from "node:path";
import type { ImageSplit } from "../data/dataset.ts";
import { loadModel } from "../models/registry.ts";
import { argmaxRows } from "../metrics.ts";
import { predictLogits } from "../predict.ts";
import type { TrainConfig } from "../train.ts";
import { loadRunData } from "../train/data.ts";
import { makeTargets } from "../train/targets.ts";

/**
 * Predictions of a run's best student and its teacher on the run's validation images.
 *
 * @example Who is right where they disagree
 * ```ts
 * import { compareWithTeacher, type StudentTeacherComparison } from "@kd/vision/notebook";
 * import { presetRecipe, train, type TrainConfig } from "@kd/vision/train";
 *
 * const config: TrainConfig = {
 *   ...presetRecipe("smoke"),
 *   epochs: 1,
 *   student: "mobilenet_v2@0.35",
 *   teacher: "hf-dir:tests/fixtures/vit_tiny",
 *   data: "tests/fixtures/beans",
 *   trainSplit: "train",
 *   valSplit: "validation",
 *   seed: 0,
 * };
 * const out = await Deno.makeTempDir();
 * await train(config, { out, quiet: true });
 * const c: StudentTeacherComparison = await compareWithTeacher(out, config);
 * for (const i of c.disagree) {
 *   const name = (k: number) => c.classNames[k];
 *   console.log(c.val.ids[i], name(c.labels[i]), name(c.student[i]), name(c.teacher[i]));
 * }
 * ```
 */
export interface StudentTeacherComparison {
  /** Class names in label order. */
  classNames: string[];
  /** Validation images at the student's input size (the subset the run used). */
  val: ImageSplit;
  /** True class of each image of `val`. */
  labels: Int32Array;
  /** The best student's predicted class of each image. */
  student: Int32Array;
  /** The teacher's predicted class of each image (from the run's cached logits). */
  teacher: Int32Array;
  /** Row indices (into `val`) where student and teacher predict different classes. */
  disagree: number[];
}

/**
 * Compare the best student of run `runDir` (trained with `config`) with its teacher.
 *
 * @example Where a distilled student and its teacher disagree
 * ```ts
 * import { compareWithTeacher } from "@kd/vision/notebook";
 * import { presetRecipe, train, type TrainConfig } from "@kd/vision/train";
 *
 * const config: TrainConfig = {
 *   ...presetRecipe("smoke"),
 *   epochs: 1,
 *   student: "mobilenet_v2@0.35",
 *   teacher: "hf-dir:tests/fixtures/vit_tiny",
 *   data: "tests/fixtures/beans",
 *   trainSplit: "train",
 *   valSplit: "validation",
 *   seed: 0,
 * };
 * const out = await Deno.makeTempDir();
 * await train(config, { out, quiet: true });
 * const cmp = await compareWithTeacher(out, config);
 * console.log(`${cmp.disagree.length} of ${cmp.labels.length} images`);
 * ```
 */
export async function compareWithTeacher(
  runDir: string,
  config: TrainConfig,
): Promise<StudentTeacherComparison> {
  if (!config.teacher) throw new Error("compareWithTeacher: the run has no teacher");
  // The trainer's own stages: the same validation subset, the same cached and aligned logits.
  const data = await loadRunData(config, { quiet: true });
  const val = data.val;
  const k = val.classNames.length;
  const student = await loadModel(join(runDir, "best"));
  let studentLogits: Float32Array;
  try {
    studentLogits = await predictLogits(student, val, { quiet: true });
  } finally {
    student.dispose();
  }
  const targets = await makeTargets(config, data, { online: false, quiet: true });
  targets.dispose();
  const s = argmaxRows(studentLogits, k), t = argmaxRows(targets.val, k);
  const disagree = [...s.keys()].filter((i) => s[i] !== t[i]);
  return { classNames: val.classNames, val, labels: val.labels, student: s, teacher: t, disagree };
}
