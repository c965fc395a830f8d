/**
 * Learning-rate schedules as pure functions of the optimizer step, so a resumed run gets
 * exactly the rate an uninterrupted one would.
 * @module
 */
import { UserError } from "./core/errors.ts";

/**
 * Schedule names accepted by `--schedule`.
 *
 * @example The learning-rate schedules a recipe can name
 * ```ts
 * import { SCHEDULES } from "@kd/vision/train";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals([...SCHEDULES], ["constant", "linear", "cosine"]);
 * ```
 */
export const SCHEDULES = ["constant", "linear", "cosine"] as const;
/**
 * One of {@linkcode SCHEDULES}: after the warm-up, `constant` keeps the peak rate, `linear` and
 * `cosine` decay it to 0 by the end of training.
 *
 * @example A recipe with a cosine decay
 * ```ts
 * import { presetRecipe, type ScheduleName } from "@kd/vision/train";
 *
 * const schedule: ScheduleName = "cosine";
 * console.log({ ...presetRecipe("smoke"), schedule }.schedule);
 * ```
 */
export type ScheduleName = typeof SCHEDULES[number];

/** Settings of a schedule. */
export interface ScheduleOptions {
  name: ScheduleName;
  /** Peak learning rate. */
  lr: number;
  totalSteps: number;
  /** Linear warm-up steps from 0 to `lr`. */
  warmupSteps?: number;
}

/** Learning rate for 0-based `step` (HF semantics: linear decays to 0 at `totalSteps`). */
export function learningRate(step: number, opts: ScheduleOptions): number {
  const warmup = opts.warmupSteps ?? 0;
  if (step < warmup) return (opts.lr * step) / Math.max(1, warmup);
  const decaySteps = Math.max(1, opts.totalSteps - warmup);
  const progress = Math.min(1, (step - warmup) / decaySteps);
  switch (opts.name) {
    case "constant":
      return opts.lr;
    case "linear":
      return opts.lr * (1 - progress);
    case "cosine":
      return opts.lr * 0.5 * (1 + Math.cos(Math.PI * progress));
  }
}

/** Parse and validate a schedule name. */
export function parseSchedule(name: string): ScheduleName {
  if (!(SCHEDULES as readonly string[]).includes(name)) {
    throw new UserError(`--schedule must be one of ${SCHEDULES.join(", ")}, got "${name}"`);
  }
  return name as ScheduleName;
}
