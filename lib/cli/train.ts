/**
 * `deno task train --out RUN_DIR [--student SPEC] [--teacher SPEC --temperature T --lambda L]`:
 * one training run (no teacher = the scratch baseline). Settings start from `--preset`
 * (default `cpu-fast`; `hf-guide` is the guide's recipe) and any flag overrides them.
 * @module
 */
import type { Args } from "@std/cli";
import { UserError } from "../core/errors.ts";
import { type CommandSpec, runCommand } from "./command.ts";
import { intFlag, mapFlag, numberFlag } from "./flags.ts";
import { presetRecipe, PRESETS, type Recipe } from "../presets.ts";
import { KD_METHODS, type KdMethod, METHOD_DEFAULTS } from "../loss.ts";
import { type FinalSummary, train, type TrainConfig, validateConfig } from "../train.ts";
import { parseOptimizer } from "../optim.ts";
import { parseSchedule } from "../schedule.ts";
import { parseLabelList } from "../data/source.ts";

const USAGE = `usage: deno task train --out RUN_DIR [--student SPEC] [--teacher SPEC]
  [--temperature T] [--lambda L] [--method kd|dkd|dist] [--dkd-alpha A] [--dkd-beta B]
  [--dkd-warmup EPOCHS] [--dist-beta B] [--dist-gamma G] [--data DIR] [--preset ${
  Object.keys(PRESETS).join("|")
}]
  [--epochs N] [--batch-size N] [--lr X] [--optimizer adamw|adam|sgd] [--weight-decay X]
  [--momentum X] [--schedule constant|linear|cosine] [--warmup-ratio X] [--clip-norm X]
  [--ema DECAY]
  [--image-size PX] [--dropout P] [--bn-momentum X|hf] [--seed N]
  [--select-by accuracy|macro_f1|val_loss] [--early-stopping EPOCHS]
  [--augment none|crop[=MIN-MAX],flip,mixup=ALPHA] [--teacher-views K]
  [--max-images N] [--label-map teacher=dataset,...] [--labels a,b,c] [--reinit-head]
  [--skip-bad-images] [--train-split NAME] [--val-split NAME]
  [--backend auto|native|tensorflow|webgpu|wasm|cpu] [--resume] [--force] [--quiet] [--json]

  --student/--teacher take model specs: mobilenet_v2, mobilenet_v2@WIDTH, hf:ORG/NAME[@REV],
  hf-dir:PATH, tfjs-dir:PATH, dir:PATH. Without --teacher the run is the scratch baseline.
  --method picks the distillation term mixed with cross-entropy by λ (λ = 1: no cross-entropy):
  kd (Hinton, the guide's), dkd (Decoupled KD: target-class term weighted by --dkd-alpha, default
  1, other classes by --dkd-beta, default 8, ramped in over --dkd-warmup epochs, default 0) or
  dist (DIST: Pearson relations between classes weighted by --dist-beta, default 1, and between
  images by --dist-gamma, default 1); --temperature is τ for all three.
  --augment views are shown alike to the student and, at its own resolution, to the teacher, which
  then runs on every batch; --teacher-views K instead fixes K seeded views per image whose teacher
  logits are computed once and cached, and each epoch draws one of them (not with mixup; 0, the
  default, is the online teacher).
  --json prints final.json (the run's summary) on stdout.`;

const STRING_FLAGS = [
  "student",
  "teacher",
  "temperature",
  "lambda",
  "method",
  "dkd-alpha",
  "dkd-beta",
  "dkd-warmup",
  "dist-beta",
  "dist-gamma",
  "data",
  "out",
  "preset",
  "epochs",
  "batch-size",
  "lr",
  "optimizer",
  "weight-decay",
  "momentum",
  "schedule",
  "warmup-ratio",
  "clip-norm",
  "ema",
  "image-size",
  "dropout",
  "bn-momentum",
  "seed",
  "select-by",
  "early-stopping",
  "augment",
  "teacher-views",
  "max-images",
  "label-map",
  "labels",
  "train-split",
  "val-split",
];

/** Method weight flags and the config field each sets; `--dkd-*` need dkd, `--dist-*` dist. */
const METHOD_FLAGS = {
  "dkd-alpha": "dkdAlpha",
  "dkd-beta": "dkdBeta",
  "dkd-warmup": "dkdWarmup",
  "dist-beta": "distBeta",
  "dist-gamma": "distGamma",
} as const;

/**
 * The method and its weights: only the chosen method's weights are recorded (flag, else the
 * recipe's, else the method's default), and a weight flag of another method is refused.
 */
function methodFromFlags(
  f: Args,
  r: Recipe,
): Pick<Recipe, "method" | typeof METHOD_FLAGS[keyof typeof METHOD_FLAGS]> {
  const method = (f.method as string | undefined) ?? r.method ?? "kd";
  if (!(KD_METHODS as readonly string[]).includes(method)) {
    throw new UserError(`--method must be one of ${KD_METHODS.join(", ")}, got "${method}"`);
  }
  const out: Pick<Recipe, "method" | typeof METHOD_FLAGS[keyof typeof METHOD_FLAGS]> = {
    method: method as KdMethod,
  };
  for (const [flag, key] of Object.entries(METHOD_FLAGS)) {
    const given = key === "dkdWarmup" ? intFlag(flag, f[flag]) : numberFlag(flag, f[flag]);
    if (!flag.startsWith(`${method}-`)) {
      if (given !== undefined) {
        throw new UserError(`--${flag} needs --method ${flag.split("-")[0]}`);
      }
      continue;
    }
    out[key] = given ?? r[key] ?? METHOD_DEFAULTS[key];
  }
  return out;
}

