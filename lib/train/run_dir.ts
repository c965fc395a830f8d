/**
 * The run folder's state machine: a new run, a finished one (kept unless `--force`), an
 * interrupted one (continued with `--resume`, or restarted with `--force`). Nothing is deleted
 * while deciding: `--force` moves the previous run aside only once the new one has passed every
 * check and loaded its data, and puts it back if the new run fails before its first epoch ends.
 * Leftovers of a crash (the toolkit's own temporary files, a checkpoint swap cut short) are
 * cleaned up at that point too, and only in a folder that holds a run.
 *
 * ```
 * RUN/config.json     {train: TrainConfig, environment}      (snake_case keys)
 * RUN/metrics.jsonl   one EpochRecord per line
 * RUN/checkpoint/     state.safetensors (model/ + optimizer/ variables) + trainer.json
 * RUN/best/           the selected model (loadable with dir:RUN/best)
 * RUN/final.json      FinalSummary, written last: its presence means "finished"
 * RUN/.lock           held while a process trains in RUN (see lib/core/lock.ts)
 * ```
 * @module
 */
import { basename, join } from "node:path";
import type * as tf from "../tf.ts";
import { UserError } from "../core/errors.ts";
import {
  exists,
  isJsonObject,
  oldPrefix,
  readJson,
  replaceDir,
  writeFileAtomic,
} from "../core/fs.ts";
import { settingDifferences } from "../core/settings.ts";
import { lockHolder, tryLock } from "../core/lock.ts";
import type { EpochRecord } from "../core/run_files.ts";
import type { Classifier } from "../models/model.ts";
import {
  assertDtype,
  dtypesFor,
  getTensor,
  readSafetensors,
  writeSafetensors,
} from "../models/safetensors.ts";
import { type TrainConfig, trainConfigFromJson } from "./config.ts";

/** Files and folders of a run directory (everything `--force` replaces). */
export const RUN_ENTRIES = [
  "config.json",
  "metrics.jsonl",
  "checkpoint",
  "best",
  "final.json",
  "validation_eval.json",
  "test_eval.json",
];

/** Progress of a run, saved with every checkpoint. */
export interface TrainerState {
  epoch: number;
  step: number;
  history: EpochRecord[];
  bestEpoch: number;
  bestScore: number;
  sinceBest: number;
  trainTime: number;
  trainImages: number;
}

/** A fresh state before the first epoch. */
export function initialState(): TrainerState {
  return {
    epoch: 0,
    step: 0,
    history: [],
    bestEpoch: 0,
    bestScore: -Infinity,
    sinceBest: 0,
    trainTime: 0,
    trainImages: 0,
  };
}

/** The lock file of a run folder. */
export const RUN_LOCK = ".lock";

/**
 * Take the run folder's lock, so that two processes never train into one folder (each would
 * overwrite the other's config, metrics and checkpoint, and both would report success). A lock
 * left by a killed process is taken over (see `tryLock`). Release it when the run ends; a folder
 * this call had to create is removed again if the run left nothing in it.
 */
export async function lockRunDir(out: string): Promise<{ release(): Promise<void> }> {
  const existed = await exists(out);
  const path = join(out, RUN_LOCK);
  const lock = await tryLock(path);
  if (!lock) {
    const h = await lockHolder(path);
    const who = h ? `process ${h.pid} on ${h.host} since ${h.started}` : "another process";
    throw new UserError(
      `${out} is in use: ${who} is training there (lock ${path}); wait for it to finish or ` +
        "choose another --out",
    );
  }
  return {
    async release() {
      await lock.release();
      if (!existed) await Deno.remove(out).catch(() => {}); // only succeeds when empty
    },
  };
}

/** What {@linkcode inspectRunDir} decided. */
export interface RunDirPlan {
  out: string;
  /** Continue from `checkpoint/`. */
  resuming: boolean;
  /** A previous run is there and will be replaced (`--force`). */
  replacing: boolean;
  /** When resuming: the data checksums the run recorded (`environment.datasets`). */
  recordedData?: Record<string, { source: string; sha256: string }>;
  /**
   * `out` holds a run (a record, a checkpoint or a summary): only then are crash leftovers in it
   * cleaned up ({@linkcode tidyRunDir}); any other folder may hold files of the user's.
   */
  holdsRun: boolean;
}

