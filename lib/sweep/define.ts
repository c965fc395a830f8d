/**
 * What an experiment script exports: a sweep definition, i.e. the teacher axis and, per
 * profile, the recipe and the temperature × λ × seed grid, optionally crossed with recipe arms
 * (method, augmentation, epochs, teacher views, ...). `deno task sweep` expands it.
 * @module
 */
import type { Recipe } from "../presets.ts";
import type { TeacherSettings } from "../teacher/build.ts";

/**
 * How to obtain one teacher of the teacher axis: a spec to load, or a recipe to build one.
 *
 * @example A ready teacher and one the sweep builds (a weaker probe, on a tenth of train)
 * ```ts
 * import { defineSweep, type TeacherSource } from "@kd/vision/sweep";
 *
 * const teachers: TeacherSource[] = [
 *   { name: "vit-tiny", spec: "hf-dir:tests/fixtures/vit_tiny" },
 *   {
 *     name: "probe-f0.1",
 *     build: { from: "hf-dir:tests/fixtures/mobilenet_v2_tiny", settings: { trainFraction: 0.1 } },
 *     note: "linear probe on 10% of train",
 *   },
 * ];
 * // An experiment file exports this as `sweep`.
 * const sweep = defineSweep({
 *   name: "teacher-strength",
 *   description: "does a weaker teacher still help?",
 *   teachers,
 *   profiles: {
 *     smoke: {
 *       preset: "smoke",
 *       student: "mobilenet_v2@0.35",
 *       temperatures: [5],
 *       lambdas: [0.5],
 *       seeds: [0],
 *     },
 *   },
 * });
 * console.log(sweep.teachers.map((t) => t.name));
 * ```
 */
export interface TeacherSource {
  /** Short name for run ids and tables. */
  name: string;
  /**
   * A registry spec usable as is (`hf:ORG/NAME[@REV]`, `hf-dir:PATH`, `dir:PATH`); hub models
   * are fetched into the Hugging Face cache before the first run.
   */
  spec?: string;
  /** Or build it from a pretrained backbone (`buildTeacher`), once per sweep directory. */
  build?: {
    /**
     * Backbone spec (default `hf:google/mobilenet_v2_1.0_224`); `--backbone`/`KD_BACKBONE`
     * replaces it for every built teacher.
     */
    from?: string;
    /** Teacher settings, e.g. `{ trainFraction: 0.1, featuresFrom: "block:1" }`. */
    settings?: Partial<TeacherSettings>;
  };
  /** One line on what makes this teacher different (shown in reports). */
  note?: string;
}

/**
 * One recipe arm of a profile: what it changes in the profile's recipe. Each arm has its own
 * scratch baseline trained with the same recipe (augmentation, schedule, views), so its Δ
 * measures the teaching, not the recipe.
 *
 * @example Plain KD against DKD with its own temperatures
 * ```ts
 * import type { SweepArm } from "@kd/vision/sweep";
 *
 * const arms: SweepArm[] = [
 *   { name: "kd" },
 *   { name: "dkd", overrides: { method: "dkd" }, temperatures: [1, 4], note: "Decoupled KD" },
 * ];
 * console.log(arms.map((a) => a.name));
 * ```
 */
export interface SweepArm {
  /** Short name for run ids and tables (letters, digits, `-`). */
  name: string;
  /**
   * Another preset for this arm (default: the profile's). The profile's `overrides` still apply
   * on top of it: a profile that mixes presets keeps recipe changes in a preset, not in `overrides`.
   */
  preset?: string;
  /** Changes on top of the profile's recipe, e.g. `{ method: "dkd" }`, `{ augment: "flip" }`. */
  overrides?: Partial<Recipe>;
  /** This arm's temperatures (default: the profile's). */
  temperatures?: number[];
  /** This arm's λ values (default: the profile's). */
  lambdas?: number[];
  /** One line on what the arm tests (shown in reports). */
  note?: string;
}

