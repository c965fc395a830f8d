/**
 * The data model of a sweep directory, shared by the sweep runner, the results merge, the
 * HTML report and the notebooks.
 *
 * ```
 * SWEEP/sweep.json            SweepManifest (the screen grid, data checksums, the confirm picks)
 * SWEEP/teachers/<name>/      teachers the sweep built (once, under a lock)
 * SWEEP/runs/<run id>/        one training run (config.json, metrics.jsonl, final.json, best/;
 *                             confirm runs also test_eval.json once the test stage ran)
 * SWEEP/locks/<run id>.lock   who trains a run right now (pid, host; stale locks are taken over)
 * SWEEP/log/shard-*.jsonl     start/resume/finish events per process
 * SWEEP/timing.json           wall-clock per stage, summed over invocations
 * SWEEP/results.json          SweepResults (written by the merge step)
 * SWEEP/results.csv, .md      screen rows per configuration, CONFIRM rows per arm and split
 * SWEEP/report.html           self-contained figures (plotly inlined)
 * SWEEP/figures/*.png         PNG exports (`deno task report --png`)
 * ```
 * @module
 */
import type { TrainConfig } from "../train.ts";
import type { Stat } from "../stats.ts";

export type { Stat } from "../stats.ts";

/**
 * A teacher on the sweep's teacher axis.
 *
 * @example The teachers of a sweep and how good each is
 * ```ts
 * import { loadSweep, type TeacherEntry, writeSyntheticSweep } from "@kd/vision/report";
 *
 * const dir = await Deno.makeTempDir();
 * await writeSyntheticSweep(dir, { teachers: ["weak", "strong"] });
 * const teachers: TeacherEntry[] = (await loadSweep(dir)).manifest?.teachers ?? [];
 * for (const t of teachers) console.log(t.name, t.spec, t.valAccuracy);
 * ```
 */
export interface TeacherEntry {
  /** Short name used in run ids and tables, e.g. `mnv2-probe`. */
  name: string;
  /** Registry spec the runs use, e.g. `dir:data/teachers/mnv2-probe`. */
  spec: string;
  /** Validation accuracy of the teacher itself (filled in when known). */
  valAccuracy?: number | null;
}

/**
 * `screen`: the grid, a few seeds; `confirm`: the picked configurations on fresh seeds.
 *
 * @example Runs per stage
 * ```ts
 * import { loadSweep, type RunStage, writeSyntheticSweep } from "@kd/vision/report";
 *
 * const dir = await Deno.makeTempDir();
 * await writeSyntheticSweep(dir, { confirmSeeds: 2 });
 * const runs = (await loadSweep(dir)).manifest?.runs ?? [];
 * const count = (stage: RunStage) => runs.filter((r) => (r.stage ?? "screen") === stage).length;
 * console.log(count("screen"), count("confirm"));
 * ```
 */
export type RunStage = "screen" | "confirm";

/**
 * One run of the grid.
 *
 * @example The distillation runs at T = 5
 * ```ts
 * import { loadSweep, type RunEntry, writeSyntheticSweep } from "@kd/vision/report";
 *
 * const dir = await Deno.makeTempDir();
 * await writeSyntheticSweep(dir, { temperatures: [2, 5] });
 * const runs: RunEntry[] = (await loadSweep(dir)).manifest?.runs ?? [];
 * const atT5 = runs.filter((r) => r.kind === "distill" && r.temperature === 5);
 * console.log(atT5.map((r) => `${r.id}: ${r.teacher} λ=${r.lambda} seed ${r.seed}`));
 * ```
 */
export interface RunEntry {
  /** Stable id, also the run's folder name: `scratch-s0`, `kd-mnv2-probe-T5-l0.5-s0`. */
  id: string;
  /** Which stage the run belongs to (absent in directories made before stages: screen). */
  stage?: RunStage;
  /** `scratch`: no teacher, the baseline; `distill`: trained with `teacher`. */
  kind: "scratch" | "distill";
  /** Recipe arm name (absent: the profile's only recipe). */
  recipe?: string;
  /** Teacher name (null for scratch). */
  teacher: string | null;
  /** Softmax temperature T (null for scratch). */
  temperature: number | null;
  /** Weight λ of the distillation term (null for scratch). */
  lambda: number | null;
  /** The run's seed; scratch and distilled runs of a seed share initialisation and data order. */
  seed: number;
  /** The complete training config the run trains with. */
  config: TrainConfig;
}

