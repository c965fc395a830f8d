/**
 * Sweeps: an experiment is a module exporting `sweep = defineSweep({...})` (teachers × T × λ per
 * profile); `runSweep` trains its screen and confirm stages, resumably and shareably.
 *
 * @example A one-profile experiment
 * ```ts
 * import { defineSweep } from "@kd/vision/sweep";
 *
 * export const sweep = defineSweep({
 *   name: "my-sweep",
 *   description: "scratch vs the tiny ViT at T=5",
 *   teachers: [{ name: "vit-tiny", spec: "hf-dir:tests/fixtures/vit_tiny" }],
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
 * ```
 * @module
 */
export {
  defineSweep,
  type SweepArm,
  type SweepDefinition,
  type SweepProfile,
  type TeacherSource,
} from "./define.ts";
export { runSweep, type SweepOptions } from "./run.ts";
export { threadsPerJob } from "./jobs.ts";
