/**
 * kd-vision: knowledge distillation for computer vision. Every area's public API in one import;
 * each area is also its own entry point (`@kd/vision/data`, `/models`, `/loss`, `/metrics`,
 * `/train`, `/sweep`, `/report`, `/export`, `/hub`, `/notebook`).
 *
 * @example Distil a student on the test fixture and evaluate it
 * ```ts
 * import { evaluateModel, presetRecipe, train } from "@kd/vision";
 *
 * const out = await Deno.makeTempDir();
 * await train({
 *   ...presetRecipe("smoke"),
 *   student: "mobilenet_v2@0.35",
 *   teacher: "hf-dir:tests/fixtures/vit_tiny",
 *   data: "tests/fixtures/beans",
 *   trainSplit: "train",
 *   valSplit: "validation",
 *   seed: 0,
 * }, { out, quiet: true });
 * const evaluation = await evaluateModel({
 *   model: out,
 *   data: "tests/fixtures/beans",
 *   split: "validation",
 *   quiet: true,
 * });
 * console.log(evaluation.metrics.accuracy);
 * ```
 * @module
 */
export * from "./data/mod.ts";
export * from "./models/mod.ts";
export * from "./loss/mod.ts";
export * from "./metrics/mod.ts";
export * from "./train/mod.ts";
export * from "./sweep/mod.ts";
export * from "./report/mod.ts";
export * from "./export/mod.ts";
export * from "./hub/mod.ts";
export * from "./notebook/mod.ts";
export { type FlagHint, type Hint, UserError } from "./core/errors.ts";