/**
 * The configuration the screen stage picked for one teacher.
 *
 * @example What the confirm stage re-runs, per teacher
 * ```ts
 * import { type ConfirmPick, loadSweep, writeSyntheticSweep } from "@kd/vision/report";
 *
 * const dir = await Deno.makeTempDir();
 * await writeSyntheticSweep(dir, { temperatures: [2, 5], confirmSeeds: 2 });
 * const picks: ConfirmPick[] = (await loadSweep(dir)).manifest?.confirm?.picks ?? [];
 * for (const p of picks) console.log(p.teacher, p.temperature, p.lambda, p.screenAccuracy);
 * ```
 */
export interface ConfirmPick {
  /** Teacher name. */
  teacher: string;
  /** Recipe arm (absent: the profile's only recipe). */
  recipe?: string;
  /** The picked temperature T. */
  temperature: number;
  /** The picked λ. */
  lambda: number;
  /** Its mean validation accuracy over the screen seeds (what it was picked by). */
  screenAccuracy: number;
  /** The screen seeds that mean is over. */
  screenSeeds: number[];
}

/**
 * The confirm stage as recorded in `sweep.json` once the screen stage finished.
 *
 * @example When the picks were made, and on which seeds they are confirmed
 * ```ts
 * import { type ConfirmPlan, loadSweep, writeSyntheticSweep } from "@kd/vision/report";
 *
 * const dir = await Deno.makeTempDir();
 * await writeSyntheticSweep(dir, { confirmSeeds: 3 });
 * const plan: ConfirmPlan | null | undefined = (await loadSweep(dir)).manifest?.confirm;
 * console.log(plan?.selectedAt, plan?.seeds, plan?.picks.length);
 * ```
 */
export interface ConfirmPlan {
  /** One pick per teacher (and recipe arm). */
  picks: ConfirmPick[];
  /** Fresh seeds, shared by scratch and every pick (pairs by seed). */
  seeds: number[];
  /** Screen run ids the picks were computed from. */
  fromRuns: string[];
  /** When the picks were made (ISO 8601). */
  selectedAt: string;
}

/**
 * `sweep.json`: the grid of a sweep directory, fixed when it is created, and the confirm
 * plan once selected.
 *
 * @example Read a sweep's manifest directly
 * ```ts
 * import { type SweepManifest, writeSyntheticSweep } from "@kd/vision/report";
 *
 * const dir = await Deno.makeTempDir();
 * await writeSyntheticSweep(dir);
 * const manifest: SweepManifest = JSON.parse(await Deno.readTextFile(`${dir}/sweep.json`));
 * console.log(manifest.experiment, manifest.profile, manifest.runs.length, manifest.gridHash);
 * ```
 */
export interface SweepManifest {
  /** The experiment's name (its definition's `name`). */
  experiment: string;
  /** The profile the directory was made with. */
  profile: string;
  /** The experiment's one-line description. */
  description: string;
  /** The teacher axis, as resolved for this directory. */
  teachers: TeacherEntry[];
  /** Every run of the screen grid, then (once selected) of the confirm stage. */
  runs: RunEntry[];
  /** sha256 of the canonical screen grid; resuming with a different grid is refused. */
  gridHash: string;
  /** sha256 of each split's files: resuming on other data is refused. */
  data?: Record<string, string>;
  /** The confirm stage, once selected (null before the screen stage finished). */
  confirm?: ConfirmPlan | null;
}

