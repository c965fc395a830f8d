/**
 * The merge step: read every finished run of a sweep directory and aggregate over seeds into
 * `results.json` (then tables and the HTML report). Reads only; never touches run folders.
 * @module
 */
import { join } from "node:path";
import { UserError } from "../core/errors.ts";
import { exists, readJson, writeJsonAtomic } from "../core/fs.ts";
import { checkName } from "../core/paths.ts";
import { checkConfirmPlan } from "./grid.ts";
import {
  describeProportion,
  detectableDifference,
  mcnemarExact,
  pairedDifference,
} from "../stats.ts";
import { checkFinalSummary, type EvalRecord, type FinalSummary } from "../core/run_files.ts";
import type {
  ArmStats,
  ConfirmResult,
  PairedImageTest,
  ResultRow,
  RunEntry,
  SweepManifest,
  SweepResults,
} from "./types.ts";

/**
 * Refuse a manifest (`sweep.json` at `path`) whose runs are not a list or whose run ids are not
 * plain names as `runId` makes them: an id is joined to `runs/` as a folder name, so one like
 * `../../x` would read (or train into) a folder outside the sweep.
 */
export function checkManifestRuns<T>(path: string, manifest: T): T {
  const runs = (manifest as { runs?: unknown } | null)?.runs;
  if (!Array.isArray(runs)) throw new UserError(`${path}: "runs" is not a list`);
  for (const r of runs) {
    const id = (r as { id?: unknown } | null)?.id;
    if (typeof id !== "string") throw new UserError(`${path}: a run's id is not a string: ${id}`);
    checkName(`${path}: run id`, id);
  }
  return manifest;
}

/** Read `sweep.json` of a sweep directory (clear error when missing or malformed). */
export async function readManifest(dir: string): Promise<SweepManifest> {
  const path = join(dir, "sweep.json");
  if (!(await exists(path))) throw new UserError(`${dir} is not a sweep directory (no sweep.json)`);
  let manifest: SweepManifest;
  try {
    manifest = await readJson<SweepManifest>(path);
  } catch (e) {
    throw new UserError(`${path}: ${(e as Error).message}`);
  }
  return checkManifestRuns(path, manifest);
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
    out.set(r.id, checkFinalSummary(await readJson<unknown>(path), path));
  }
  return out;
}

/** A test evaluation with its per-image predictions (`test_eval.json`). */
export interface TestRecord extends EvalRecord {
  ids: string[];
  labels: number[];
  predictions: number[];
}

/** Test evaluations of the runs that have one, by run id. */
export async function readTestEvals(
  dir: string,
  runs: RunEntry[],
): Promise<Map<string, TestRecord>> {
  const out = new Map<string, TestRecord>();
  for (const r of runs) {
    const path = join(dir, "runs", r.id, "test_eval.json");
    if (!(await exists(path))) continue;
    try {
      out.set(r.id, await readJson<TestRecord>(path));
    } catch (e) {
      throw new UserError(`${path}: cannot parse (${(e as Error).message})`);
    }
  }
  return out;
}

const stageOf = (r: RunEntry) => r.stage ?? "screen";

