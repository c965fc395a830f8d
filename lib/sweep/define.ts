/**
 * What an experiment script exports: a sweep definition, i.e. the teacher axis and, per
 * profile, the recipe and the temperature × λ × seed grid. `deno task sweep` expands it.
 * @module
 */
import type { Recipe } from "../presets.ts";

/** How to obtain one teacher of the teacher axis. */
export interface TeacherSource {
  /** Short name for run ids and tables. */
  name: string;
  /** A registry spec usable as is (`hf:ORG/NAME`, `hf-dir:PATH`, `dir:PATH`). */
  spec?: string;
  /** Or build it offline from a pretrained backbone with `deno task teacher` settings. */
  build?: {
    /** tfjs LayersModel folder (e.g. `../shared/models/mobilenet_v2_1.0_224_imagenet`). */
    from: string;
    /** Extra `deno task teacher` flags, e.g. `["--train-fraction", "0.1"]`. */
    args?: string[];
  };
  /** Needs the Hugging Face hub; skipped with one line when it is unreachable. */
  needsHub?: boolean;
  /** One line on what makes this teacher different (shown in reports). */
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
  temperatures: number[];
  lambdas: number[];
  seeds: number[];
  /** Teacher names to use (default: all of the definition's teachers). */
  teachers?: string[];
  /** Extra `deno task teacher` flags applied to every built teacher in this profile. */
  teacherArgs?: string[];
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

/** Identity helper that gives experiment files type checking. */
export function defineSweep(def: SweepDefinition): SweepDefinition {
  return def;
}
