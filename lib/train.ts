/**
 * The trainer: a student from scratch (no teacher) or by distillation with the guide's loss,
 * validated every epoch, checkpointed every epoch (atomically, optimizer state included), best
 * epoch kept by a chosen validation metric, resumable after a crash with identical results.
 *
 * A run directory holds `config.json` (every setting and where it ran), `metrics.jsonl` (one
 * line per epoch), `checkpoint/` (last epoch: weights, optimizer, trainer state), `best/` (the
 * selected model, loadable with `dir:RUN/best`) and, once finished, `final.json`.
 * @module
 */
import * as tf from "./tf.ts";
import { join } from "node:path";
import { UserError } from "./core/errors.ts";
import type { Classifier } from "./models/model.ts";
import { createModel, ensureModelFiles, loadModel, parseSpec } from "./models/registry.ts";
import { resolveSplit } from "./data/resolve.ts";
import { saveModel } from "./models/checkpoint.ts";
import { getTensor, readSafetensors, writeSafetensors } from "./models/safetensors.ts";
import { batchIndices, type ImageSplit, loadSplit, toTensor } from "./data/dataset.ts";
import { mixSeed, mulberry32 } from "./core/rng.ts";
import { evenlySpaced, rowsOfIds, subsetSplit } from "./data/subset.ts";
import { augmentEnabled, parseAugment } from "./data/augment.ts";
import { distillationLoss, validateDistillationOptions } from "./loss.ts";
import { evaluateLogits, meanKlToTeacher, topOneAgreement } from "./metrics.ts";
import { clipByGlobalNorm, createOptimizer } from "./optim.ts";
import { learningRate } from "./schedule.ts";
import type { Recipe } from "./presets.ts";
import { predictLogits } from "./predict.ts";
import { teacherLogits } from "./teacher_cache.ts";
import { Progress } from "./progress.ts";
import { exists, readJson, replaceDir, writeFileAtomic, writeJsonAtomic } from "./core/fs.ts";
import { reseedGlobalRandom, restoreGlobalRandom } from "./core/seed.ts";
import { runEnvironment } from "./provenance.ts";
import type { EpochRecord, FinalSummary } from "./core/run_files.ts";

export type { EpochRecord, FinalSummary } from "./core/run_files.ts";

/** Everything that defines a training run (saved as `config.json`). */
export interface TrainConfig extends Recipe {
  /** Student registry spec, e.g. `mobilenet_v2` or `mobilenet_v2@0.5`. */
  student: string;
  /** Teacher registry spec; null trains from scratch (λ is then irrelevant). */
  teacher: string | null;
  /** Dataset folder (undefined: the default beans location). */
  data?: string;
  trainSplit: string;
  valSplit: string;
  seed: number;
  /** Map teacher class names to dataset class names when they differ (`teacher=dataset`). */
  labelMap?: Record<string, string>;
  /** Named preset this config started from, for the record. */
  preset?: string;
}

/** Options of {@linkcode train} that do not change the result. */
export interface TrainOptions {
  /** Run directory. */
  out: string;
  /** Continue an interrupted run from its last checkpoint. */
  resume?: boolean;
  /** Overwrite a finished or interrupted run. */
  force?: boolean;
  quiet?: boolean;
  /** Called after each epoch (live plots in notebooks). */
  onEpoch?: (record: EpochRecord) => void;
  /** Test hook: treat the loss of this (1-based) optimizer step as NaN, as a diverging run. */
  nanAtStep?: number;
}

/** Throw a UserError for any setting that cannot work, before any work starts. */
export function validateConfig(c: TrainConfig): void {
  if (c.teacher) validateDistillationOptions(c);
  const positiveInt = (v: number, flag: string) => {
    if (!(Number.isInteger(v) && v > 0)) {
      throw new UserError(`${flag} must be a positive integer, got ${v}`);
    }
  };
  positiveInt(c.epochs, "--epochs");
  positiveInt(c.batchSize, "--batch-size");
  positiveInt(c.imageSize, "--image-size");
  if (!(c.lr > 0)) throw new UserError(`--lr must be > 0, got ${c.lr}`);
  if (!["accuracy", "macro_f1", "val_loss"].includes(c.selectBy)) {
    throw new UserError(`--select-by must be accuracy, macro_f1 or val_loss, got "${c.selectBy}"`);
  }
  if (c.trainSplit === c.valSplit) {
    throw new UserError(`training and validation splits are both "${c.trainSplit}"`);
  }
  if (c.valSplit === "test" || c.trainSplit === "test") {
    throw new UserError(
      "the test split is for final evaluation only (deno task eval --split test)",
    );
  }
  parseSpec(c.student);
  if (c.teacher) parseSpec(c.teacher);
}

