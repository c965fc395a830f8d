/**
 * The trainer: a student from scratch (no teacher) or by distillation with the guide's loss,
 * validated every epoch, checkpointed every epoch (atomically, optimizer state included), best
 * epoch kept by a chosen validation metric, resumable after a crash with identical results.
 *
 * `train()` reads top to bottom: check the settings and the run folder, load the data, make the
 * distillation targets, build the student, then per epoch `trainStep` over the batches,
 * `evaluateStudent`, checkpoint; finally reload the best model and write `final.json`. The stages
 * live in `lib/train/`; the run folder's layout is described in `lib/train/run_dir.ts`.
 * @module
 */
import * as tf from "./tf.ts";
import { join } from "node:path";
import { UserError } from "./core/errors.ts";
import { writeJsonAtomic } from "./core/fs.ts";
import { overlap } from "./core/paths.ts";
import { reseedGlobalRandom, restoreGlobalRandom } from "./core/seed.ts";
import type { EpochRecord, FinalSummary } from "./core/run_files.ts";
import { batchIndices } from "./data/dataset.ts";
import { augmentEnabled, parseAugment } from "./data/augment.ts";
import type { Classifier } from "./models/model.ts";
import { createModel, loadModel, specFolder } from "./models/registry.ts";
import { saveModel } from "./models/checkpoint.ts";
import { createOptimizer, type Optimizer } from "./optim.ts";
import { learningRate, type ScheduleOptions } from "./schedule.ts";
import { Progress } from "./progress.ts";
import { runEnvironment } from "./provenance.ts";
import { ensureBackend } from "./backend.ts";
import { type TrainConfig, trainConfigToJson, validateConfig } from "./train/config.ts";
import { loadRunData, type RunData } from "./train/data.ts";
import { makeTargets, type Targets } from "./train/targets.ts";
import { type StepLosses, type StepModel, stepModel, trainStep } from "./train/step.ts";
import {
  type BatchView,
  fixedViews,
  sampleBatchView,
  viewInput,
  viewLabels,
} from "./train/views.ts";
import { evaluateStudent } from "./train/evaluate.ts";
import { WeightEma } from "./train/ema.ts";
import { metricsJson } from "./metrics.ts";
import { kdWarmupWeight } from "./loss.ts";
import {
  checkResumeData,
  initialState,
  inspectRunDir,
  lockRunDir,
  restoreCheckpoint,
  saveCheckpoint,
  type SetAside,
  setAsidePreviousRun,
  tidyRunDir,
  type TrainerState,
  writeMetrics,
} from "./train/run_dir.ts";

export type { EpochRecord, FinalSummary } from "./core/run_files.ts";
export type { StepLosses } from "./train/step.ts";
export { type TrainConfig, validateConfig } from "./train/config.ts";

/**
 * Options of {@linkcode train} that do not change the result.
 *
 * @example Resume a run, logging the loss of every optimizer step
 * ```ts
 * import { presetRecipe, train, type TrainOptions } from "@kd/vision/train";
 *
 * const config = {
 *   ...presetRecipe("smoke"),
 *   epochs: 1,
 *   student: "mobilenet_v2@0.35",
 *   teacher: null,
 *   data: "tests/fixtures/beans",
 *   trainSplit: "train",
 *   valSplit: "validation",
 *   seed: 0,
 * };
 * const opts: TrainOptions = {
 *   out: await Deno.makeTempDir(),
 *   resume: true, // nothing to resume yet: starts afresh
 *   quiet: true,
 *   onStep: (step, losses) => console.log(step, losses.total),
 * };
 * await train(config, opts);
 * ```
 */
export interface TrainOptions {
  /** Run directory. */
  out: string;
  /** Continue an interrupted run from its last checkpoint. */
  resume?: boolean;
  /** Replace a finished or interrupted run (only once the new one has started). */
  force?: boolean;
  /** Print no progress or per-epoch lines. */
  quiet?: boolean;
  /** Called after each epoch (live plots in notebooks). */
  onEpoch?: (record: EpochRecord) => void;
  /** Test hook: treat the loss of this (1-based) optimizer step as NaN, as a diverging run. */
  nanAtStep?: number;
  /** Run the teacher on every batch even with cached views (a check: same views, same result). */
  teacherOnline?: boolean;
  /**
   * Test hook: the rows and view of each batch, before its step (`step` is 0-based).
   *
   * Internal because a batch's view is the augmentation's and mixup's own types, not an API.
   * @internal
   */
  onBatch?: (step: number, idx: Int32Array, view: BatchView) => void;
  /** Called with the losses of each optimizer step (`step` is 1-based), e.g. for a live plot. */
  onStep?: (step: number, losses: StepLosses) => void;
}

