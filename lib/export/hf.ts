/**
 * A MobileNetV2 student as the folder `MobileNetV2ForImageClassification.save_pretrained` writes:
 * `config.json` (every `MobileNetV2Config` field, sorted keys, Python float formatting),
 * `model.safetensors` (HF tensor names, PyTorch layouts, BN buffers including the I64
 * `num_batches_tracked`, `__metadata__ = {"format": "pt"}`) and a `preprocessor_config.json` that
 * makes `AutoImageProcessor` reproduce the student's own preprocessing.
 * @module
 */
import * as tf from "../tf.ts";
import type { InputSpec } from "../models/model.ts";
import type { MobileNetV2, MobileNetV2Options } from "../models/mobilenet_v2.ts";
import { encodeSafetensors, type WritableTensor } from "../models/safetensors.ts";
import { layoutOf, toTorch } from "../models/torch_layout.ts";
import { pythonJson } from "./py_json.ts";

/** The transformers release whose `save_pretrained` output these files follow. */
export const TRANSFORMERS_VERSION = "4.46.3";

/** PIL's `Image.BILINEAR`, the resample code transformers stores. */
export const PIL_BILINEAR = 2;

/** `MobileNetV2Config` fields that Python holds as floats. */
const FLOAT_KEYS = new Set([
  "depth_multiplier",
  "expand_ratio",
  "classifier_dropout_prob",
  "initializer_range",
  "layer_norm_eps",
  "rescale_factor",
  "image_mean",
  "image_std",
]);

/** Class names of a model in label order (`LABEL_i`, transformers' default, when unknown). */
export function labelNames(model: { config: { numLabels: number; labels?: string[] } }): string[] {
  const { numLabels, labels } = model.config;
  return labels?.length === numLabels
    ? labels
    : Array.from({ length: numLabels }, (_, i) => `LABEL_${i}`);
}

/** The `config.json` object `save_pretrained` writes for this model. */
export function hfConfig(model: MobileNetV2): Record<string, unknown> {
  const c = model.config as unknown as Required<MobileNetV2Options>;
  const labels = labelNames(model);
  return {
    architectures: ["MobileNetV2ForImageClassification"],
    model_type: "mobilenet_v2",
    num_channels: c.numChannels,
    image_size: c.imageSize,
    depth_multiplier: c.depthMultiplier,
    depth_divisible_by: c.depthDivisibleBy,
    min_depth: c.minDepth,
    expand_ratio: c.expandRatio,
    output_stride: c.outputStride,
    first_layer_is_expansion: c.firstLayerIsExpansion,
    finegrained_output: c.finegrainedOutput,
    // The only activation the student implements (HF's default).
    hidden_act: "relu6",
    tf_padding: c.tfPadding,
    classifier_dropout_prob: c.classifierDropoutProb,
    initializer_range: c.initializerRange,
    layer_norm_eps: c.layerNormEps,
    semantic_loss_ignore_index: 255,
    id2label: Object.fromEntries(labels.map((l, i) => [String(i), l])),
    label2id: Object.fromEntries(labels.map((l, i) => [l, i])),
    torch_dtype: "float32",
    transformers_version: TRANSFORMERS_VERSION,
  };
}

/** `config.json` text, byte-compatible with transformers' writer. */
export function hfConfigJson(model: MobileNetV2): string {
  return pythonJson(hfConfig(model), FLOAT_KEYS) + "\n";
}

/**
 * The `preprocessor_config.json` object: a `ViTImageProcessor` (plain resize to the model's
 * square size, PIL bilinear, `x/255`, `(x - mean)/std`), which is exactly how the toolkit
 * prepares images; MobileNetV2's own processor would resize the short side and center-crop.
 */
export function hfPreprocessorConfig(input: InputSpec): Record<string, unknown> {
  return {
    image_processor_type: "ViTImageProcessor",
    do_resize: true,
    size: { height: input.size, width: input.size },
    resample: PIL_BILINEAR,
    do_rescale: true,
    rescale_factor: 1 / 255,
    do_normalize: true,
    image_mean: [...input.mean],
    image_std: [...input.std],
  };
}

/** `preprocessor_config.json` text. */
export function hfPreprocessorJson(input: InputSpec): string {
  return pythonJson(hfPreprocessorConfig(input), FLOAT_KEYS) + "\n";
}

/** A `num_batches_tracked` buffer: its value and shape (`[]` in PyTorch; some files hold `[1]`). */
export interface BatchesTracked {
  value: bigint;
  shape: number[];
}

/**
 * Every tensor of the HF state dict in PyTorch layout. `numBatchesTracked(name)` gives the buffer
 * for each BN prefix (e.g. carried over from the source checkpoint, or the run's step count).
 */
export function hfStateDict(
  model: MobileNetV2,
  numBatchesTracked: (bnPrefix: string) => BatchesTracked,
): Map<string, WritableTensor> {
  const out = new Map<string, WritableTensor>();
  for (const [name, v] of model.stateVariables()) {
    const layout = model.isDepthwise(name) ? "depthwise" : layoutOf(v);
    const t = tf.tidy(() => toTorch(v, layout));
    out.set(name, { shape: t.shape, data: t.dataSync() as Float32Array });
    t.dispose();
    const bn = /^(.*\.normalization)\.running_mean$/.exec(name);
    if (bn) {
      const b = numBatchesTracked(bn[1]);
      out.set(`${bn[1]}.num_batches_tracked`, {
        shape: b.shape,
        data: BigInt64Array.of(b.value),
      });
    }
  }
  return out;
}

/** `model.safetensors` bytes as transformers writes them (`__metadata__.format = "pt"`). */
export function hfSafetensors(
  model: MobileNetV2,
  numBatchesTracked: (bnPrefix: string) => BatchesTracked,
): Uint8Array {
  return encodeSafetensors(hfStateDict(model, numBatchesTracked), { format: "pt" });
}