/**
 * One row of the results table: a configuration aggregated over seeds. Accuracies are
 * fractions in [0, 1].
 *
 * @example The configuration with the largest mean gain over scratch
 * ```ts
 * import { loadSweep, type ResultRow, writeSyntheticSweep } from "@kd/vision/report";
 *
 * const dir = await Deno.makeTempDir();
 * await writeSyntheticSweep(dir, { temperatures: [2, 5], seeds: [0, 1, 2] });
 * const rows: ResultRow[] = (await loadSweep(dir)).results.rows;
 * const best = rows.filter((r) => r.deltaAccuracy)
 *   .sort((a, b) => b.deltaAccuracy!.mean - a.deltaAccuracy!.mean)[0];
 * console.log(best.teacher, best.temperature, best.deltaAccuracy!.mean, best.deltaAccuracy!.ci95);
 * ```
 */
export interface ResultRow {
  /** `scratch` or the teacher name. */
  teacher: string;
  /** `scratch` (the baseline) or `distill`. */
  kind: "scratch" | "distill";
  /** Recipe arm (absent: the profile's only recipe); Δ is against scratch of the same arm. */
  recipe?: string;
  /** Softmax temperature T (null for scratch). */
  temperature: number | null;
  /** Weight λ of the distillation term (null for scratch). */
  lambda: number | null;
  /** Seeds of the finished runs aggregated. */
  seeds: number[];
  /** Validation accuracy of each run's best epoch (selection on validation), over seeds. */
  accuracy: Stat;
  /** Validation macro-F1 of each run's best epoch, over seeds. */
  macroF1: Stat;
  /** Accuracy Δ paired by seed against scratch (same init, same data order); null for scratch. */
  deltaAccuracy: Stat | null;
  /** Macro-F1 Δ paired by seed against scratch; null for scratch. */
  deltaMacroF1: Stat | null;
  /** The teacher's own validation accuracy (null for scratch, or when unknown). */
  teacherValAccuracy: number | null;
  /** Student − teacher validation accuracy (mean over seeds; null for scratch). */
  teacherGap?: number | null;
  /** Student–teacher top-1 agreement on validation (mean over seeds). */
  agreement: number | null;
  /** Mean training wall-clock seconds per run. */
  trainTimeS: number;
  /** Mean training throughput per run, in images per second. */
  imgPerS: number;
  /** Run ids aggregated in this row. */
  runs: string[];
}

/**
 * Accuracy and macro-F1 of one arm on one split, over the confirm seeds.
 *
 * @example Scratch against distilled on validation, for each teacher
 * ```ts
 * import { type ArmStats, loadSweep, writeSyntheticSweep } from "@kd/vision/report";
 *
 * const dir = await Deno.makeTempDir();
 * await writeSyntheticSweep(dir, { confirmSeeds: 3 });
 * for (const c of (await loadSweep(dir)).results.confirm ?? []) {
 *   const [s, d]: ArmStats[] = [c.scratch.validation, c.distilled.validation];
 *   console.log(c.teacher, s.accuracy.mean, d.accuracy.mean, d.macroF1.ci95);
 * }
 * ```
 */
export interface ArmStats {
  /** Accuracy over the seeds (its interval on the logit scale, inside [0, 1]). */
  accuracy: Stat;
  /** Macro-F1 over the seeds. */
  macroF1: Stat;
}

/**
 * A paired per-image test on the test split between the distilled and the scratch arm.
 *
 * @example The test-split McNemar test of each teacher
 * ```ts
 * import { loadSweep, type PairedImageTest, writeSyntheticSweep } from "@kd/vision/report";
 *
 * const dir = await Deno.makeTempDir();
 * await writeSyntheticSweep(dir, { confirmSeeds: 3 });
 * for (const c of (await loadSweep(dir)).results.confirm ?? []) {
 *   const t: PairedImageTest | null = c.pairedTest;
 *   if (t) console.log(c.teacher, t.name, `${t.onlyDistilled} vs ${t.onlyScratch}`, t.p);
 * }
 * ```
 */
export interface PairedImageTest {
  /** E.g. "exact McNemar (predictions pooled over seeds)". */
  name: string;
  /** Image × seed pairs compared. */
  n: number;
  /** Test images per seed. */
  images: number;
  /** Seeds pooled. */
  seeds: number;
  /** Pairs only the distilled model got right. */
  onlyDistilled: number;
  /** Pairs only the scratch model got right. */
  onlyScratch: number;
  /** Two-sided p-value. */
  p: number;
}