/** Build a TrainConfig from parsed flags (preset first, then overrides). */
export function configFromFlags(f: Args): TrainConfig {
  const presetName = (f.preset as string | undefined) ?? "cpu-fast";
  const r = presetRecipe(presetName);
  const pick = <T>(v: T | undefined, d: T): T => (v === undefined ? d : v);
  const bnFlag = f["bn-momentum"] as string | undefined;
  const config: TrainConfig = {
    ...r,
    student: (f.student as string | undefined) ?? "mobilenet_v2",
    teacher: (f.teacher as string | undefined) ?? null,
    data: f.data as string | undefined,
    trainSplit: (f["train-split"] as string | undefined) ?? "train",
    valSplit: (f["val-split"] as string | undefined) ?? "validation",
    seed: pick(intFlag("seed", f.seed), 0),
    temperature: pick(numberFlag("temperature", f.temperature), r.temperature),
    lambda: pick(numberFlag("lambda", f.lambda), r.lambda),
    ...methodFromFlags(f, r),
    epochs: pick(intFlag("epochs", f.epochs), r.epochs),
    batchSize: pick(intFlag("batch-size", f["batch-size"]), r.batchSize),
    lr: pick(numberFlag("lr", f.lr), r.lr),
    optimizer: {
      name: f.optimizer ? parseOptimizer(f.optimizer as string) : r.optimizer.name,
      weightDecay: pick(numberFlag("weight-decay", f["weight-decay"]), r.optimizer.weightDecay),
      momentum: pick(numberFlag("momentum", f.momentum), r.optimizer.momentum ?? 0.9),
    },
    schedule: f.schedule ? parseSchedule(f.schedule as string) : r.schedule,
    warmupRatio: pick(numberFlag("warmup-ratio", f["warmup-ratio"]), r.warmupRatio),
    clipNorm: pick(numberFlag("clip-norm", f["clip-norm"]), r.clipNorm),
    ema: pick(numberFlag("ema", f.ema), r.ema),
    imageSize: pick(intFlag("image-size", f["image-size"]), r.imageSize),
    studentOptions: {
      classifierDropoutProb: pick(
        numberFlag("dropout", f.dropout),
        r.studentOptions.classifierDropoutProb,
      ),
      bnMomentum: bnFlag === "hf"
        ? "hf"
        : pick(numberFlag("bn-momentum", bnFlag), r.studentOptions.bnMomentum),
    },
    selectBy: pick(f["select-by"] as TrainConfig["selectBy"] | undefined, r.selectBy),
    earlyStopping: pick(intFlag("early-stopping", f["early-stopping"]), r.earlyStopping),
    augment: (f.augment as string | undefined) ?? r.augment,
    teacherViews: pick(intFlag("teacher-views", f["teacher-views"]), r.teacherViews),
    maxImages: pick(intFlag("max-images", f["max-images"]), r.maxImages),
    labelMap: mapFlag("label-map", f["label-map"]),
    labels: parseLabelList(f.labels as string | undefined),
    reinitHead: f["reinit-head"] ? true : undefined,
    skipBadImages: f["skip-bad-images"] ? true : undefined,
    preset: presetName,
  };
  if (!config.teacher && (f.temperature !== undefined || f.lambda !== undefined)) {
    throw new UserError(
      "--temperature/--lambda need --teacher (without one the run is the scratch baseline)",
    );
  }
  const methodFlag = ["method", ...Object.keys(METHOD_FLAGS)].find((k) => f[k] !== undefined);
  if (!config.teacher && methodFlag) {
    throw new UserError(`--${methodFlag} needs --teacher (it sets the distillation term)`);
  }
  if (!config.teacher) {
    for (const k of Object.values(METHOD_FLAGS)) delete config[k];
    delete config.method;
  }
  if (!config.teacher && f["label-map"] !== undefined) {
    throw new UserError("--label-map maps a teacher's classes; it needs --teacher");
  }
  return config;
}

/** `deno task train`. */
export const trainCommand: CommandSpec<FinalSummary> = {
  usage: USAGE,
  string: STRING_FLAGS,
  boolean: ["resume", "force", "quiet", "reinit-head", "skip-bad-images"],
  json: true,
  backend: true,
  async run(f) {
    const config = configFromFlags(f);
    if (!f.out) throw new UserError("--out RUN_DIR is required (see --help)");
    validateConfig(config);
    return await train(config, {
      out: f.out as string,
      resume: f.resume as boolean,
      force: f.force as boolean,
      quiet: f.quiet as boolean,
    });
  },
  print(s) {
    console.log(
      `validation accuracy ${(s.validation.accuracy * 100).toFixed(1)}% ` +
        `(macro-F1 ${s.validation.macro_f1.toFixed(3)}, best epoch ${s.best_epoch})`,
    );
  },
};

if (import.meta.main) await runCommand(trainCommand);
