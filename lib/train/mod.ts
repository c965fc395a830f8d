/**
 * Training: one run from scratch (no teacher) or by distillation, from a named preset recipe,
 * into a run folder (`config.json`, `metrics.jsonl`, `best/`, `final.json`), resumable; and the
 * choice of compute backend.
 *
 * @example A two-epoch distillation on the test fixture with the tiny ViT as teacher
 * ```ts
 * import { presetRecipe, train } from "@kd/vision/train";
 *
 * const out = await Deno.makeTempDir();
 * const summary = await train({
 *   ...presetRecipe("smoke"),
 *   student: "mobilenet_v2@0.35",
 *   teacher: "hf-dir:tests/fixtures/vit_tiny",
 *   data: "tests/fixtures/beans",
 *   trainSplit: "train",
 *   valSplit: "validation",
 *   seed: 0,
 * }, { out, quiet: true });
 * console.log(summary.best_epoch, summary.validation.accuracy);
 * ```
 * @module
 */
export {
  type EpochRecord,
  type FinalSummary,
  type StepLosses,
  train,
  type TrainConfig,
  type TrainOptions,
} from "../train.ts";
export { presetRecipe, PRESETS, type Recipe } from "../presets.ts";
export { type BackendChoice, initBackend } from "../backend.ts";
export { type OptimizerName, type OptimizerOptions, OPTIMIZERS } from "../optim.ts";
export { type ScheduleName, SCHEDULES } from "../schedule.ts";
