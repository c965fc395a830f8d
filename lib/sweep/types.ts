/**
 * The data model of a sweep directory, shared by the sweep runner, the results merge, the
 * HTML report and the notebooks.
 *
 * ```
 * SWEEP/sweep.json            SweepManifest (the grid; a different grid is refused)
 * SWEEP/runs/<run id>/        one training run (config.json, metrics.jsonl, final.json, best/)
 * SWEEP/results.json          SweepResults (written by the merge step)
 * SWEEP/results.csv, .md      one row per configuration
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

/** One run of the grid. */
export interface RunEntry {
  /** Stable id, also the run's folder name: `scratch-s0`, `kd-mnv2-probe-T5-l0.5-s0`. */
  id: string;
  kind: "scratch" | "distill";
  /** Teacher name (null for scratch). */
  teacher: string | null;
  temperature: number | null;
  lambda: number | null;
  seed: number;
  config: TrainConfig;
}

/** `sweep.json`. */
export interface SweepManifest {
  experiment: string;
  profile: string;
  description: string;
  teachers: TeacherEntry[];
  runs: RunEntry[];
  /** sha256 of the canonical grid; resuming with a different grid is refused. */
  gridHash: string;
}

/** One row of the results table: a configuration aggregated over seeds. */
export interface ResultRow {
  /** `scratch` or the teacher name. */
  teacher: string;
  kind: "scratch" | "distill";
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
  /** Student–teacher top-1 agreement on validation (mean over seeds). */
  agreement: number | null;
  trainTimeS: number;
  imgPerS: number;
  /** Run ids aggregated in this row. */
  runs: string[];
}

/** `results.json`. */
export interface SweepResults {
  experiment: string;
  profile: string;
  /** Which split every number in `rows` comes from. */
  split: "validation";
  rows: ResultRow[];
  /** Runs not finished yet (the table is partial when non-empty). */
  pending: string[];
  generatedAt: string;
}
