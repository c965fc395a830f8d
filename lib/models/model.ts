/**
 * The contract every model in the toolkit fulfils: students, ViT teachers and CNN teachers
 * alike. Trainers, the logit cache, checkpoints and the registry speak only this interface.
 * @module
 */
import type { Tensor2D, Tensor4D, Variable } from "../core/tf_types.ts";
import type { FlagHint } from "../core/errors.ts";

/**
 * How a model expects its input images to be prepared (ViTImageProcessor-style): resized to
 * `size`², scaled to [0, 1], then `(x - mean) / std` per RGB channel.
 *
 * @example Load a split prepared the way a model expects
 * ```ts
 * import { loadSplit } from "@kd/vision/data";
 * import { createModel, type InputSpec } from "@kd/vision/models";
 *
 * const model = await createModel("mobilenet_v2@0.35", { numLabels: 3, imageSize: 32 });
 * const input: InputSpec = model.input;
 * const val = await loadSplit({
 *   data: "tests/fixtures/beans",
 *   split: "validation",
 *   preprocess: input,
 *   quiet: true,
 * });
 * console.log(input.size, val.size); // 32 32
 * model.dispose();
 * ```
 */
export interface InputSpec {
  /** Square side in pixels. */
  size: number;
  /** Per-channel (RGB) mean subtracted after scaling to [0, 1]. */
  mean: [number, number, number];
  /** Per-channel (RGB) standard deviation the centred values are divided by. */
  std: [number, number, number];
}

/**
 * JSON-serialisable description sufficient to rebuild the model's architecture.
 *
 * @example What a fresh student saves as `config.json`
 * ```ts
 * import { createModel, type ModelConfig } from "@kd/vision/models";
 *
 * const model = await createModel("mobilenet_v2@0.35", {
 *   numLabels: 3,
 *   labels: ["angular_leaf_spot", "bean_rust", "healthy"],
 *   imageSize: 32,
 * });
 * const config: ModelConfig = model.config;
 * console.log(config.kind, config.numLabels, config.labels, config.depthMultiplier);
 * model.dispose();
 * ```
 */
export interface ModelConfig {
  /** Registry kind, e.g. "mobilenet_v2", "vit", "layers_backbone". */
  kind: string;
  /** Size of the classification head: the number of classes. */
  numLabels: number;
  /** Class names in label order, when known. */
  labels?: string[];
  /** The architecture's own options (e.g. MobileNetV2's `depthMultiplier`), per kind. */
  [key: string]: unknown;
}

/**
 * An image classifier whose state is a flat map of named variables. Tensors are TensorFlow.js's
 * (`@tensorflow/tfjs`).
 *
 * @example Logits of a batch, and the variables an optimizer would update
 * ```ts
 * import { type Classifier, createModel } from "@kd/vision/models";
 * import * as tf from "@tensorflow/tfjs";
 *
 * const model: Classifier = await createModel("mobilenet_v2@0.35", {
 *   numLabels: 3,
 *   imageSize: 32,
 * });
 * const logits = model.apply(tf.zeros([2, 32, 32, 3]) as tf.Tensor4D);
 * console.log(logits.shape, model.trainableVariables().size); // [ 2, 3 ] …
 * model.dispose();
 * ```
 */
export interface Classifier {
  /** Architecture description; saved as config.json beside the weights. */
  readonly config: ModelConfig;
  /** Input preparation the model was trained with. */
  readonly input: InputSpec;
  /** Variables the optimizer updates, by stable name. */
  trainableVariables(): Map<string, Variable>;
  /** Every variable that defines the model (weights and buffers such as BN running stats). */
  stateVariables(): Map<string, Variable>;
  /** Logits `[batch, numLabels]` from NHWC float32 input; `training` enables dropout and BN batch stats. */
  apply(x: Tensor4D, opts?: { training?: boolean }): Tensor2D;
  /** Release all variables. */
  dispose(): void;
}

/** The fix for a model whose classifier head does not fit the data, on commands with --reinit-head. */
export const REINIT_HEAD_HINT: FlagHint = {
  flag: "reinit-head",
  text: "pass --reinit-head to train a new random head",
};
