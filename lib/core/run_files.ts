/**
 * The files a training run leaves in its folder, as types: one line of `metrics.jsonl`
 * ({@linkcode EpochRecord}) and `final.json` ({@linkcode FinalSummary}). The trainer writes them;
 * sweeps, reports and notebooks read them. Keys are snake_case, like every JSON file the toolkit
 * writes.
 * @module
 */
import { UserError } from "./errors.ts";
import { isJsonObject } from "./fs.ts";

/**
 * One line of `metrics.jsonl`: the training losses of an epoch and the validation of the model
 * at its end (the weight average when `ema` is on). Rates are fractions in [0, 1].
 *
 * @example A run's learning curve, epoch by epoch
 * ```ts
 * import { type EpochRecord, presetRecipe, train } from "@kd/vision/train";
 *
 * const curve: EpochRecord[] = [];
 * await train({
 *   ...presetRecipe("smoke"),
 *   student: "mobilenet_v2@0.35",
 *   teacher: "hf-dir:tests/fixtures/vit_tiny",
 *   data: "tests/fixtures/beans",
 *   trainSplit: "train",
 *   valSplit: "validation",
 *   seed: 0,
 * }, { out: await Deno.makeTempDir(), quiet: true, onEpoch: (r) => curve.push(r) });
 * for (const r of curve) console.log(r.epoch, r.train_loss, r.val_loss, r.accuracy, r.agreement);
 * ```
 */
export interface EpochRecord {
  /** Epoch number, from 1. */
  epoch: number;
  /** Optimizer steps taken so far, this epoch's included. */
  step: number;
  /** Learning rate of the epoch's last step. */
  lr: number;
  /** Mean training loss `(1-λ)·CE + λ·KD` over the epoch's images (dropout and augmentation on). */
  train_loss: number;
  /** Mean training cross-entropy over the epoch's images. */
  train_ce: number;
  /** Mean training distillation term (before λ) over the epoch's images; 0 without a teacher. */
  train_kd: number;
  /** The training objective on the validation split (teacher term included when distilling). */
  val_loss: number;
  /** Validation accuracy. */
  accuracy: number;
  /** Validation macro-F1. */
  macro_f1: number;
  /** Validation expected calibration error (15 equal-width confidence bins). */
  ece: number;
  /** Fraction of validation images where student and teacher predict the same class; null without a teacher. */
  agreement: number | null;
  /** Mean KL(teacher ‖ student) of the softmaxes on validation, in nats; null without a teacher. */
  kl_to_teacher: number | null;
  /** Wall-clock seconds of the epoch's training (validation excluded). */
  epoch_time_s: number;
  /** Training images per second over the epoch. */
  img_per_s: number;
}

/**
 * The content of `final.json`: what `train` returns once a run is complete.
 *
 * @example Which epoch was kept, and how good it is
 * ```ts
 * import { type FinalSummary, presetRecipe, train } from "@kd/vision/train";
 *
 * const summary: FinalSummary = await train({
 *   ...presetRecipe("smoke"),
 *   student: "mobilenet_v2@0.35",
 *   teacher: null,
 *   data: "tests/fixtures/beans",
 *   trainSplit: "train",
 *   valSplit: "validation",
 *   seed: 0,
 * }, { out: await Deno.makeTempDir(), quiet: true });
 * console.log(
 *   `epoch ${summary.best_epoch}/${summary.epochs_run} by ${summary.select_by}:`,
 *   summary.validation.accuracy,
 *   summary.class_names,
 * );
 * ```
 */
export interface FinalSummary {
  /** The epoch whose model was kept as `best/` (by `select_by`). */
  best_epoch: number;
  /** The validation metric the best epoch was chosen by: `accuracy`, `macro_f1` or `val_loss`. */
  select_by: string;
  /** Epochs trained (fewer than the recipe's when stopped early). */
  epochs_run: number;
  /** Whether early stopping ended the run. */
  stopped_early: boolean;
  /** Validation metrics of the best model (recomputed after reloading it). */
  validation: {
    n: number;
    accuracy: number;
    macro_f1: number;
    ece: number;
    precision: number[];
    recall: number[];
    confusion: number[][];
    agreement: number | null;
    kl_to_teacher: number | null;
  };
  /** The teacher's accuracy on the same validation images; null without a teacher. */
  teacher_val_accuracy: number | null;
  /** Wall-clock seconds of training over all epochs, resumed ones included (validation excluded). */
  train_time_s: number;
  /** Training images per second over the whole run. */
  img_per_s: number;
  /** Class names in label order. */
  class_names: string[];
}

/** `<split>_eval.json` beside a run, written by `deno task eval --model RUN_DIR --split NAME`. */
export interface EvalRecord {
  split: string;
  accuracy: number;
  macro_f1: number;
  n: number;
  confusion?: number[][];
  evaluated_at?: string;
}

/** A UserError naming `path` and the key whose value breaks `rule`. */
function badRecord(path: string, key: string, rule: string, value: unknown): UserError {
  return new UserError(
    `${path}: "${key}" must be ${rule}, got ${JSON.stringify(value) ?? String(value)}`,
  );
}

/** `value` when it is a finite number within [lo, hi]. */
function checkNumber(path: string, key: string, value: unknown, lo: number, hi: number): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < lo || value > hi) {
    throw badRecord(path, key, `a number in [${lo}, ${hi}]`, value);
  }
  return value;
}

/**
 * `value` (parsed from `path`) when it is a `final.json` whose scores a report can use: an object
 * with the validation counts and rates in range. A hand-edited or foreign file would otherwise
 * become a 700% accuracy, or a 0% one from a `null`, in a table that exits 0.
 */
export function checkFinalSummary(value: unknown, path: string): FinalSummary {
  if (!isJsonObject(value)) {
    throw new UserError(`${path}: not a training run's final.json (not a JSON object)`);
  }
  const v = value.validation;
  if (!isJsonObject(v)) {
    throw badRecord(path, "validation", "an object", v);
  }
  checkNumber(path, "validation.accuracy", v.accuracy, 0, 1);
  checkNumber(path, "validation.macro_f1", v.macro_f1, 0, 1);
  const n = checkNumber(path, "validation.n", v.n, 1, Number.MAX_SAFE_INTEGER);
  if (!Number.isInteger(n)) throw badRecord(path, "validation.n", "an integer >= 1", n);
  const best = checkNumber(path, "best_epoch", value.best_epoch, 0, Number.MAX_SAFE_INTEGER);
  if (!Number.isInteger(best)) throw badRecord(path, "best_epoch", "an integer >= 0", best);
  if (value.teacher_val_accuracy !== null && value.teacher_val_accuracy !== undefined) {
    checkNumber(path, "teacher_val_accuracy", value.teacher_val_accuracy, 0, 1);
  }
  return value as unknown as FinalSummary;
}
