/**
 * Read a sweep directory (see `lib/sweep/types.ts`) into memory for the report and notebooks:
 * the manifest, the merged results, and every run's per-epoch metrics, final summary and, when
 * someone ran `deno task eval --split test` on it, its separate test evaluation.
 * @module
 */
import { join } from "node:path";
import { UserError } from "../core/errors.ts";
import { exists, readJson } from "../core/fs.ts";
import { checkFinalSummary, type EpochRecord, type FinalSummary } from "../core/run_files.ts";
import type { TrainConfig } from "../train.ts";
import type { RunEntry, SweepManifest, SweepResults } from "../sweep/types.ts";
import { checkManifestRuns } from "../sweep/results.ts";
import { checkSweepResults } from "./results_shape.ts";

/**
 * A test-split evaluation stored beside a run (`test_eval.json`), kept apart from validation.
 *
 * @example The test accuracy of every run that has one
 * ```ts
 * import { loadSweep, type TestEval, writeSyntheticSweep } from "@kd/vision/report";
 *
 * const dir = await Deno.makeTempDir();
 * await writeSyntheticSweep(dir, { confirmSeeds: 2 });
 * for (const run of (await loadSweep(dir)).runs) {
 *   const test: TestEval | null = run.testEval;
 *   if (test) console.log(run.id, test.split, test.accuracy, test.n);
 * }
 * ```
 */
export interface TestEval {
  /** The split evaluated (normally "test"). */
  split: string;
  /** Accuracy in [0, 1]. */
  accuracy: number;
  /** Macro-F1 in [0, 1]. */
  macro_f1: number;
  /** Images evaluated. */
  n: number;
  /** `confusion[true][predicted]` counts, when recorded. */
  confusion?: number[][];
}

/**
 * One run folder as the report sees it.
 *
 * @example Final validation accuracy of every finished distilled run
 * ```ts
 * import { loadSweep, type RunData, writeSyntheticSweep } from "@kd/vision/report";
 *
 * const dir = await Deno.makeTempDir();
 * await writeSyntheticSweep(dir, { unfinished: ["scratch-s0"] });
 * const runs: RunData[] = (await loadSweep(dir)).runs;
 * for (const r of runs.filter((r) => r.kind === "distill" && r.final)) {
 *   console.log(r.id, r.teacher, r.temperature, r.seed, r.final!.validation.accuracy);
 * }
 * console.log(runs.filter((r) => !r.final).map((r) => r.id)); // [ "scratch-s0" ]
 * ```
 */
export interface RunData {
  /** The run id: its folder's name, e.g. `kd-mnv2-probe-T5-l0.5-s0`. */
  id: string;
  /** The run folder. */
  dir: string;
  /** `scratch` (no teacher) or `distill`. */
  kind: "scratch" | "distill";
  /** Recipe arm (absent: the sweep's only recipe). */
  recipe?: string;
  /** Teacher name (null for scratch). */
  teacher: string | null;
  /** Softmax temperature T (null for scratch). */
  temperature: number | null;
  /** Weight λ of the distillation term (null for scratch). */
  lambda: number | null;
  /** The run's seed (null when neither the manifest nor its config says). */
  seed: number | null;
  /** Per-epoch records (empty before the first epoch ends). */
  metrics: EpochRecord[];
  /** Null while the run is unfinished. */
  final: FinalSummary | null;
  /** Its test-split evaluation, when one was run (null otherwise). */
  testEval: TestEval | null;
}

/**
 * A sweep directory loaded for reporting.
 *
 * @example What a sweep folder holds
 * ```ts
 * import { loadSweep, type SweepData, writeSyntheticSweep } from "@kd/vision/report";
 *
 * const dir = await Deno.makeTempDir();
 * await writeSyntheticSweep(dir);
 * const sweep: SweepData = await loadSweep(dir);
 * console.log(sweep.manifest?.profile, sweep.results.rows.length, sweep.runs.length);
 * ```
 */
export interface SweepData {
  /** The sweep directory. */
  dir: string;
  /** `sweep.json` (null for a results-only folder). */
  manifest: SweepManifest | null;
  /** `results.json`. */
  results: SweepResults;
  /** Every run folder: the manifest's order, then any other by name. */
  runs: RunData[];
}