/**
 * Train one run to completion (or resume it) and return its summary.
 *
 * @example Scratch baseline and distilled student, same seed
 * ```ts
 * import { presetRecipe, train, type TrainConfig } from "@kd/vision/train";
 *
 * const base: TrainConfig = {
 *   ...presetRecipe("smoke"),
 *   epochs: 1,
 *   student: "mobilenet_v2@0.35",
 *   teacher: null,
 *   data: "tests/fixtures/beans",
 *   trainSplit: "train",
 *   valSplit: "validation",
 *   seed: 0,
 * };
 * const dir = await Deno.makeTempDir();
 * const scratch = await train(base, { out: `${dir}/scratch`, quiet: true });
 * const distilled = await train(
 *   { ...base, teacher: "hf-dir:tests/fixtures/vit_tiny" },
 *   { out: `${dir}/distilled`, quiet: true, onEpoch: (r) => console.log(r.epoch, r.accuracy) },
 * );
 * console.log(scratch.validation.accuracy, distilled.validation.accuracy);
 * ```
 */
export async function train(config: TrainConfig, opts: TrainOptions): Promise<FinalSummary> {
  validateConfig(config);
  await checkOutApart(opts.out, config);
  // Library callers need not pick a backend first: the one in effect, else the default choice.
  await ensureBackend();
  const lock = await lockRunDir(opts.out);
  try {
    return await trainLocked(config, opts);
  } finally {
    await lock.release();
  }
}

/**
 * Refuse an `out` that is, or holds, a folder the run reads (the teacher, the student's starting
 * weights, the data): `--force` replaces a previous run's files there, `best/` and `config.json`
 * among them, and a teacher saved by this toolkit is exactly such files. Inside one is fine.
 */
async function checkOutApart(out: string, config: TrainConfig): Promise<void> {
  const read: [string, string][] = [];
  const specs: [string, string | null][] = [
    ["--teacher", config.teacher],
    ["--student", config.student],
  ];
  for (const [flag, spec] of specs) {
    const dir = spec ? specFolder(spec) : null;
    if (dir) read.push([flag, dir]);
  }
  if (config.data) read.push(["--data", config.data]);
  for (const [flag, dir] of read) {
    const how = await overlap(out, dir);
    if (how === "is" || how === "contains") {
      throw new UserError(
        `--out ${out} ${how} the ${flag} folder ${dir}; the run would write over what it ` +
          "reads, so choose another --out",
      );
    }
  }
}

