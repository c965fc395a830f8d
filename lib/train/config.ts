/**
 * What defines a training run ({@linkcode TrainConfig}: a recipe plus models, data and seed), the
 * checks that refuse any setting that cannot work before any work starts, and how the config is
 * saved in the run's `config.json` (snake_case keys).
 * @module
 */
import { UserError } from "../core/errors.ts";
import { checkSplitName } from "../core/paths.ts";
import { camelKeys, snakeKeys } from "../core/settings.ts";
import { validateDistillationOptions } from "../loss.ts";
import { parseAugment } from "../data/augment.ts";
import { MAX_IMAGE_SIZE } from "../data/preprocess.ts";
import { parseSpec } from "../models/registry.ts";
import type { Recipe } from "../presets.ts";

/**
 * Everything that defines a training run (saved as `config.json`).
 *
 * @example A scratch baseline and its distilled arm: the same recipe and seed
 * ```ts
 * import { presetRecipe, type TrainConfig } from "@kd/vision/train";
 *
 * const scratch: TrainConfig = {
 *   ...presetRecipe("smoke"),
 *   student: "mobilenet_v2@0.35",
 *   teacher: null,
 *   data: "tests/fixtures/beans",
 *   trainSplit: "train",
 *   valSplit: "validation",
 *   seed: 0,
 * };
 * const distilled: TrainConfig = { ...scratch, teacher: "hf-dir:tests/fixtures/vit_tiny" };
 * console.log(scratch.teacher, distilled.teacher, distilled.temperature, distilled.lambda);
 * ```
 */
export interface TrainConfig extends Recipe {
  /** Student registry spec, e.g. `mobilenet_v2` or `mobilenet_v2@0.5`. */
  student: string;
  /** Teacher registry spec; null trains from scratch (λ is then irrelevant). */
  teacher: string | null;
  /** Dataset folder (undefined: the default beans location). */
  data?: string;
  /** Split trained on, e.g. "train". */
  trainSplit: string;
  /** Split validated on every epoch and used to pick the best epoch, e.g. "validation". */
  valSplit: string;
  /** Seed of the initialisation, shuffling, dropout and augmentation: a run is reproducible from it. */
  seed: number;
  /** Map teacher class names to dataset class names when they differ (`teacher=dataset`). */
  labelMap?: Record<string, string>;
  /** Named preset this config started from, for the record. */
  preset?: string;
  /** Leave out rows whose image does not decode (with a warning) instead of stopping. */
  skipBadImages?: boolean;
  /** Class names in label order for data without class metadata (`--labels a,b,c`). */
  labels?: string[];
  /** Replace a pretrained student's head whose label count differs from the data's. */
  reinitHead?: boolean;
}

/** Keys whose values are data (class names), kept verbatim by the JSON key codec. */
const OPAQUE = ["labelMap"];

/** The config as saved in JSON files (snake_case keys). */
export function trainConfigToJson(config: TrainConfig): Record<string, unknown> {
  return snakeKeys(config, OPAQUE);
}

/** A config read back from JSON (inverse of {@linkcode trainConfigToJson}). */
export function trainConfigFromJson(json: unknown): TrainConfig {
  return camelKeys<TrainConfig>(json, OPAQUE);
}

type Check = [value: number, ok: (v: number) => boolean, flag: string, what: string];

const int = (v: number) => Number.isInteger(v);

/** Throw a UserError for any setting that cannot work, naming the flag (before any work starts). */
export function validateConfig(c: TrainConfig): void {
  if (c.teacher) validateDistillationOptions(c);
  const dropout = c.studentOptions.classifierDropoutProb ?? 0;
  const bn = c.studentOptions.bnMomentum;
  const checks: Check[] = [
    [c.epochs, (v) => int(v) && v > 0, "--epochs", "a positive integer"],
    [c.batchSize, (v) => int(v) && v > 0, "--batch-size", "a positive integer"],
    // MobileNetV2 halves the resolution five times: smaller inputs leave no pixels to pool.
    [
      c.imageSize,
      (v) => int(v) && v >= 32 && v <= MAX_IMAGE_SIZE,
      "--image-size",
      `an integer in [32, ${MAX_IMAGE_SIZE}]`,
    ],
    [c.lr, (v) => Number.isFinite(v) && v > 0, "--lr", "a number > 0"],
    [dropout, (v) => v >= 0 && v < 1, "--dropout", "a probability in [0, 1)"],
    [c.warmupRatio, (v) => v >= 0 && v <= 1, "--warmup-ratio", "a fraction in [0, 1]"],
    [c.clipNorm, (v) => Number.isFinite(v) && v >= 0, "--clip-norm", "a number >= 0 (0: off)"],
    [c.ema ?? 0, (v) => v >= 0 && v < 1, "--ema", "a decay in [0, 1) (0: off)"],
    [c.optimizer.weightDecay ?? 0, (v) => v >= 0 && v < 1, "--weight-decay", "in [0, 1)"],
    [c.optimizer.momentum ?? 0, (v) => v >= 0 && v < 1, "--momentum", "in [0, 1)"],
    [c.earlyStopping, (v) => int(v) && v >= 0, "--early-stopping", "an integer >= 0 (0: off)"],
    [c.maxImages, (v) => int(v) && v >= 0, "--max-images", "an integer >= 0 (0: all)"],
    [c.seed, (v) => int(v) && v >= 0, "--seed", "an integer >= 0"],
  ];
  if (bn !== "hf") checks.push([bn ?? 0.1, (v) => v > 0 && v <= 1, "--bn-momentum", "in (0, 1]"]);
  for (const [value, ok, flag, what] of checks) {
    if (typeof value !== "number" || !ok(value)) {
      throw new UserError(`${flag} must be ${what}, got ${value}`);
    }
  }
  if (!["accuracy", "macro_f1", "val_loss"].includes(c.selectBy)) {
    throw new UserError(`--select-by must be accuracy, macro_f1 or val_loss, got "${c.selectBy}"`);
  }
  checkSplitName(c.trainSplit);
  checkSplitName(c.valSplit);
  if (c.trainSplit === c.valSplit) {
    throw new UserError(`training and validation splits are both "${c.trainSplit}"`);
  }
  if (c.valSplit === "test" || c.trainSplit === "test") {
    throw new UserError(
      "the test split is for final evaluation only (deno task eval --split test)",
    );
  }
  const augment = parseAugment(c.augment);
  const k = c.teacherViews ?? 0;
  if (!(Number.isInteger(k) && k >= 0)) {
    throw new UserError(`--teacher-views must be an integer >= 0 (0: off), got ${k}`);
  }
  if (k > 0 && augment.mixup) {
    throw new UserError(
      "--augment mixup needs the online teacher (a mixed image depends on its batch); drop --teacher-views",
    );
  }
  if (k > 0 && !augment.crop && !augment.flip) {
    throw new UserError("--teacher-views needs --augment crop and/or flip to make the views from");
  }
  if (c.teacher && c.method === "dkd" && augment.mixup) {
    throw new UserError(
      "--method dkd needs one true class per image; it cannot be combined with --augment mixup",
    );
  }
  parseSpec(c.student);
  if (c.teacher) parseSpec(c.teacher);
}