/** Aggregate finished runs: one row per screen configuration, one CONFIRM section per teacher. */
export function aggregate(
  manifest: SweepManifest,
  finished: Map<string, FinalSummary>,
  tests: Map<string, TestRecord> = new Map(),
  hasTestSplit = false,
): SweepResults {
  const screen = manifest.runs.filter((r) => stageOf(r) === "screen");
  const groups = new Map<string, RunEntry[]>();
  for (const r of screen) {
    const key = JSON.stringify([r.kind, r.recipe, r.teacher, r.temperature, r.lambda]);
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  const bySeed = (runs: RunEntry[], pick: (f: FinalSummary) => number) =>
    new Map(runs.filter((r) => finished.has(r.id)).map((r) => [r.seed, pick(finished.get(r.id)!)]));
  // Each recipe arm is compared with the scratch runs of the same arm.
  const scratchOf = (recipe?: string) =>
    screen.filter((r) => r.kind === "scratch" && r.recipe === recipe);
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
    const scratchAcc = bySeed(scratchOf(first.recipe), (f) => f.validation.accuracy);
    const scratchF1 = bySeed(scratchOf(first.recipe), (f) => f.validation.macro_f1);
    const teacherAcc = fs[0].teacher_val_accuracy;
    rows.push({
      teacher: first.teacher ?? "scratch",
      kind: first.kind,
      ...(first.recipe ? { recipe: first.recipe } : {}),
      temperature: first.temperature,
      lambda: first.lambda,
      seeds: done.map((r) => r.seed),
      accuracy: describeProportion([...acc.values()], fs[0].validation.n),
      macroF1: describeProportion([...f1.values()], fs[0].validation.n),
      deltaAccuracy: first.kind === "distill" ? pairedDifference(acc, scratchAcc) : null,
      deltaMacroF1: first.kind === "distill" ? pairedDifference(f1, scratchF1) : null,
      teacherValAccuracy: teacherAcc,
      teacherGap: teacherAcc === null ? null : mean([...acc.values()]) - teacherAcc,
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
    confirm: manifest.confirm
      ? againstStrongestScratch(confirmResults(manifest, finished, tests, hasTestSplit))
      : manifest.confirm === undefined
      ? null
      : [],
    hasTestSplit,
    pending: manifest.runs.filter((r) => !finished.has(r.id)).map((r) => r.id),
    generatedAt: new Date().toISOString(),
  };
}

const pp = (v: number) => `${v > 0 ? "+" : v < 0 ? "−" : ""}${Math.abs(v * 100).toFixed(1)}`;
const interval = (s: { ci95: [number, number] }) => `[${pp(s.ci95[0])}, ${pp(s.ci95[1])}]`;

/** The one-sentence answer for a teacher from its paired validation (and test) differences. */
export function verdict(c: Omit<ConfirmResult, "verdict">, hasTestSplit: boolean): string {
  const d = c.delta.validation.accuracy;
  // With recipe arms the arm is part of the answer: each is paired with its own scratch.
  const arm = c.recipe ? `, arm ${c.recipe}` : "";
  const who = `${c.teacher} (T=${c.temperature}, λ=${c.lambda}${arm})`;
  if (d.n < 2) return `${who}: too few confirm seeds finished for an interval (${d.n})`;
  // A zero spread (e.g. identical smoke runs) detects nothing meaningful: say nothing then.
  const power = Number.isFinite(c.detectable80) && c.detectable80 > 0
    ? `; these seeds detect ≥ ${(c.detectable80 * 100).toFixed(1)} pp at 80% power`
    : "";
  const span = `${pp(d.mean)} pp ${interval(d)} on validation (${d.n} seeds${power})`;
  let head: string;
  if (d.ci95[0] > 0) head = `distilled from ${who} beats scratch by ${span}`;
  else if (d.ci95[1] < 0) head = `distilled from ${who} trails scratch by ${span}`;
  else head = `${who}: no detectable difference from scratch, ${span}`;
  const t = c.delta.test?.accuracy;
  if (t && t.n >= 2) {
    const p = c.pairedTest ? `, ${c.pairedTest.name} p = ${c.pairedTest.p.toPrecision(2)}` : "";
    return `${head}; ${pp(t.mean)} pp ${interval(t)} on test${p}`;
  }
  return hasTestSplit ? `${head}; test not evaluated yet` : `${head}; the data has no test split`;
}

function arm(values: number[], f1: number[], images: number): ArmStats {
  return { accuracy: describeProportion(values, images), macroF1: describeProportion(f1, images) };
}

/** The CONFIRM sections: per pick, scratch vs distilled on the confirm seeds, paired by seed. */
export function confirmResults(
  manifest: SweepManifest,
  finished: Map<string, FinalSummary>,
  tests: Map<string, TestRecord>,
  hasTestSplit: boolean,
): ConfirmResult[] {
  const plan = manifest.confirm;
  if (!plan) return [];
  const confirm = manifest.runs.filter((r) => stageOf(r) === "confirm");
  const out: ConfirmResult[] = [];
  for (const pick of plan.picks) {
    const scratch = new Map(
      confirm.filter((r) => r.kind === "scratch" && r.recipe === pick.recipe).map((
        r,
      ) => [r.seed, r]),
    );
    const distill = new Map(
      confirm.filter((r) =>
        r.teacher === pick.teacher && r.temperature === pick.temperature &&
        r.lambda === pick.lambda && r.recipe === pick.recipe
      ).map((r) => [r.seed, r]),
    );
    const seeds = plan.seeds.filter((s) =>
      finished.has(scratch.get(s)?.id ?? "") && finished.has(distill.get(s)?.id ?? "")
    );
    if (!seeds.length) continue;
    const val = (r: RunEntry) => finished.get(r.id)!.validation;
    const valImages = val(scratch.get(seeds[0])!).n;
    const metric = (runs: Map<number, RunEntry>, get: (r: RunEntry) => number | undefined) =>
      new Map(
        seeds.flatMap((s) => {
          const v = get(runs.get(s)!);
          return v === undefined ? [] : [[s, v] as [number, number]];
        }),
      );
    const sVal = metric(scratch, (r) => val(r).accuracy);
    const dVal = metric(distill, (r) => val(r).accuracy);
    const sValF1 = metric(scratch, (r) => val(r).macro_f1);
    const dValF1 = metric(distill, (r) => val(r).macro_f1);
    const sTest = metric(scratch, (r) => tests.get(r.id)?.accuracy);
    const dTest = metric(distill, (r) => tests.get(r.id)?.accuracy);
    const sTestF1 = metric(scratch, (r) => tests.get(r.id)?.macro_f1);
    const dTestF1 = metric(distill, (r) => tests.get(r.id)?.macro_f1);
    const testSeeds = seeds.filter((s) => sTest.has(s) && dTest.has(s));
    const testImages = testSeeds.length ? tests.get(scratch.get(testSeeds[0])!.id)!.n : 0;
    const values = (m: Map<number, number>) => [...m.values()];
    const hasTest = testSeeds.length > 0;
    const deltaVal = pairedDifference(dVal, sVal);
    const teacherAcc = finished.get(distill.get(seeds[0])!.id)!.teacher_val_accuracy;
    const dMean = values(dVal).reduce((a, b) => a + b, 0) / dVal.size;
    const base: Omit<ConfirmResult, "verdict"> = {
      teacher: pick.teacher,
      ...(pick.recipe ? { recipe: pick.recipe } : {}),
      teacherValAccuracy: teacherAcc,
      teacherGap: teacherAcc === null ? null : dMean - teacherAcc,
      temperature: pick.temperature,
      lambda: pick.lambda,
      screenAccuracy: pick.screenAccuracy,
      seeds,
      scratch: {
        validation: arm(values(sVal), values(sValF1), valImages),
        test: hasTest ? arm(values(sTest), values(sTestF1), testImages) : null,
      },
      distilled: {
        validation: arm(values(dVal), values(dValF1), valImages),
        test: hasTest ? arm(values(dTest), values(dTestF1), testImages) : null,
      },
      delta: {
        validation: {
          accuracy: deltaVal,
          macroF1: pairedDifference(dValF1, sValF1),
        },
        test: hasTest
          ? {
            accuracy: pairedDifference(dTest, sTest),
            macroF1: pairedDifference(dTestF1, sTestF1),
          }
          : null,
      },
      perSeed: seeds.map((s) => ({
        seed: s,
        scratch: { validation: sVal.get(s)!, test: sTest.get(s) ?? null },
        distilled: { validation: dVal.get(s)!, test: dTest.get(s) ?? null },
      })),
      detectable80: detectableDifference(deltaVal.std, deltaVal.n),
      pairedTest: hasTest
        ? pooledMcNemar(testSeeds.map((s) => [
          tests.get(distill.get(s)!.id)!,
          tests.get(scratch.get(s)!.id)!,
        ]))
        : null,
    };
    out.push({ ...base, verdict: verdict(base, hasTestSplit) });
  }
  return out;
}

/**
 * Each pick also against the strongest scratch recipe (highest mean confirm validation accuracy
 * among the arms' scratch runs), paired by seed: a distilled arm that only beats its own weak
 * scratch (e.g. one hurt by mixup) has not shown that teaching beats a good recipe.
 */
export function againstStrongestScratch(confirm: ConfirmResult[]): ConfirmResult[] {
  const recipes = new Set(confirm.map((c) => c.recipe).filter((r) => r !== undefined));
  if (recipes.size < 2) return confirm;
  const strongest = confirm.filter((c) => c.recipe !== undefined).reduce((a, b) =>
    b.scratch.validation.accuracy.mean > a.scratch.validation.accuracy.mean ? b : a
  );
  const scratch = new Map(strongest.perSeed.map((s) => [s.seed, s.scratch.validation]));
  return confirm.map((c) => ({
    ...c,
    vsStrongestScratch: {
      recipe: strongest.recipe!,
      accuracy: pairedDifference(
        new Map(c.perSeed.map((s) => [s.seed, s.distilled.validation])),
        scratch,
      ),
    },
  }));
}

/** Exact McNemar over (image, seed) pairs: each seed's distilled vs scratch run, by image id. */
export function pooledMcNemar(pairs: [TestRecord, TestRecord][]): PairedImageTest {
  const a: boolean[] = [], b: boolean[] = [];
  for (const [d, s] of pairs) {
    const byId = new Map(s.ids.map((id, i) => [id, i]));
    d.ids.forEach((id, i) => {
      const j = byId.get(id);
      if (j === undefined) throw new UserError(`test evaluations disagree: image ${id}`);
      a.push(d.predictions[i] === d.labels[i]);
      b.push(s.predictions[j] === s.labels[j]);
    });
  }
  const m = mcnemarExact(a, b);
  return {
    name: "exact McNemar (predictions pooled over seeds)",
    n: m.n,
    images: pairs[0]?.[0].ids.length ?? 0,
    seeds: pairs.length,
    onlyDistilled: m.onlyA,
    onlyScratch: m.onlyB,
    p: m.p,
  };
}

/** Merge a sweep directory's finished runs into `results.json` and return the results. */
export async function mergeResults(
  dir: string,
  opts: { hasTestSplit?: boolean } = {},
): Promise<SweepResults> {
  const manifest = await readManifest(dir);
  const hasTestSplit = opts.hasTestSplit ?? (manifest.data?.test !== undefined);
  const finished = await readFinished(dir, manifest.runs);
  if (manifest.confirm) {
    const screen = manifest.runs.filter((r) => stageOf(r) === "screen");
    const acc = new Map([...finished].map(([id, f]) => [id, f.validation.accuracy]));
    checkConfirmPlan(join(dir, "sweep.json"), manifest.confirm, screen, acc);
  }
  const results = aggregate(
    manifest,
    finished,
    await readTestEvals(dir, manifest.runs.filter((r) => stageOf(r) === "confirm")),
    hasTestSplit,
  );
  await writeJsonAtomic(join(dir, "results.json"), results);
  return results;
}