/** Teacher logits with columns reordered to the dataset's classes (explicit `labelMap` needed when names differ). */
export function mapTeacherColumns(
  logits: Float32Array,
  teacherLabels: string[] | undefined,
  classNames: string[],
  labelMap: Record<string, string> | undefined,
  teacherSpec: string,
): Float32Array {
  const k = teacherLabels?.length ?? classNames.length;
  const generic = !teacherLabels ||
    teacherLabels.every((l, i) => l === `class_${i}` || l === `LABEL_${i}`);
  if (generic && !labelMap) {
    if (k !== classNames.length) {
      throw new UserError(
        `teacher ${teacherSpec} has ${k} classes but the dataset has ${classNames.length}`,
      );
    }
    return logits;
  }
  const names = teacherLabels!.map((l) => labelMap?.[l] ?? l);
  const cols = classNames.map((c) => names.indexOf(c));
  const same = cols.every((c, i) => c === i) && names.length === classNames.length;
  if (same) return logits;
  if (!labelMap || cols.some((c) => c < 0)) {
    throw new UserError(
      `teacher ${teacherSpec} classes [${teacherLabels!.join(", ")}] differ from the dataset's ` +
        `[${classNames.join(", ")}]; map them explicitly with --label-map teacher=dataset,...`,
    );
  }
  const n = logits.length / k;
  const out = new Float32Array(n * classNames.length);
  for (let i = 0; i < n; i++) {
    cols.forEach((c, j) => out[i * classNames.length + j] = logits[i * k + c]);
  }
  return out;
}

/** Compare a saved config with the current one; returns the names of settings that differ. */
export function configDifferences(a: object, b: object): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].filter((k) =>
    JSON.stringify((a as Record<string, unknown>)[k]) !==
      JSON.stringify((b as Record<string, unknown>)[k])
  ).sort();
}

interface TrainerState {
  epoch: number;
  step: number;
  history: EpochRecord[];
  bestEpoch: number;
  bestScore: number;
  sinceBest: number;
  trainTime: number;
  trainImages: number;
}

function score(r: EpochRecord, selectBy: TrainConfig["selectBy"]): number {
  return selectBy === "val_loss" ? -r.val_loss : selectBy === "macro_f1" ? r.macro_f1 : r.accuracy;
}

/** State tensors of a checkpoint: model variables under `model/`, optimizer under `optimizer/`. */
function checkpointTensors(
  model: Classifier,
  optimizerState: Map<string, tf.Variable>,
): Map<string, tf.Tensor> {
  const out = new Map<string, tf.Tensor>();
  for (const [k, v] of model.stateVariables()) out.set(`model/${k}`, v);
  for (const [k, v] of optimizerState) out.set(k, v);
  return out;
}

async function restoreCheckpoint(
  dir: string,
  vars: Map<string, tf.Tensor>,
): Promise<void> {
  const file = await readSafetensors(join(dir, "state.safetensors"));
  for (const [name, v] of vars) {
    const t = getTensor(file, name, v.shape);
    (v as tf.Variable).assign(t);
    t.dispose();
  }
}

