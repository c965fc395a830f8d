/**
 * The merge step: read every finished run of a sweep directory and aggregate over seeds into
 * `results.json` (then tables and the HTML report). Reads only; never touches run folders.
 * @module
 */
import { join } from "node:path";
import { UserError } from "../core/errors.ts";
import { exists, readJson, writeJsonAtomic } from "../core/fs.ts";
import { describe, pairedDifference } from "../stats.ts";
import type { FinalSummary } from "../core/run_files.ts";
import type { ResultRow, RunEntry, SweepManifest, SweepResults } from "./types.ts";

/** Read `sweep.json` of a sweep directory (clear error when missing or malformed). */
export async function readManifest(dir: string): Promise<SweepManifest> {
  const path = join(dir, "sweep.json");
  if (!(await exists(path))) throw new UserError(`${dir} is not a sweep directory (no sweep.json)`);
  try {
    return await readJson<SweepManifest>(path);
  } catch (e) {
    throw new UserError(`${path}: ${(e as Error).message}`);
  }
}

/** Finished runs' summaries by run id. */
export async function readFinished(
  dir: string,
  runs: RunEntry[],
): Promise<Map<string, FinalSummary>> {
  const out = new Map<string, FinalSummary>();
  for (const r of runs) {
    const path = join(dir, "runs", r.id, "final.json");
    if (!(await exists(path))) continue;
    try {
      out.set(r.id, await readJson<FinalSummary>(path));
    } catch (e) {
      throw new UserError(`${path}: cannot parse results (${(e as Error).message})`);
    }
  }
  return out;
}

/** Aggregate finished runs into one row per configuration (scratch first). */
export function aggregate(
  manifest: SweepManifest,
  finished: Map<string, FinalSummary>,
): SweepResults {
  const groups = new Map<string, RunEntry[]>();
  for (const r of manifest.runs) {
    const key = JSON.stringify([r.kind, r.teacher, r.temperature, r.lambda]);
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  const bySeed = (runs: RunEntry[], pick: (f: FinalSummary) => number) =>
    new Map(runs.filter((r) => finished.has(r.id)).map((r) => [r.seed, pick(finished.get(r.id)!)]));
  const scratch = manifest.runs.filter((r) => r.kind === "scratch");
  const scratchAcc = bySeed(scratch, (f) => f.validation.accuracy);
  const scratchF1 = bySeed(scratch, (f) => f.validation.macro_f1);
  const rows: ResultRow[] = [];
  for (const runs of groups.values()) {
    const done = runs.filter((r) => finished.has(r.id));
    if (!done.length) continue;
    const fs = done.map((r) => finished.get(r.id)!);
    const first = runs[0];
    const acc = bySeed(runs, (f) => f.validation.accuracy);
    const f1 = bySeed(runs, (f) => f.validation.macro_f1);
    const agreements = fs.map((f) => f.validation.agreement).filter((a): a is number => a !== null);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    rows.push({
      teacher: first.teacher ?? "scratch",
      kind: first.kind,
      temperature: first.temperature,
      lambda: first.lambda,
      seeds: done.map((r) => r.seed),
      accuracy: describe([...acc.values()]),
      macroF1: describe([...f1.values()]),
      deltaAccuracy: first.kind === "distill" ? pairedDifference(acc, scratchAcc) : null,
      deltaMacroF1: first.kind === "distill" ? pairedDifference(f1, scratchF1) : null,
      teacherValAccuracy: fs[0].teacher_val_accuracy,
      agreement: agreements.length ? mean(agreements) : null,
      trainTimeS: mean(fs.map((f) => f.train_time_s)),
      imgPerS: mean(fs.map((f) => f.img_per_s)),
      runs: done.map((r) => r.id),
    });
  }
  return {
    experiment: manifest.experiment,
    profile: manifest.profile,
    split: "validation",
    rows,
    pending: manifest.runs.filter((r) => !finished.has(r.id)).map((r) => r.id),
    generatedAt: new Date().toISOString(),
  };
}

/** Merge a sweep directory's finished runs into `results.json` and return the results. */
export async function mergeResults(dir: string): Promise<SweepResults> {
  const manifest = await readManifest(dir);
  const results = aggregate(manifest, await readFinished(dir, manifest.runs));
  await writeJsonAtomic(join(dir, "results.json"), results);
  return results;
}