/** {@linkcode train} while holding the run folder's lock. */
async function trainLocked(config: TrainConfig, opts: TrainOptions): Promise<FinalSummary> {
  const { out, quiet } = opts;
  const log = (msg: string) => quiet || console.error(msg);
  const plan = await inspectRunDir(out, config, opts);
  const augment = parseAugment(config.augment);
  let aside: SetAside | undefined;
  let targets: Targets | null = null;
  let student: Classifier | undefined;
  let optimizer: Optimizer | undefined;
  let ema: WeightEma | undefined;
  let state: TrainerState = initialState();
  let stoppedEarly = false;
  let data: RunData;
  try {
    data = await loadRunData(config, { quiet });
    checkResumeData(plan, [data.trainFull, data.valFull]);
    if (config.teacher) {
      const online = opts.teacherOnline || (augmentEnabled(augment) && !config.teacherViews);
      targets = await makeTargets(config, data, { online, quiet });
    }
    // Everything the new run needs is there: only now may a crash's leftovers go and a previous
    // run make way.
    await tidyRunDir(plan);
    if (plan.replacing) aside = await setAsidePreviousRun(out);
    await Deno.mkdir(out, { recursive: true });

    // Init is seeded, so a resumed run rebuilds the same graph before loading its checkpoint.
    reseedGlobalRandom(config.seed, 0x5eed);
    student = await createModel(config.student, {
      numLabels: data.classNames.length,
      labels: data.classNames,
      imageSize: config.imageSize,
      student: config.studentOptions,
      reinitHead: config.reinitHead,
      seed: config.seed,
    });
    optimizer = createOptimizer(student.trainableVariables(), config.optimizer);
    ema = config.ema ? new WeightEma(student, config.ema) : undefined;
    // The averaged weights are part of the resumable state, beside the optimizer's slots.
    const resumable = () => new Map([...optimizer!.state(), ...(ema?.state() ?? [])]);
    const model = stepModel(student, optimizer);
    const stepsPerEpoch = Math.ceil(data.train.n / config.batchSize);
    const schedule: ScheduleOptions = {
      name: config.schedule,
      lr: config.lr,
      totalSteps: stepsPerEpoch * config.epochs,
      warmupSteps: Math.round(config.warmupRatio * stepsPerEpoch * config.epochs),
    };
    await writeJsonAtomic(join(out, "config.json"), {
      train: trainConfigToJson(config),
      environment: await runEnvironment([data.trainFull, data.valFull]),
    });
    if (plan.resuming) {
      state = await restoreCheckpoint(out, student, resumable());
      log(`resuming ${out} after epoch ${state.epoch}/${config.epochs}`);
    }

    for (let epoch = state.epoch + 1; epoch <= config.epochs; epoch++) {
      // Dropout masks and shuffling depend only on (seed, epoch): resume replays them exactly.
      reseedGlobalRandom(config.seed, epoch);
      const t0 = performance.now();
      const sums = await trainEpoch(
        model,
        ema,
        data,
        targets,
        config,
        state,
        epoch,
        schedule,
        opts,
      );
      const epochTime = (performance.now() - t0) / 1000;
      state.trainTime += epochTime;
      state.trainImages += data.train.n;

      // With an average, the average is what is validated, selected and saved as best/.
      const asEvaluated = <T>(fn: () => Promise<T>) => ema ? ema.withAverage(fn) : fn();
      const v = await asEvaluated(() =>
        evaluateStudent(student!, data.val, targets?.val ?? null, config)
      );
      const record: EpochRecord = {
        epoch,
        step: state.step,
        lr: learningRate(state.step - 1, schedule),
        train_loss: sums.loss / data.train.n,
        train_ce: sums.ce / data.train.n,
        train_kd: sums.kd / data.train.n,
        val_loss: v.loss,
        accuracy: v.metrics.accuracy,
        macro_f1: v.metrics.macroF1,
        ece: v.metrics.ece,
        agreement: v.agreement,
        kl_to_teacher: v.klToTeacher,
        epoch_time_s: epochTime,
        img_per_s: data.train.n / epochTime,
      };
      state.history.push(record);
      state.epoch = epoch;
      const score = config.selectBy === "val_loss"
        ? -record.val_loss
        : config.selectBy === "macro_f1"
        ? record.macro_f1
        : record.accuracy;
      const improved = score > state.bestScore;
      if (improved) {
        Object.assign(state, { bestScore: score, bestEpoch: epoch, sinceBest: 0 });
        await asEvaluated(() => saveModel(student!, join(out, "best")));
      } else state.sinceBest++;
      await saveCheckpoint(out, student, resumable(), state);
      await writeMetrics(out, state.history);
      // The new run has a checkpoint of its own: the replaced one is no longer needed.
      await aside?.discard();
      aside = undefined;
      log(
        `epoch ${epoch}/${config.epochs}: train loss ${record.train_loss.toFixed(4)}, val loss ` +
          `${v.loss.toFixed(4)}, val acc ${(record.accuracy * 100).toFixed(1)}%, macro-F1 ` +
          `${record.macro_f1.toFixed(3)}${improved ? " (best)" : ""}, ` +
          `${record.img_per_s.toFixed(1)} img/s`,
      );
      opts.onEpoch?.(record);
      if (config.earlyStopping > 0 && state.sinceBest >= config.earlyStopping) {
        log(`early stopping: no improvement in ${config.earlyStopping} epochs`);
        stoppedEarly = true;
        break;
      }
    }
  } catch (e) {
    await aside?.restore();
    throw e;
  } finally {
    restoreGlobalRandom();
    targets?.dispose();
    optimizer?.dispose();
    ema?.dispose();
    student?.dispose();
  }
  return await summarizeRun(config, data, targets, state, stoppedEarly, opts);
}

