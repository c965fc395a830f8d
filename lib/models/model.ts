/**
 * The contract every model in the toolkit fulfils: students, ViT teachers and CNN teachers
 * alike. Trainers, the logit cache, checkpoints and the registry speak only this interface.
 * @module
 */
import type * as tf from "../tf.ts";

/** How a model expects its input images to be prepared (ViTImageProcessor-style). */
export interface InputSpec {
  /** Square side in pixels. */
  size: number;
  /** Per-channel mean and std applied after scaling to [0, 1]. */
  mean: [number, number, number];
  std: [number, number, number];
}

/** JSON-serialisable description sufficient to rebuild the model's architecture. */
export interface ModelConfig {
  /** Registry kind, e.g. "mobilenet_v2", "vit", "layers_backbone". */
  kind: string;
  numLabels: number;
  /** Class names in label order, when known. */
  labels?: string[];
  [key: string]: unknown;
}

/** An image classifier whose state is a flat map of named variables. */
export interface Classifier {
  /** Architecture description; saved as config.json beside the weights. */
  readonly config: ModelConfig;
  /** Input preparation the model was trained with. */
  readonly input: InputSpec;
  /** Variables the optimizer updates, by stable name. */
  trainableVariables(): Map<string, tf.Variable>;
  /** Every variable that defines the model (weights and buffers such as BN running stats). */
  stateVariables(): Map<string, tf.Variable>;
  /** Logits `[batch, numLabels]` from NHWC float32 input; `training` enables dropout and BN batch stats. */
  apply(x: tf.Tensor4D, opts?: { training?: boolean }): tf.Tensor2D;
  /** Release all variables. */
  dispose(): void;
}
