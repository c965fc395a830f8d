/**
 * Datasets: beans (or any folder of Parquet files or class sub-folders) loaded, resized and
 * cached in memory, split by split, with the Hugging Face `ViTImageProcessor` preprocessing.
 *
 * @example Load the validation split of the test fixture at 32 px
 * ```ts
 * import { loadSplit } from "@kd/vision/data";
 *
 * const val = await loadSplit({
 *   data: "tests/fixtures/beans",
 *   split: "validation",
 *   preprocess: { size: 32 },
 *   quiet: true,
 * });
 * console.log(val.n, val.classNames); // 15 [ "angular_leaf_spot", "bean_rust", "healthy" ]
 * ```
 * @module
 */
export { imagePixels, type ImageSplit, loadSplit, type LoadSplitOptions } from "./dataset.ts";
export { resolveSplit } from "./resolve.ts";
export type { SplitSource } from "./source.ts";
export { datasetInfo, type SplitInfo } from "./info.ts";
export {
  decodeRGB,
  normalizeInto,
  type PreprocessOptions,
  preprocessOptions,
  resizeRGB,
  type RgbImage,
  VIT_PREPROCESS,
} from "./preprocess.ts";
