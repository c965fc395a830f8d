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

/** A teacher on the sweep's teacher axis. */
export interface TeacherEntry {
  /** Short name used in run ids and tables, e.g. `mnv2-probe`. */
  name: string;
  /** Registry spec the runs use, e.g. `dir:data/teachers/mnv2-probe`. */
  spec: string;
  /** Validation accuracy of the teacher itself (filled in when known). */
  valAccuracy?: number | null;
}

/** `screen`: the grid, a few seeds; `confirm`: the picked configurations on fresh seeds. */
export type RunStage = "screen" | "confirm";

/** One run of the grid. */
export interface RunEntry {
  /** Stable id, also the run's folder name: `scratch-s0`, `kd-mnv2-probe-T5-l0.5-s0`. */
  id: string;
  /** Which stage the run belongs to (absent in directories made before stages: screen). */
  stage?: RunStage;
  kind: "scratch" | "distill";
  /** Recipe arm name (absent: the profile's only recipe). */
  recipe?: string;
  /** Teacher name (null for scratch). */
  teacher: string | null;
  temperature: number | null;
  lambda: number | null;
  seed: number;
  config: TrainConfig;
}

/** The configuration the screen stage picked for one teacher. */
export interface ConfirmPick {
  teacher: string;
  /** Recipe arm (absent: the profile's only recipe). */
  recipe?: string;
  temperature: number;
  lambda: number;
  /** Its mean validation accuracy over the screen seeds (what it was picked by). */
  screenAccuracy: number;
  screenSeeds: number[];
}

/** The confirm stage as recorded in `sweep.json` once the screen stage finished. */
export interface ConfirmPlan {
  picks: ConfirmPick[];
  /** Fresh seeds, shared by scratch and every pick (pairs by seed). */
  seeds: number[];
  /** Screen run ids the picks were computed from. */
  fromRuns: string[];
  selectedAt: string;
}

/** `sweep.json`. */
export interface SweepManifest {
  experiment: string;
  profile: string;
  description: string;
  teachers: TeacherEntry[];
  runs: RunEntry[];
  /** sha256 of the canonical screen grid; resuming with a different grid is refused. */
  gridHash: string;
  /** sha256 of each split's files: resuming on other data is refused. */
  data?: Record<string, string>;
  /** The confirm stage, once selected (null before the screen stage finished). */
  confirm?: ConfirmPlan | null;
}

/** One row of the results table: a configuration aggregated over seeds. */
export interface ResultRow {
  /** `scratch` or the teacher name. */
  teacher: string;
  kind: "scratch" | "distill";
  /** Recipe arm (absent: the profile's only recipe); Δ is against scratch of the same arm. */
  recipe?: string;
  temperature: number | null;
  lambda: number | null;
  seeds: number[];
  /** Validation accuracy / macro-F1 of each run's best epoch (selection on validation). */
  accuracy: Stat;
  macroF1: Stat;
  /** Paired by seed against scratch (same init, same data order); null for scratch. */
  deltaAccuracy: Stat | null;
  deltaMacroF1: Stat | null;
  teacherValAccuracy: number | null;
  /** Student − teacher validation accuracy (mean over seeds; null for scratch). */
  teacherGap?: number | null;
  /** Student–teacher top-1 agreement on validation (mean over seeds). */
  agreement: number | null;
  trainTimeS: number;
  imgPerS: number;
  /** Run ids aggregated in this row. */
  runs: string[];
}

/** Accuracy and macro-F1 of one arm on one split, over the confirm seeds. */
export interface ArmStats {
  accuracy: Stat;
  macroF1: Stat;
}

/** A paired per-image test on the test split between the distilled and the scratch arm. */
export interface PairedImageTest {
  /** E.g. "exact McNemar (predictions pooled over seeds)". */
  name: string;
  /** Image × seed pairs compared. */
  n: number;
  images: number;
  seeds: number;
  /** Pairs only the distilled model got right / only scratch got right. */
  onlyDistilled: number;
  onlyScratch: number;
  p: number;
}

/** The CONFIRM section of one teacher: its picked configuration vs scratch on fresh seeds. */
export interface ConfirmResult {
  teacher: string;
  /** Recipe arm (absent: the profile's only recipe). */
  recipe?: string;
  /** The teacher's own validation accuracy, and the student's gap to it (distilled mean − it). */
  teacherValAccuracy?: number | null;
  teacherGap?: number | null;
  temperature: number;
  lambda: number;
  /** Mean validation accuracy the screen stage picked it by (optimistic: selected on it). */
  screenAccuracy: number;
  /** Seeds with both arms finished (the pairs). */
  seeds: number[];
  scratch: { validation: ArmStats; test: ArmStats | null };
  distilled: { validation: ArmStats; test: ArmStats | null };
  /** Distilled − scratch, paired by seed. */
  delta: { validation: ArmStats; test: ArmStats | null };
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
  /** One sentence: the answer for this teacher. */
  verdict: string;
}

/** `results.json`. */
export interface SweepResults {
  experiment: string;
  profile: string;
  /** Which split every number in `rows` comes from (the screen stage). */
  split: "validation";
  rows: ResultRow[];
  /** The confirm stage per teacher (empty before it has finished runs; null without one). */
  confirm?: ConfirmResult[] | null;
  /** Whether the data has a test split (confirm runs are evaluated on it once, at the end). */
  hasTestSplit?: boolean;
  /** Runs not finished yet (the table is partial when non-empty). */
  pending: string[];
  generatedAt: string;
}
