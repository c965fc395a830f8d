/**
 * Bounds on every size a model config can set, checked when the config is read: a hand-edited
 * or hostile `config.json` (`depth_multiplier: 1e9`, `num_hidden_layers: 1e9`) would otherwise
 * end in a RangeError deep in tensor allocation, or run for minutes building a model that can
 * never fit in memory. The bounds are generous (several times the largest published models of
 * each family); the error names the file and the key.
 * @module
 */
import { UserError } from "../core/errors.ts";
import { MAX_IMAGE_SIZE } from "../data/preprocess.ts";

/** One bound: `[min, max]`, integer or not, `min` exclusive for rates that must be > 0. */
export interface Bound {
  min: number;
  max: number;
  integer?: boolean;
  /** `min` itself is not allowed (a rate or scale that must be > min). */
  above?: boolean;
}

const int = (min: number, max: number): Bound => ({ min, max, integer: true });
const above = (min: number, max: number): Bound => ({ min, max, above: true });

/** Labels a head may have (ImageNet-21k has 21,843). */
export const MAX_LABELS = 100_000;

/** Largest model this toolkit builds (ViT-H/14 has 632 M parameters; float32: 4 GB). */
export const MAX_PARAMETERS = 1_000_000_000;

/** HF `MobileNetV2Config` keys (snake_case, as in an HF `config.json`). */
export const MOBILENET_V2_HF_BOUNDS: Record<string, Bound> = {
  num_labels: int(1, MAX_LABELS),
  num_channels: int(1, 16),
  image_size: int(1, MAX_IMAGE_SIZE),
  // Published widths are 0.35–1.4; 4 already means 16× the parameters of the 1.0 network.
  depth_multiplier: above(0, 4),
  depth_divisible_by: int(1, 256),
  min_depth: int(1, 1024),
  expand_ratio: above(0, 16),
  output_stride: int(1, 64),
  classifier_dropout_prob: { min: 0, max: 1 },
  initializer_range: above(0, 10),
  layer_norm_eps: above(0, 1),
};

/** HF `ViTConfig` keys (snake_case). */
export const VIT_HF_BOUNDS: Record<string, Bound> = {
  num_labels: int(1, MAX_LABELS),
  num_channels: int(1, 16),
  image_size: int(1, MAX_IMAGE_SIZE),
  patch_size: int(1, MAX_IMAGE_SIZE),
  // ViT-22B: hidden 6144, 48 layers, 48 heads, MLP 24576.
  hidden_size: int(1, 8192),
  num_hidden_layers: int(1, 128),
  num_attention_heads: int(1, 256),
  intermediate_size: int(1, 32768),
  initializer_range: above(0, 10),
  layer_norm_eps: above(0, 1),
};

/** The same bounds under the camelCase names a toolkit-saved `config.json` uses. */
export const MOBILENET_V2_SAVED_BOUNDS: Record<string, Bound> = {
  numLabels: MOBILENET_V2_HF_BOUNDS.num_labels,
  numChannels: MOBILENET_V2_HF_BOUNDS.num_channels,
  imageSize: MOBILENET_V2_HF_BOUNDS.image_size,
  depthMultiplier: MOBILENET_V2_HF_BOUNDS.depth_multiplier,
  depthDivisibleBy: MOBILENET_V2_HF_BOUNDS.depth_divisible_by,
  minDepth: MOBILENET_V2_HF_BOUNDS.min_depth,
  expandRatio: MOBILENET_V2_HF_BOUNDS.expand_ratio,
  outputStride: MOBILENET_V2_HF_BOUNDS.output_stride,
  classifierDropoutProb: MOBILENET_V2_HF_BOUNDS.classifier_dropout_prob,
  initializerRange: MOBILENET_V2_HF_BOUNDS.initializer_range,
  layerNormEps: MOBILENET_V2_HF_BOUNDS.layer_norm_eps,
};

/** ViT bounds under the names of a toolkit-saved ViT config (`ViTConfig`). */
export const VIT_SAVED_BOUNDS: Record<string, Bound> = {
  numLabels: VIT_HF_BOUNDS.num_labels,
  numChannels: VIT_HF_BOUNDS.num_channels,
  imageSize: VIT_HF_BOUNDS.image_size,
  patchSize: VIT_HF_BOUNDS.patch_size,
  hiddenSize: VIT_HF_BOUNDS.hidden_size,
  numLayers: VIT_HF_BOUNDS.num_hidden_layers,
  numHeads: VIT_HF_BOUNDS.num_attention_heads,
  intermediateSize: VIT_HF_BOUNDS.intermediate_size,
  initializerRange: VIT_HF_BOUNDS.initializer_range,
  layerNormEps: VIT_HF_BOUNDS.layer_norm_eps,
};

/**
 * Throw a UserError naming `path` and the key for the first value of `config` outside its
 * bound (absent keys are left to the defaults, which are within bounds).
 */
export function checkBounds(
  path: string,
  config: Record<string, unknown>,
  bounds: Record<string, Bound>,
): void {
  for (const [key, b] of Object.entries(bounds)) {
    const v = config[key];
    if (v === undefined || v === null) continue;
    const ok = typeof v === "number" && Number.isFinite(v) && (b.above ? v > b.min : v >= b.min) &&
      v <= b.max && (!b.integer || Number.isInteger(v));
    if (!ok) {
      const range = `${b.above ? "(" : "["}${b.min}, ${b.max}]`;
      throw new UserError(
        `${path}: "${key}" must be ${b.integer ? "an integer" : "a number"} in ${range}, got ${
          JSON.stringify(v)
        }`,
      );
    }
  }
}

/**
 * Refuse a ViT whose sizes are each in bounds but together describe more than
 * {@linkcode MAX_PARAMETERS} parameters (e.g. the widest hidden size with the most layers).
 */
export function checkViTParameters(
  path: string,
  c: { hiddenSize: number; numLayers: number; intermediateSize: number; numLabels: number },
): void {
  const h = c.hiddenSize;
  const perLayer = 4 * h * h + 2 * h * c.intermediateSize;
  const params = c.numLayers * perLayer + h * c.numLabels;
  if (params > MAX_PARAMETERS) {
    throw new UserError(
      `${path}: hidden_size ${h}, num_hidden_layers ${c.numLayers} and intermediate_size ` +
        `${c.intermediateSize} describe ${(params / 1e9).toFixed(1)} billion parameters, more ` +
        `than the ${MAX_PARAMETERS / 1e9} billion this toolkit builds`,
    );
  }
}