/**
 * The grid and recipe of one profile (`full`, `cpu`, `smoke`, ...).
 *
 * @example A screen of 2 temperatures × 2 λ on 2 seeds, then 3 fresh seeds to confirm the best
 * ```ts
 * import type { SweepProfile } from "@kd/vision/sweep";
 *
 * const cpu: SweepProfile = {
 *   preset: "cpu-fast",
 *   overrides: { epochs: 10 },
 *   student: "mobilenet_v2@0.35",
 *   temperatures: [2, 5],
 *   lambdas: [0.5, 0.9],
 *   seeds: [0, 1],
 *   confirmSeeds: 3,
 *   budget: "≈ 1 h on 8 CPU cores",
 * };
 * const screenRuns = (1 + 2 * 2) * cpu.seeds.length; // scratch + T × λ per seed, one teacher
 * console.log(screenRuns);
 * ```
 */
export interface SweepProfile {
  /** Base recipe (a preset name from `lib/presets.ts`) ... */
  preset: string;
  /** ... and what this profile changes in it. */
  overrides?: Partial<Recipe>;
  /** Student registry spec, e.g. `mobilenet_v2` or `mobilenet_v2@0.5`. */
  student: string;
  /** Recipe arms crossed with the teachers (absent: one arm, the profile's recipe). */
  arms?: SweepArm[];
  /** Softmax temperatures T of the screen grid. */
  temperatures: number[];
  /** Weights λ of the distillation term in the screen grid. */
  lambdas: number[];
  /** Seeds of the screen stage. */
  seeds: number[];
  /**
   * Fresh seeds per arm in the confirm stage (scratch and each teacher's best screen
   * configuration); 0 or absent: no confirm stage.
   */
  confirmSeeds?: number;
  /**
   * The first confirm seed (default and minimum 1000): a later value replicates a finished
   * sweep on fresh seeds it has not used, e.g. 1006 after 6 confirm seeds.
   */
  confirmSeedStart?: number;
  /** Teacher names to use (default: all of the definition's teachers). */
  teachers?: string[];
  /** Teacher settings applied to every built teacher in this profile (e.g. `maxImages`). */
  teacherSettings?: Partial<TeacherSettings>;
  /** Rough wall-clock budget, shown before the sweep builds or trains anything. */
  budget?: string;
}

/**
 * What an experiment module exports as `sweep`.
 *
 * @example Check a loaded experiment's profiles before running it
 * ```ts
 * import type { SweepDefinition } from "@kd/vision/sweep";
 *
 * const file = `file://${Deno.cwd()}/tests/fixtures/tiny-sweep.ts`;
 * const { sweep } = await import(file) as { sweep: SweepDefinition };
 * console.log(sweep.name, Object.keys(sweep.profiles), sweep.teachers.map((t) => t.name));
 * ```
 */
export interface SweepDefinition {
  /** The experiment's name: the default sweep directory is `runs/sweeps/<name>-<profile>`. */
  name: string;
  /** One line on the question the experiment answers (shown in reports). */
  description: string;
  /** The teacher axis: every profile uses these unless it names a subset. */
  teachers: TeacherSource[];
  /** The profiles by name (`deno task sweep --profile NAME`). */
  profiles: Record<string, SweepProfile>;
}

/**
 * Identity helper that gives experiment files type checking.
 *
 * @example An experiment module (experiments/YYYY-MM-DD-name.ts)
 * ```ts
 * import { defineSweep } from "@kd/vision/sweep";
 *
 * export const sweep = defineSweep({
 *   name: "tiny-vit-sweep",
 *   description: "scratch vs the tiny ViT fixture at T = 2 and 5",
 *   teachers: [{ name: "vit-tiny", spec: "hf-dir:tests/fixtures/vit_tiny" }],
 *   profiles: {
 *     smoke: {
 *       preset: "smoke",
 *       student: "mobilenet_v2@0.35",
 *       temperatures: [2, 5],
 *       lambdas: [0.5],
 *       seeds: [0],
 *     },
 *   },
 * });
 * ```
 */
export function defineSweep(def: SweepDefinition): SweepDefinition {
  return def;
}
