/**
 * What `--model` names for an export: any registry spec, or a training run directory (its
 * `best/`). When the model comes from a run (`RUN`, `dir:RUN`, `dir:RUN/best`), the run's records
 * (`config.json`, `final.json`, `metrics.jsonl`, `test_eval.json`) travel with it, so the model
 * card can state the recipe and the scores.
 * @module
 */
import { basename, dirname, join, resolve } from "node:path";
import { UserError } from "../core/errors.ts";
import { exists, readJson } from "../core/fs.ts";
import {
  checkFinalSummary,
  type EpochRecord,
  type EvalRecord,
  type FinalSummary,
} from "../core/run_files.ts";
import { parseSpec } from "../models/registry.ts";
import { type TrainConfig, trainConfigFromJson } from "../train/config.ts";

/** A training run's records, as far as they exist. */
export interface RunRecords {
  dir: string;
  train: TrainConfig;
  environment: Record<string, unknown> | null;
  final: FinalSummary | null;
  /** `test_eval.json`, when the run was evaluated on the test split. */
  testEval: EvalRecord | null;
  /** Optimizer steps taken when the best model was saved (PyTorch's `num_batches_tracked`). */
  bestStep: number | null;
}

/** A resolved export source: the registry spec to load and, when known, its run. */
export interface ExportSource {
  /** What the user passed. */
  spec: string;
  /** Registry spec of the model itself. */
  modelSpec: string;
  run: RunRecords | null;
}

async function jsonOrNull<T>(path: string): Promise<T | null> {
  if (!(await exists(path))) return null;
  try {
    return await readJson<T>(path);
  } catch (e) {
    throw new UserError((e as Error).message);
  }
}

/** Whether `dir/config.json` is a run's (has `train`), a saved model's, or absent. */
async function folderKind(dir: string): Promise<"run" | "model" | "other" | "missing"> {
  const cfg = await jsonOrNull<Record<string, unknown>>(join(dir, "config.json"));
  if (!cfg) return (await exists(dir)) ? "other" : "missing";
  if (typeof cfg.train === "object" && cfg.train !== null) return "run";
  if (typeof (cfg.config as { kind?: unknown } | undefined)?.kind === "string") return "model";
  return "other";
}

/** Read a run folder's records (config.json must hold `train`). */
export async function readRunRecords(dir: string): Promise<RunRecords> {
  const cfg = await jsonOrNull<{ train: unknown; environment?: Record<string, unknown> }>(
    join(dir, "config.json"),
  );
  if (!cfg?.train) throw new UserError(`${dir}/config.json: not a training run's config`);
  const finalPath = join(dir, "final.json");
  const finalJson = await jsonOrNull<unknown>(finalPath);
  const final = finalJson === null ? null : checkFinalSummary(finalJson, finalPath);
  let bestStep: number | null = null;
  const metricsPath = join(dir, "metrics.jsonl");
  if (final && await exists(metricsPath)) {
    for (const line of (await Deno.readTextFile(metricsPath)).split("\n")) {
      if (!line.trim()) continue;
      try {
        const r = JSON.parse(line) as EpochRecord;
        if (r.epoch === final.best_epoch) bestStep = r.step;
      } catch {
        throw new UserError(`${metricsPath}: a line is not valid JSON`);
      }
    }
  }
  return {
    dir,
    train: trainConfigFromJson(cfg.train),
    environment: cfg.environment ?? null,
    final,
    testEval: await jsonOrNull<EvalRecord>(join(dir, "test_eval.json")),
    bestStep,
  };
}

function noBest(dir: string): UserError {
  return new UserError(
    `${dir} is a training run without best/ (no epoch has finished yet); train it first or ` +
      `pass a saved model`,
  );
}

async function fromFolder(spec: string, dir: string): Promise<ExportSource> {
  const kind = await folderKind(dir);
  if (kind === "run") {
    const best = join(dir, "best");
    const bestKind = await folderKind(best);
    if (bestKind === "missing") throw noBest(dir);
    if (bestKind !== "model") {
      throw new UserError(`${best}/config.json: not a saved model's config (damaged?)`);
    }
    return { spec, modelSpec: `dir:${join(dir, "best")}`, run: await readRunRecords(dir) };
  }
  if (kind === "model") {
    // RUN/best: the run is the parent folder.
    const parent = dirname(resolve(dir));
    const run = basename(resolve(dir)) === "best" && await folderKind(parent) === "run"
      ? await readRunRecords(dirname(dir.replace(/\/+$/, "")) || ".")
      : null;
    return { spec, modelSpec: `dir:${dir}`, run };
  }
  if (kind === "missing") throw new UserError(`${dir}: no such model directory`);
  throw new UserError(
    `${dir}: neither a training run (config.json with "train") nor a saved model ` +
      `(config.json with "config.kind")`,
  );
}

/** Resolve `--model` (a registry spec or a run/model directory) without loading weights. */
export async function resolveExportSource(spec: string): Promise<ExportSource> {
  let parsed;
  try {
    parsed = parseSpec(spec);
  } catch (e) {
    // Not a spec: a plain path to a run or a saved model.
    if (spec.includes(":") || !(await exists(spec))) throw e;
    return fromFolder(spec, spec);
  }
  if (parsed.kind === "dir") return fromFolder(spec, parsed.target);
  return { spec, modelSpec: spec, run: null };
}
