/**
 * Models: one registry of model specs (`mobilenet_v2@0.5`, `hf:ORG/NAME`, `hf-dir:PATH`,
 * `tfjs-dir:PATH`, `dir:PATH`), loading, inference over a split, parameter counts, and
 * teachers built from a pretrained backbone.
 *
 * @example A fresh MobileNetV2 ×0.35 student for three classes at 32 px
 * ```ts
 * import { countParams, createModel } from "@kd/vision/models";
 *
 * const student = await createModel("mobilenet_v2@0.35", { numLabels: 3, imageSize: 32 });
 * console.log(countParams(student)); // 399971
 * student.dispose();
 * ```
 * @module
 */
export type { Classifier, InputSpec, ModelConfig } from "./model.ts";
export { createModel, type CreateOptions, loadModel } from "./registry.ts";
export type { MobileNetV2Options } from "./mobilenet_v2.ts";
export { countParams } from "./cost.ts";
export { predictLogits } from "../predict.ts";
export {
  buildTeacher,
  type BuildTeacherOptions,
  type TeacherResult,
  type TeacherSettings,
} from "../teacher/build.ts";
