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
import { presetRecipe, PRESETS } from "../presets.ts";
import { type FinalSummary, train, type TrainConfig, validateConfig } from "../train.ts";
import { parseOptimizer } from "../optim.ts";
import { parseSchedule } from "../schedule.ts";
import { parseLabelList } from "../data/source.ts";

const USAGE = `usage: deno task train --out RUN_DIR [--student SPEC] [--teacher SPEC]
  [--temperature T] [--lambda L] [--data DIR] [--preset ${Object.keys(PRESETS).join("|")}]
  [--epochs N] [--batch-size N] [--lr X] [--optimizer adamw|adam|sgd] [--weight-decay X]
  [--momentum X] [--schedule constant|linear|cosine] [--warmup-ratio X] [--clip-norm X]
  [--ema DECAY]
  [--image-size PX] [--dropout P] [--bn-momentum X|hf] [--seed N]
  [--select-by accuracy|macro_f1|val_loss] [--early-stopping EPOCHS] [--augment none|crop,flip]
  [--max-images N] [--label-map teacher=dataset,...] [--labels a,b,c] [--reinit-head]
  [--skip-bad-images] [--train-split NAME] [--val-split NAME]
  [--backend auto|native|tensorflow|webgpu|wasm|cpu] [--resume] [--force] [--quiet] [--json]

  --student/--teacher take model specs: mobilenet_v2, mobilenet_v2@WIDTH, hf:ORG/NAME[@REV],
  hf-dir:PATH, tfjs-dir:PATH, dir:PATH. Without --teacher the run is the scratch baseline.
  --json prints final.json (the run's summary) on stdout.`;

const STRING_FLAGS = [
  "student",
  "teacher",
  "temperature",
  "lambda",
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
  "max-images",
  "label-map",
  "labels",
  "train-split",
  "val-split",
];

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