/** One epoch of {@linkcode trainStep} over shuffled batches; returns summed losses. */
async function trainEpoch(
  model: StepModel,
  ema: WeightEma | undefined,
  data: RunData,
  targets: Targets | null,
  config: TrainConfig,
  state: TrainerState,
  epoch: number,
  schedule: ScheduleOptions,
  opts: TrainOptions,
): Promise<{ loss: number; ce: number; kd: number }> {
  const augment = parseAugment(config.augment);
  const progress = new Progress(`epoch ${epoch}/${config.epochs}`, data.train.n, {
    quiet: opts.quiet,
  });
  const sums = { loss: 0, ce: 0, kd: 0 };
  const source = config.teacherViews
    ? fixedViews(data.train.ids, augment, config.teacherViews, {
      seed: config.seed,
      size: config.imageSize,
    })
    : undefined;
  const stepOpts = { ...config, kdWeight: kdWarmupWeight(config, epoch) };
  let seen = 0;
  const order = { batchSize: config.batchSize, shuffle: true, seed: config.seed, epoch };
  for (const idx of batchIndices(data.train.n, order)) {
    const lr = learningRate(state.step, schedule);
    const at = { seed: config.seed, epoch, step: state.step, size: config.imageSize };
    const view = sampleBatchView(idx, augment, at, source);
    opts.onBatch?.(state.step, idx, view);
    const input = { ...model.student.input, size: config.imageSize };
    const labels = Int32Array.from(idx, (i) => data.train.labels[i]);
    const batch = {
      x: viewInput(data.train, idx, input, view),
      labels: viewLabels(labels, data.classNames.length, view),
      teacher: targets ? await targets.batch(idx, view) : null,
    };
    const losses = await trainStep(model, batch, stepOpts, lr, opts.nanAtStep === state.step + 1);
    tf.dispose([batch.x, batch.labels, ...(batch.teacher ? [batch.teacher] : [])]);
    if (!Number.isFinite(losses.total)) {
      throw new UserError(
        `loss is ${losses.total} at epoch ${epoch}, step ${state.step + 1}; stopping. The last ` +
          `good checkpoint (epoch ${state.epoch}) is kept in ${join(opts.out, "checkpoint")}. ` +
          `Try a lower --lr or --clip-norm.`,
      );
    }
    ema?.update(state.step);
    state.step++;
    opts.onStep?.(state.step, losses);
    seen += idx.length;
    sums.loss += losses.total * idx.length;
    sums.ce += losses.ce * idx.length;
    sums.kd += losses.kd * idx.length;
    progress.update(seen, `loss ${losses.total.toFixed(4)} lr ${lr.toExponential(2)}`);
  }
  progress.finish();
  return sums;
}

/** Reload the best model, evaluate it once more and write `final.json`. */
async function summarizeRun(
  config: TrainConfig,
  data: RunData,
  targets: Targets | null,
  state: TrainerState,
  stoppedEarly: boolean,
  opts: TrainOptions,
): Promise<FinalSummary> {
  const best = await loadModel(join(opts.out, "best"));
  let v;
  try {
    v = await evaluateStudent(best, data.val, targets?.val ?? null, config);
  } finally {
    best.dispose();
  }
  const m = v.metrics;
  const summary: FinalSummary = {
    best_epoch: state.bestEpoch,
    select_by: config.selectBy,
    epochs_run: state.epoch,
    stopped_early: stoppedEarly,
    validation: {
      ...metricsJson(m),
      agreement: v.agreement,
      kl_to_teacher: v.klToTeacher,
    },
    teacher_val_accuracy: targets?.valAccuracy ?? null,
    train_time_s: state.trainTime,
    img_per_s: state.trainImages / Math.max(state.trainTime, 1e-9),
    class_names: data.classNames,
  };
  await writeJsonAtomic(join(opts.out, "final.json"), summary);
  opts.quiet || console.error(
    `done: best epoch ${summary.best_epoch}, validation accuracy ` +
      `${(m.accuracy * 100).toFixed(1)}%, macro-F1 ${m.macroF1.toFixed(3)} → ${opts.out}`,
  );
  return summary;
}