/**
 * Decide what to do with `out` without changing anything (a checkpoint that a crash left mid-swap
 * counts as the run's: {@linkcode tidyRunDir} puts it back later). Refusals are UserErrors.
 */
export async function inspectRunDir(
  out: string,
  config: TrainConfig,
  opts: { resume?: boolean; force?: boolean },
): Promise<RunDirPlan> {
  const ckpt = (await exists(join(out, "checkpoint")))
    ? join(out, "checkpoint")
    : swappedCheckpoint(out);
  const finished = await exists(join(out, "final.json"));
  const interrupted = !finished && ckpt !== null && await exists(join(ckpt, "trainer.json"));
  const recorded = await exists(join(out, "config.json"));
  const anything = finished || interrupted || recorded;
  const holdsRun = finished || interrupted || (recorded && await isRunRecord(out));
  // A folder of the user's is not a run folder: writing a run into it would overwrite any file
  // that shares a run file's name, so that takes --force (as export's --out does).
  const foreign = holdsRun ? [] : foreignEntries(out);
  if (foreign.length && !opts.force) {
    throw new UserError(
      `${out} is not empty and holds no run (${foreign.slice(0, 3).join(", ")}${
        foreign.length > 3 ? ", ..." : ""
      }); choose a new or empty --out, or pass --force to write the run's files (${
        RUN_ENTRIES.join(", ")
      }) there`,
    );
  }
  if (opts.force) return { out, resuming: false, replacing: anything, holdsRun };
  if (finished) {
    throw new UserError(`${out} already holds a finished run; pass --force to replace it`);
  }
  if (interrupted && !opts.resume) {
    throw new UserError(
      `${out} holds an interrupted run; pass --resume to continue it or --force to start over`,
    );
  }
  if (interrupted) {
    const path = join(out, "config.json");
    const saved = await readJson<{ train?: unknown; environment?: { datasets?: unknown } }>(path)
      .catch(() => null);
    const datasets = saved?.environment?.datasets;
    if (!saved?.train || !datasets || typeof datasets !== "object") {
      throw new UserError(
        `cannot resume ${out}: ${path} is missing, unreadable or lacks the run's settings and ` +
          "data checksums, so the checkpoint cannot be matched to them; pass --force to start over",
      );
    }
    const diff = settingDifferences(trainConfigFromJson(saved.train), config);
    if (diff.length) {
      throw new UserError(
        `cannot resume ${out}: settings differ from the saved run (${diff.join("; ")})`,
      );
    }
    return {
      out,
      resuming: true,
      replacing: false,
      recordedData: datasets as RunDirPlan["recordedData"],
      holdsRun,
    };
  }
  return { out, resuming: interrupted, replacing: false, holdsRun };
}

/** What in `out` neither a run nor its lock and crash leftovers put there (sorted names). */
function foreignEntries(out: string): string[] {
  const asides = new Set(checkpointAsides(out).map((d) => basename(d)));
  return entriesOf(out).map((e) => e.name)
    .filter((n) =>
      n !== RUN_LOCK && !RUN_ENTRIES.includes(n) && !RUN_TEMPORARY.test(n) && !asides.has(n)
    )
    .sort();
}

/** Whether `out/config.json` is a run's record (`{train, environment}`), not some other file. */
async function isRunRecord(out: string): Promise<boolean> {
  const saved = await readJson<{ train?: unknown }>(join(out, "config.json")).catch(() => null);
  return typeof saved?.train === "object" && saved.train !== null;
}

/**
 * Clean up what a crash left in the run folder of `plan`: finish an interrupted checkpoint swap
 * and delete the temporary files of the toolkit's own atomic writes. Call it only once the new
 * run's input has passed every check, so that a refused run changes nothing; a folder that holds
 * no run is left alone (a `*.tmp` there may be the user's).
 */
export async function tidyRunDir(plan: RunDirPlan): Promise<void> {
  if (!plan.holdsRun) return;
  await recoverCheckpointSwap(plan.out);
  await removeStaleTemporaries(plan.out);
}

/**
 * Refuse to resume on data other than the run started with: the same `--data` path can hold
 * other files now, and a resumed run would mix two datasets under one record.
 */
