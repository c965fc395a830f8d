/**
 * Export: a trained MobileNetV2 student as a folder transformers loads (`hf`) or a TensorFlow.js
 * web model (`tfjs`).
 *
 * @example Export the tiny MobileNetV2 fixture for transformers
 * ```ts
 * import { exportModel } from "@kd/vision/export";
 *
 * const out = await Deno.makeTempDir();
 * const result = await exportModel({
 *   model: "hf-dir:tests/fixtures/mobilenet_v2_tiny",
 *   format: "hf",
 *   out,
 *   force: true,
 *   quiet: true,
 * });
 * console.log(result.files.map((f) => f.name));
 * ```
 * @module
 */
export {
  EXPORT_FORMATS,
  type ExportFormat,
  exportModel,
  type ExportOptions,
  type ExportResult,
} from "./export.ts";