/**
 * The CONFIRM section of one teacher: its picked configuration vs scratch on fresh seeds.
 *
 * @example Each teacher's verdict, and its gain per seed
 * ```ts
 * import { type ConfirmResult, loadSweep, writeSyntheticSweep } from "@kd/vision/report";
 *
 * const dir = await Deno.makeTempDir();
 * await writeSyntheticSweep(dir, { confirmSeeds: 3 });
 * const confirm: ConfirmResult[] = (await loadSweep(dir)).results.confirm ?? [];
 * for (const c of confirm) {
 *   console.log(c.verdict);
 *   for (const s of c.perSeed) console.log(s.seed, s.distilled.validation - s.scratch.validation);
 * }
 * ```
 */
export interface ConfirmResult {
  /** Teacher name. */
  teacher: string;
  /** Recipe arm (absent: the profile's only recipe). */
  recipe?: string;
  /** The teacher's own validation accuracy (null when unknown). */
  teacherValAccuracy?: number | null;
  /** The student's gap to the teacher: distilled mean validation accuracy − the teacher's. */
  teacherGap?: number | null;
  /** The picked temperature T. */
  temperature: number;
  /** The picked λ. */
  lambda: number;
  /** Mean validation accuracy the screen stage picked it by (optimistic: selected on it). */
  screenAccuracy: number;
  /** Seeds with both arms finished (the pairs). */
  seeds: number[];
  /** The scratch arm on validation, and on test (null without a test split). */
  scratch: { validation: ArmStats; test: ArmStats | null };
  /** The distilled arm on validation, and on test (null without a test split). */
  distilled: { validation: ArmStats; test: ArmStats | null };
  /** Distilled − scratch, paired by seed. */
  delta: { validation: ArmStats; test: ArmStats | null };
  /** Each seed's accuracy per arm and split (test null where not evaluated). */
  perSeed: {
    seed: number;
    scratch: { validation: number; test: number | null };
    distilled: { validation: number; test: number | null };
  }[];
  /** On the test split (null without one). */
  pairedTest: PairedImageTest | null;
  /**
   * The smallest validation Δ these seeds detect with 80% power at the 5% level, from the
   * measured spread of the paired Δ (`detectableDifference`); NaN below 2 seeds.
   */
  detectable80: number;
  /**
   * With two or more recipe arms: the distilled student against the strongest scratch recipe of
   * the sweep (the arm whose confirm scratch runs have the highest mean validation accuracy),
   * paired by seed on validation. Absent with one recipe.
   */
  vsStrongestScratch?: { recipe: string; accuracy: Stat };
  /** One sentence: the answer for this teacher. */
  verdict: string;
}

/**
 * `results.json`: the merged results of a sweep directory (validation rows, CONFIRM sections).
 *
 * @example Is the sweep finished, and what did it find?
 * ```ts
 * import { type SweepResults, writeSyntheticSweep } from "@kd/vision/report";
 *
 * const dir = await Deno.makeTempDir();
 * const results: SweepResults = await writeSyntheticSweep(dir, { unfinished: ["scratch-s0"] });
 * console.log(results.experiment, results.split, results.rows.length, results.pending);
 * ```
 */
export interface SweepResults {
  /** The experiment's name. */
  experiment: string;
  /** The profile run. */
  profile: string;
  /** Which split every number in `rows` comes from (the screen stage). */
  split: "validation";
  /** One row per configuration with a finished run, in grid order (scratch first). */
  rows: ResultRow[];
  /** The confirm stage per teacher (empty before it has finished runs; null without one). */
  confirm?: ConfirmResult[] | null;
  /** Whether the data has a test split (confirm runs are evaluated on it once, at the end). */
  hasTestSplit?: boolean;
  /** Runs not finished yet (the table is partial when non-empty). */
  pending: string[];
  /** When the results were merged (ISO 8601). */
  generatedAt: string;
}