export function checkResumeData(
  plan: RunDirPlan,
  splits: { name: string; source: string; checksum: string }[],
): void {
  if (!plan.resuming || !plan.recordedData) return;
  const recorded = plan.recordedData;
  const diffs: string[] = [];
  for (const s of splits) {
    const r = recorded[s.name];
    if (!r) diffs.push(`${s.name} split: not recorded → ${s.source}`);
    else if (r.sha256 !== s.checksum) {
      diffs.push(
        `${s.name} split ${s.source}: sha256 ${r.sha256.slice(0, 12)}… → ${
          s.checksum.slice(0, 12)
        }…`,
      );
    }
  }
  if (diffs.length) {
    throw new UserError(
      `cannot resume ${plan.out}: the data changed since the run started (${
        diffs.join("; ")
      }); pass --force to start over on the new data`,
    );
  }
}

/** The entries of folder `dir`; none when it does not exist (yet) or cannot be listed. */
function entriesOf(dir: string): Deno.DirEntry[] {
  try {
    return [...Deno.readDirSync(dir)];
  } catch {
    return [];
  }
}

/**
 * The folders `replaceDir` may have left while swapping in a checkpoint: `.checkpoint.old-XXXX/`
 * holding nothing but the previous `checkpoint/` (or nothing at all, when the crash came before
 * the move). A folder with anything else in it is not one of them.
 */
function checkpointAsides(out: string): string[] {
  return entriesOf(out)
    .filter((e) => e.isDirectory && e.name.startsWith(oldPrefix("checkpoint")))
    .map((e) => join(out, e.name))
    .filter((dir) => entriesOf(dir).every((i) => i.isDirectory && i.name === "checkpoint"));
}

/**
 * The previous checkpoint a crash left mid-swap, when `checkpoint/` itself is missing:
 * `.checkpoint.old-XXXX/checkpoint` (see `replaceDir`), or `checkpoint.old` where versions before
 * the unique names kept it; null when there is none.
 */
function swappedCheckpoint(out: string): string | null {
  for (const aside of checkpointAsides(out)) {
    if (entriesOf(aside).length) return join(aside, "checkpoint");
  }
  return entriesOf(out).some((e) => e.isDirectory && e.name === "checkpoint.old")
    ? join(out, "checkpoint.old")
    : null;
}

/**
 * Finish a checkpoint swap a crash interrupted: the previous checkpoint sits in
 * `.checkpoint.old-XXXX/` (see `replaceDir`); put it back when `checkpoint/` is missing, else it
 * is an outdated copy. `checkpoint.old` is where versions before the unique names kept it.
 */
async function recoverCheckpointSwap(out: string): Promise<void> {
  const ckpt = join(out, "checkpoint");
  for (const aside of checkpointAsides(out)) {
    if (!(await exists(ckpt)) && await exists(join(aside, "checkpoint"))) {
      await Deno.rename(join(aside, "checkpoint"), ckpt);
    }
    await Deno.remove(aside, { recursive: true }).catch(() => {});
  }
  if (!(await exists(ckpt)) && await exists(`${ckpt}.old`)) await Deno.rename(`${ckpt}.old`, ckpt);
}

/**
 * Names of the temporary files and folders the toolkit's own writes make in a run folder:
 * `NAME.XXXX.tmp` beside each record (`writeFileAtomic`, `saveCheckpoint`), `.saving-XXXX.tmp`
 * (`saveModel` of `best/`) and `.replaced-XXXX.tmp` (`setAsidePreviousRun`). Any other `*.tmp`
 * is not ours to delete.
 */
const RUN_TEMPORARY = new RegExp(
  `^(?:(?:${RUN_ENTRIES.map((n) => n.replaceAll(".", "\\.")).join("|")})\\.|\\.saving-|` +
    `\\.replaced-)[^/]+\\.tmp$`,
);

/** Temporary files of writes that never finished (a crash, a full disk): safe to delete. */
async function removeStaleTemporaries(out: string): Promise<void> {
  for (const e of entriesOf(out)) {
    if (RUN_TEMPORARY.test(e.name)) {
      await Deno.remove(join(out, e.name), { recursive: true }).catch(() => {});
    }
  }
}

/** A previous run moved aside by `--force`: restore it on failure, discard it on success. */
export interface SetAside {
  restore(): Promise<void>;
  discard(): Promise<void>;
}