/** Train one run to completion (or resume it) and return its summary. */
export async function train(config: TrainConfig, opts: TrainOptions): Promise<FinalSummary> {
  validateConfig(config);
  const log = (msg: string) => opts.quiet || console.error(msg);
  const out = opts.out;
  const ckptDir = join(out, "checkpoint");
  const finalPath = join(out, "final.json");
  const configPath = join(out, "config.json");

  if (await exists(finalPath)) {
    if (!opts.force) {
      throw new UserError(`${out} already holds a finished run; pass --force to overwrite it`);
    }
  }
  // A crash inside replaceDir can leave only the previous checkpoint, under `.old`.
  if (!(await exists(ckptDir)) && await exists(`${ckptDir}.old`)) {
    await Deno.rename(`${ckptDir}.old`, ckptDir);
  }
  const hasCheckpoint = await exists(join(ckptDir, "trainer.json"));
  if (opts.force) {
    for (const f of ["final.json", "metrics.jsonl", "config.json", "checkpoint", "best"]) {
      await Deno.remove(join(out, f), { recursive: true }).catch(() => {});
    }
  } else if (hasCheckpoint && !opts.resume) {
    throw new UserError(
      `${out} holds an interrupted run; pass --resume to continue it or --force to start over`,
    );
  }
  const resuming = !opts.force && opts.resume && hasCheckpoint;
  if (resuming && await exists(configPath)) {
    const saved = (await readJson<{ train: TrainConfig }>(configPath)).train;
    const diff = configDifferences(saved, config);
    if (diff.length) {
      throw new UserError(
        `cannot resume ${out}: settings differ from the saved run (${diff.join(", ")})`,
      );
    }
  }
  // Both splits must exist before anything is decoded, trained or written.
  for (const split of [config.trainSplit, config.valSplit]) {
    await resolveSplit({ data: config.data, split, quiet: opts.quiet });
  }
  for (const spec of [config.teacher, config.student]) if (spec) await ensureModelFiles(spec, opts);
  await Deno.mkdir(out, { recursive: true });

  // ---- data
  const trainFull = await loadSplit({
    data: config.data,
    split: config.trainSplit,
    preprocess: { size: config.imageSize },
    quiet: opts.quiet,
  });
  const valFull = await loadSplit({
    data: config.data,
    split: config.valSplit,
    preprocess: { size: config.imageSize },
    quiet: opts.quiet,
  });
  const trainRows = evenlySpaced(trainFull.n, config.trainLimit);
  const valRows = evenlySpaced(valFull.n, config.valLimit);
  const trainSet = subsetSplit(trainFull, trainRows);
  const valSet = subsetSplit(valFull, valRows);
  const classNames = trainSet.classNames;
  const k = classNames.length;

  // ---- teacher logits (computed once, cached on disk by sample id)
  const augment = parseAugment(config.augment);
  let teacherTrain: Float32Array | null = null;
  let teacherVal: Float32Array | null = null;
  let teacherValAccuracy: number | null = null;
  // With augmentation the teacher must see each random view: it stays loaded and runs online.
  let online: { teacher: Classifier; split: ImageSplit } | null = null;
  let mapColumns = (l: Float32Array) => l;
  if (config.teacher) {
    const teacher = await createModel(config.teacher, { numLabels: k, labels: classNames });
    const load = (split: string) =>
      loadSplit({ data: config.data, split, preprocess: teacher.input, quiet: opts.quiet });
    const tTrain = await load(config.trainSplit);
    const tVal = await load(config.valSplit);
    log(`teacher ${config.teacher}: logits at ${teacher.input.size} px (cached by sample id)`);
    mapColumns = (l) =>
      mapTeacherColumns(l, teacher.config.labels, classNames, config.labelMap, config.teacher!);
    const cached = (s: ImageSplit, ids: string[]) =>
      teacherLogits(teacher, config.teacher!, s, { ids, quiet: opts.quiet });
    teacherVal = mapColumns(await cached(tVal, valSet.ids));
    teacherValAccuracy = evaluateLogits(teacherVal, valSet.labels, k).accuracy;
    log(`teacher validation accuracy ${(teacherValAccuracy * 100).toFixed(1)}% (n=${valSet.n})`);
    if (augmentEnabled(augment)) {
      online = { teacher, split: subsetSplit(tTrain, rowsOfIds(tTrain, trainSet.ids)) };
    } else {
      teacherTrain = mapColumns(await cached(tTrain, trainSet.ids));
      teacher.dispose();
    }
  }

  // ---- student and optimizer (init is seeded so a resumed run rebuilds the same graph)
  reseedGlobalRandom(config.seed, 0x5eed);
  const student = await createModel(config.student, {
    numLabels: k,
    labels: classNames,
    imageSize: config.imageSize,
    student: config.studentOptions,
    seed: config.seed,
  });
  const params = student.trainableVariables();
  const optimizer = createOptimizer(params, config.optimizer);
  const stepsPerEpoch = Math.ceil(trainSet.n / config.batchSize);
  const totalSteps = stepsPerEpoch * config.epochs;
  const schedule = {
    name: config.schedule,
    lr: config.lr,
    totalSteps,
    warmupSteps: Math.round(config.warmupRatio * totalSteps),
  };
  const environment = await runEnvironment([trainFull, valFull]);
  await writeJsonAtomic(configPath, { train: config, environment });

  let state: TrainerState = {
    epoch: 0,
    step: 0,
    history: [],
    bestEpoch: 0,
    bestScore: -Infinity,
    sinceBest: 0,
    trainTime: 0,
    trainImages: 0,
  };
  if (resuming) {
    await restoreCheckpoint(ckptDir, checkpointTensors(student, optimizer.state()));
    state = await readJson<TrainerState>(join(ckptDir, "trainer.json"));
    log(`resuming ${out} after epoch ${state.epoch}/${config.epochs}`);
  }

  const byName = new Map([...params].map(([name, v]) => [v.name, name]));
  let stoppedEarly = false;
  try {
    for (let epoch = state.epoch + 1; epoch <= config.epochs; epoch++) {
      // Dropout masks and shuffling depend only on (seed, epoch): resume replays them exactly.
      reseedGlobalRandom(config.seed, epoch);
      const progress = new Progress(`epoch ${epoch}/${config.epochs}`, trainSet.n, {
        quiet: opts.quiet,
      });
      const t0 = performance.now();
      let seen = 0, sumLoss = 0, sumCe = 0, sumKd = 0;
      for (
        const idx of batchIndices(trainSet.n, {
          batchSize: config.batchSize,
          shuffle: true,
          seed: config.seed,
          epoch,
        })
      ) {
        const lr = learningRate(state.step, schedule);
        // One seed per batch drives the same random view for the student and an online teacher.
        const viewSeed = mixSeed(config.seed, epoch, state.step, 0xa46);
        const view = () =>
          augmentEnabled(augment) ? { ...augment, rng: mulberry32(viewSeed) } : undefined;
        const x = toTensor(trainSet, idx, { ...student.input, size: config.imageSize }, view());
        const y = tf.tensor1d(Int32Array.from(idx, (i) => trainSet.labels[i]), "int32");
        let t: tf.Tensor2D | null = null;
        if (teacherTrain) t = tf.tensor2d(gatherRows(teacherTrain, idx, k), [idx.length, k]);
        else if (online) {
          const tx = toTensor(online.split, idx, online.teacher.input, view());
          const raw = tf.tidy(() => online!.teacher.apply(tx, { training: false }));
          t = tf.tensor2d(mapColumns(raw.dataSync() as Float32Array), [idx.length, k]);
          tf.dispose([tx, raw]);
        }
        let ce = 0, kd = 0;
        const { value, grads } = tf.variableGrads(() => {
          const logits = student.apply(x, { training: true });
          const parts = distillationLoss(logits, t, y, config);
          ce = parts.ce.dataSync()[0];
          kd = parts.kd.dataSync()[0];
          return parts.total;
        }, [...params.values()]);
        const loss = opts.nanAtStep === state.step + 1 ? NaN : value.dataSync()[0];
        tf.dispose([x, y, value]);
        if (t) t.dispose();
        if (!Number.isFinite(loss)) {
          tf.dispose(Object.values(grads));
          throw new UserError(
            `loss is ${loss} at epoch ${epoch}, step ${state.step + 1}; stopping. The last good ` +
              `checkpoint (epoch ${state.epoch}) is kept in ${ckptDir}. Try a lower --lr or --clip-norm.`,
          );
        }
        const named: Record<string, tf.Tensor> = {};
        for (const [vname, g] of Object.entries(grads)) named[byName.get(vname) ?? vname] = g;
        if (config.clipNorm > 0) clipByGlobalNorm(named, config.clipNorm);
        optimizer.step(named, lr);
        tf.dispose(Object.values(named));
        state.step++;
        seen += idx.length;
        sumLoss += loss * idx.length;
        sumCe += ce * idx.length;
        sumKd += kd * idx.length;
        progress.update(seen, `loss ${loss.toFixed(4)} lr ${lr.toExponential(2)}`);
      }
      progress.finish();
      const epochTime = (performance.now() - t0) / 1000;
      state.trainTime += epochTime;
      state.trainImages += seen;

      // ---- validation
      const valLogits = await predictLogits(student, valSet, { quiet: true });
      const m = evaluateLogits(valLogits, valSet.labels, k);
      const valLoss = tf.tidy(() =>
        distillationLoss(
          tf.tensor2d(valLogits, [valSet.n, k]),
          teacherVal ? tf.tensor2d(teacherVal, [valSet.n, k]) : null,
          valSet.labels,
          config,
        ).total.dataSync()[0]
      );
      const record: EpochRecord = {
        epoch,
        step: state.step,
        lr: learningRate(state.step - 1, schedule),
        train_loss: sumLoss / seen,
        train_ce: sumCe / seen,
        train_kd: sumKd / seen,
        val_loss: valLoss,
        accuracy: m.accuracy,
        macro_f1: m.macroF1,
        ece: m.ece,
        agreement: teacherVal ? topOneAgreement(valLogits, teacherVal, k) : null,
        kl_to_teacher: teacherVal ? meanKlToTeacher(valLogits, teacherVal, k) : null,
        epoch_time_s: epochTime,
        img_per_s: seen / epochTime,
      };
      state.history.push(record);
      state.epoch = epoch;
      const s = score(record, config.selectBy);
      const improved = s > state.bestScore;
      if (improved) {
        state.bestScore = s;
        state.bestEpoch = epoch;
        state.sinceBest = 0;
        await saveModel(student, join(out, "best"));
      } else state.sinceBest++;
      await saveCheckpoint(out, student, optimizer.state(), state);
      await writeFileAtomic(
        join(out, "metrics.jsonl"),
        state.history.map((r) => JSON.stringify(r)).join("\n") + "\n",
      );
      log(
        `epoch ${epoch}/${config.epochs}: train loss ${record.train_loss.toFixed(4)}, val loss ` +
          `${valLoss.toFixed(4)}, val acc ${(m.accuracy * 100).toFixed(1)}%, macro-F1 ` +
          `${m.macroF1.toFixed(3)}${improved ? " (best)" : ""}, ${
            record.img_per_s.toFixed(1)
          } img/s`,
      );
      opts.onEpoch?.(record);
      if (config.earlyStopping > 0 && state.sinceBest >= config.earlyStopping) {
        log(`early stopping: no improvement in ${config.earlyStopping} epochs`);
        stoppedEarly = true;
        break;
      }
    }
  } finally {
    restoreGlobalRandom();
    online?.teacher.dispose();
    optimizer.dispose();
    student.dispose();
  }

  // ---- reload the best model and summarise
  const best = await loadModel(join(out, "best"));
  const bestLogits = await predictLogits(best, valSet, { quiet: true });
  best.dispose();
  const m = evaluateLogits(bestLogits, valSet.labels, k);
  const summary: FinalSummary = {
    best_epoch: state.bestEpoch,
    select_by: config.selectBy,
    epochs_run: state.epoch,
    stopped_early: stoppedEarly,
    validation: {
      n: m.n,
      accuracy: m.accuracy,
      macro_f1: m.macroF1,
      ece: m.ece,
      precision: m.precision,
      recall: m.recall,
      confusion: m.confusion,
      agreement: teacherVal ? topOneAgreement(bestLogits, teacherVal, k) : null,
      kl_to_teacher: teacherVal ? meanKlToTeacher(bestLogits, teacherVal, k) : null,
    },
    teacher_val_accuracy: teacherValAccuracy,
    train_time_s: state.trainTime,
    img_per_s: state.trainImages / Math.max(state.trainTime, 1e-9),
    class_names: classNames,
  };
  await writeJsonAtomic(finalPath, summary);
  log(
    `done: best epoch ${summary.best_epoch}, validation accuracy ` +
      `${(m.accuracy * 100).toFixed(1)}%, macro-F1 ${m.macroF1.toFixed(3)} → ${out}`,
  );
  return summary;
}

function gatherRows(src: Float32Array, idx: ArrayLike<number>, k: number): Float32Array {
  const out = new Float32Array(idx.length * k);
  for (let i = 0; i < idx.length; i++) out.set(src.subarray(idx[i] * k, idx[i] * k + k), i * k);
  return out;
}

async function saveCheckpoint(
  out: string,
  model: Classifier,
  optimizerState: Map<string, tf.Variable>,
  state: TrainerState,
): Promise<void> {
  const tmp = join(out, `checkpoint.${crypto.randomUUID().slice(0, 8)}.tmp`);
  await Deno.mkdir(tmp, { recursive: true });
  await writeSafetensors(join(tmp, "state.safetensors"), checkpointTensors(model, optimizerState));
  await Deno.writeTextFile(join(tmp, "trainer.json"), JSON.stringify(state));
  await replaceDir(tmp, join(out, "checkpoint"));
}
