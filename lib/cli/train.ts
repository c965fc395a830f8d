/**
 * `deno task train --student SPEC [--teacher SPEC --temperature T --lambda L] --out RUN_DIR`:
 * one training run (no teacher = the scratch baseline). Settings start from `--preset`
 * (default `cpu-fast`; `hf-guide` is the guide's recipe) and any flag overrides them.
 * @module
 */
import { parseArgs } from "@std/cli";
import { UserError } from "../core/errors.ts";
import { runMain } from "./command.ts";
import { intFlag, mapFlag, numberFlag } from "./flags.ts";
import { initBackend } from "../backend.ts";
import { presetRecipe, PRESETS } from "../presets.ts";
import { train, type TrainConfig, validateConfig } from "../train.ts";
import { parseOptimizer } from "../optim.ts";
import { parseSchedule } from "../schedule.ts";

const HELP = `usage: deno task train --out RUN_DIR [--student SPEC] [--teacher SPEC]
  [--temperature T] [--lambda L] [--data DIR] [--preset ${Object.keys(PRESETS).join("|")}]
  [--epochs N] [--batch-size N] [--lr X] [--optimizer adamw|adam|sgd] [--weight-decay X]
  [--momentum X] [--schedule constant|linear|cosine] [--warmup-ratio X] [--clip-norm X]
  [--image-size PX] [--dropout P] [--bn-momentum X|hf] [--seed N]
  [--select-by accuracy|macro_f1|val_loss] [--early-stopping EPOCHS] [--augment none|crop,flip]
  [--train-limit N] [--val-limit N] [--label-map teacher=dataset,...]
  [--backend auto|native|tensorflow|webgpu|wasm|cpu] [--resume] [--force] [--quiet]`;

/** Build a TrainConfig from command-line flags (preset first, then overrides). */
export function configFromArgs(
  args: string[],
): { config: TrainConfig; flags: Record<string, unknown> } {
  const f = parseArgs(args, {
    string: [
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
      "image-size",
      "dropout",
      "bn-momentum",
      "seed",
      "select-by",
      "early-stopping",
      "train-limit",
      "val-limit",
      "label-map",
      "backend",
      "train-split",
      "val-split",
    ],
    boolean: ["resume", "force", "quiet", "help"],
  });
  if (f.help) {
    console.log(HELP);
    Deno.exit(0);
  }
  if (f._.length) throw new UserError(`unexpected argument "${f._[0]}"\n${HELP}`);
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
    trainLimit: pick(intFlag("train-limit", f["train-limit"]), r.trainLimit),
    valLimit: pick(intFlag("val-limit", f["val-limit"]), r.valLimit),
    labelMap: mapFlag("label-map", f["label-map"]),
    preset: presetName,
  };
  if (!config.teacher && (f.temperature !== undefined || f.lambda !== undefined)) {
    throw new UserError(
      "--temperature/--lambda need --teacher (without one the run is the scratch baseline)",
    );
  }
  return { config, flags: f };
}

if (import.meta.main) {
  await runMain(async () => {
    const { config, flags } = configFromArgs(Deno.args);
    if (!flags.out) throw new UserError(`--out RUN_DIR is required\n${HELP}`);
    validateConfig(config);
    await initBackend(flags.backend as string | undefined);
    const summary = await train(config, {
      out: flags.out as string,
      resume: flags.resume as boolean,
      force: flags.force as boolean,
      quiet: flags.quiet as boolean,
    });
    console.log(
      `validation accuracy ${(summary.validation.accuracy * 100).toFixed(1)}% ` +
        `(macro-F1 ${summary.validation.macro_f1.toFixed(3)}, best epoch ${summary.best_epoch})`,
    );
  });
}
