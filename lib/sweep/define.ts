/**
 * What an experiment script exports: a sweep definition, i.e. the teacher axis and, per
 * profile, the recipe and the temperature × λ × seed grid, optionally crossed with recipe arms
 * (method, augmentation, epochs, teacher views, ...). `deno task sweep` expands it.
 * @module
 */
import type { Recipe } from "../presets.ts";
import type { TeacherSettings } from "../teacher/build.ts";

/** How to obtain one teacher of the teacher axis. */
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
 * @example Two arms crossed with the teachers: today's recipe and DKD
 * ```ts
 * import { defineSweep, type SweepArm } from "@kd/vision/sweep";
 *
 * const arms: SweepArm[] = [
 *   { name: "today", note: "the profile's recipe" },
 *   { name: "dkd", overrides: { method: "dkd", dkdBeta: 8 }, note: "decoupled KD" },
 * ];
 * export const sweep = defineSweep({
 *   name: "tiny-arms",
 *   description: "Hinton KD vs DKD from the tiny ViT, each against its own scratch",
 *   teachers: [{ name: "vit-tiny", spec: "hf-dir:tests/fixtures/vit_tiny" }],
 *   profiles: {
 *     smoke: {
 *       preset: "smoke",
 *       student: "mobilenet_v2@0.35",
 *       arms,
 *       temperatures: [5],
 *       lambdas: [0.5],
 *       seeds: [0],
 *     },
 *   },
 * });
 * ```
 */
export interface SweepArm {
  /** Short name for run ids and tables (letters, digits, `-`). */
  name: string;
  /** Another preset for this arm (default: the profile's). */
  preset?: string;
  /** Changes on top of the profile's recipe, e.g. `{ method: "dkd" }`, `{ augment: "flip" }`. */
  overrides?: Partial<Recipe>;
  /** This arm's temperatures and λ values (default: the profile's). */
  temperatures?: number[];
  lambdas?: number[];
  /** One line on what the arm tests (shown in reports). */
  note?: string;
}

/** The grid and recipe of one profile (`full`, `cpu`, `smoke`, ...). */
export interface SweepProfile {
  /** Base recipe (a preset name from `lib/presets.ts`) ... */
  preset: string;
  /** ... and what this profile changes in it. */
  overrides?: Partial<Recipe>;
  /** Student registry spec, e.g. `mobilenet_v2` or `mobilenet_v2@0.5`. */
  student: string;
  /** Recipe arms crossed with the teachers (absent: one arm, the profile's recipe). */
  arms?: SweepArm[];
  temperatures: number[];
  lambdas: number[];
  /** Seeds of the screen stage. */
  seeds: number[];
  /**
   * Fresh seeds per arm in the confirm stage (scratch and each teacher's best screen
   * configuration); 0 or absent: no confirm stage.
   */
  confirmSeeds?: number;
  /** Teacher names to use (default: all of the definition's teachers). */
  teachers?: string[];
  /** Teacher settings applied to every built teacher in this profile (e.g. `maxImages`). */
  teacherSettings?: Partial<TeacherSettings>;
  /** Rough wall-clock budget, shown on the first line. */
  budget?: string;
}

/** What an experiment module exports as `sweep`. */
export interface SweepDefinition {
  name: string;
  description: string;
  teachers: TeacherSource[];
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