/** Parse `metrics.jsonl`; a bad line is reported with its file and line number. */
export function parseMetricsJsonl(text: string, file: string): EpochRecord[] {
  const out: EpochRecord[] = [];
  text.split("\n").forEach((line, i) => {
    if (!line.trim()) return;
    let r: unknown;
    try {
      r = JSON.parse(line);
    } catch (e) {
      throw new UserError(`${file}: line ${i + 1} is not valid JSON (${(e as Error).message})`);
    }
    const epoch = (r as { epoch?: unknown } | null)?.epoch;
    if (typeof r !== "object" || r === null || !Number.isInteger(epoch)) {
      throw new UserError(`${file}: line ${i + 1} is not an epoch record (no integer "epoch")`);
    }
    out.push(r as EpochRecord);
  });
  return out;
}

async function readOptionalJson<T>(path: string): Promise<T | null> {
  if (!(await exists(path))) return null;
  try {
    return await readJson<T>(path);
  } catch (e) {
    throw new UserError((e as Error).message);
  }
}

/** A run's `final.json`, checked (null when the run has not finished). */
async function readFinal(path: string): Promise<FinalSummary | null> {
  const value = await readOptionalJson<unknown>(path);
  return value === null ? null : checkFinalSummary(value, path);
}

/** Load one run folder; `entry` (from sweep.json) wins over the run's own config.json. */
export async function loadRun(dir: string, id: string, entry?: RunEntry): Promise<RunData> {
  const saved = await readOptionalJson<{ train: TrainConfig }>(join(dir, "config.json"));
  const cfg = entry?.config ?? saved?.train;
  const metricsPath = join(dir, "metrics.jsonl");
  const metrics = (await exists(metricsPath))
    ? parseMetricsJsonl(await Deno.readTextFile(metricsPath), metricsPath)
    : [];
  const teacher = entry ? entry.teacher : cfg?.teacher ?? null;
  const kind = entry?.kind ?? (teacher ? "distill" : "scratch");
  return {
    id,
    dir,
    kind,
    ...(entry?.recipe ? { recipe: entry.recipe } : {}),
    teacher,
    temperature: kind === "distill" ? entry?.temperature ?? cfg?.temperature ?? null : null,
    lambda: kind === "distill" ? entry?.lambda ?? cfg?.lambda ?? null : null,
    seed: entry?.seed ?? cfg?.seed ?? null,
    metrics,
    final: await readFinal(join(dir, "final.json")),
    testEval: await readOptionalJson<TestEval>(join(dir, "test_eval.json")),
  };
}

/**
 * Load a sweep directory; `results.json` is required (run the sweep's merge step first).
 *
 * @example Runs, results and manifest of a sweep folder
 * ```ts
 * import { loadSweep, writeSyntheticSweep } from "@kd/vision/report";
 * import { assertEquals } from "@std/assert";
 *
 * const dir = await Deno.makeTempDir();
 * await writeSyntheticSweep(dir, { teachers: ["weak"], temperatures: [2], seeds: [0, 1] });
 * const sweep = await loadSweep(dir);
 * assertEquals(sweep.results.rows.map((r) => r.teacher), ["scratch", "weak"]);
 * ```
 */
export async function loadSweep(dir: string): Promise<SweepData> {
  const resultsPath = join(dir, "results.json");
  if (!(await exists(resultsPath))) {
    throw new UserError(
      `${resultsPath} not found: not a sweep directory, or its results were not merged yet ` +
        `(deno task sweep ... writes it)`,
    );
  }
  const results = checkSweepResults(await readOptionalJson<unknown>(resultsPath), resultsPath);
  const manifestPath = join(dir, "sweep.json");
  const manifest = await readOptionalJson<SweepManifest>(manifestPath);
  if (manifest) checkManifestRuns(manifestPath, manifest);
  const entries = new Map((manifest?.runs ?? []).map((r) => [r.id, r]));
  const runsDir = join(dir, "runs");
  // Manifest order first (scratch, then the grid), then any other run folders by name.
  const extra: string[] = [];
  if (await exists(runsDir)) {
    for await (const e of Deno.readDir(runsDir)) {
      if (e.isDirectory && !entries.has(e.name)) extra.push(e.name);
    }
  }
  const runs: RunData[] = [];
  for (const id of [...entries.keys(), ...extra.sort()]) {
    const runDir = join(runsDir, id);
    if (!(await exists(runDir))) continue;
    runs.push(await loadRun(runDir, id, entries.get(id)));
  }
  return { dir, manifest, results, runs };
}

/** The finished run of `kind` with the highest validation accuracy (ties: first by id). */
export function bestRun(runs: RunData[], kind: "scratch" | "distill"): RunData | null {
  let best: RunData | null = null;
  for (const r of runs) {
    if (r.kind !== kind || !r.final) continue;
    if (!best || r.final.validation.accuracy > best.final!.validation.accuracy) best = r;
  }
  return best;
}