/** Move the previous run's files into `out/.replaced.tmp/` (same file system: instant, undoable). */
export async function setAsidePreviousRun(out: string): Promise<SetAside> {
  const aside = join(out, `.replaced-${crypto.randomUUID().slice(0, 8)}.tmp`);
  await Deno.mkdir(aside, { recursive: true });
  const moved: string[] = [];
  for (const name of RUN_ENTRIES) {
    if (await exists(join(out, name))) {
      await Deno.rename(join(out, name), join(aside, name));
      moved.push(name);
    }
  }
  return {
    async restore() {
      for (const name of moved) {
        await Deno.remove(join(out, name), { recursive: true }).catch(() => {});
        await Deno.rename(join(aside, name), join(out, name));
      }
      await Deno.remove(aside, { recursive: true });
    },
    async discard() {
      await Deno.remove(aside, { recursive: true });
    },
  };
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

/** Write `checkpoint/` atomically: built beside it, then swapped in. */
export async function saveCheckpoint(
  out: string,
  model: Classifier,
  optimizerState: Map<string, tf.Variable>,
  state: TrainerState,
): Promise<void> {
  const tmp = join(out, `checkpoint.${crypto.randomUUID().slice(0, 8)}.tmp`);
  try {
    await Deno.mkdir(tmp, { recursive: true });
    await writeSafetensors(
      join(tmp, "state.safetensors"),
      checkpointTensors(model, optimizerState),
    );
    await Deno.writeTextFile(join(tmp, "trainer.json"), JSON.stringify(state));
    await replaceDir(tmp, join(out, "checkpoint"));
  } catch (e) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw e;
  }
}

/** Load `checkpoint/` into the model and optimizer variables; returns the trainer state. */
export async function restoreCheckpoint(
  out: string,
  model: Classifier,
  optimizerState: Map<string, tf.Variable>,
): Promise<TrainerState> {
  const dir = join(out, "checkpoint");
  const file = await readSafetensors(join(dir, "state.safetensors"));
  for (const [name, v] of checkpointTensors(model, optimizerState)) {
    const info = file.tensors.get(name);
    if (info) assertDtype(info, dtypesFor(v.dtype), `${file.path}: tensor "${name}"`);
    const t = getTensor(file, name, v.shape);
    (v as tf.Variable).assign(t);
    t.dispose();
  }
  const path = join(dir, "trainer.json");
  return checkTrainerState(await readJson<unknown>(path), path);
}

/**
 * `value` (parsed from `path`) when it is a trainer state a run can resume from: counters that
 * are integers >= 0 and a history list. `{}` used to resume "after epoch undefined".
 */
export function checkTrainerState(value: unknown, path: string): TrainerState {
  const fail = (what: string) =>
    new UserError(
      `${path}: ${what}; the checkpoint cannot be resumed (pass --force to start over)`,
    );
  if (!isJsonObject(value)) {
    throw fail("not a trainer state (not a JSON object)");
  }
  for (const key of ["epoch", "step", "bestEpoch", "sinceBest", "trainImages"]) {
    const v = value[key];
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0) {
      throw fail(`"${key}" must be an integer >= 0, got ${JSON.stringify(v) ?? String(v)}`);
    }
  }
  if (typeof value.trainTime !== "number" || !(value.trainTime >= 0)) {
    throw fail(`"trainTime" must be a number >= 0, got ${JSON.stringify(value.trainTime)}`);
  }
  if (!Array.isArray(value.history)) throw fail(`"history" must be a list`);
  // JSON has no -Infinity: the score before any epoch was kept is saved as null.
  if (value.bestScore !== null && typeof value.bestScore !== "number") {
    throw fail(`"bestScore" must be a number, got ${JSON.stringify(value.bestScore)}`);
  }
  return { ...value, bestScore: value.bestScore ?? -Infinity } as TrainerState;
}

/** Rewrite `metrics.jsonl` with the whole history (atomic, so a crash never truncates it). */
export async function writeMetrics(out: string, history: EpochRecord[]): Promise<void> {
  await writeFileAtomic(
    join(out, "metrics.jsonl"),
    history.map((r) => JSON.stringify(r)).join("\n") + "\n",
  );
}
