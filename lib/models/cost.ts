/**
 * What a model costs, counted from its architecture rather than timed: parameters and
 * multiply-accumulates (MACs) of one forward pass on one image at the model's input size.
 * Convolutions, depthwise convolutions and matrix products are counted (`out_h·out_w·k·k·cin·cout`,
 * `out_h·out_w·k·k·C`, `m·n·k`); batch norm, activations, additions, pooling and softmax are
 * not, which is the usual convention (they are a few percent at most). FLOPs ≈ 2 × MACs.
 * @module
 */
import * as tf from "../tf.ts";
import type { Classifier } from "./model.ts";
import { MobileNetV2, mobileNetV2Convs } from "./mobilenet_v2.ts";
import type { ViTConfig } from "./vit.ts";
import type { BackboneConfig } from "./layers_backbone.ts";

/** Parameter and compute counts of a model. */
export interface ModelCost {
  /** Learnable parameters (weights and biases; BN running statistics excluded). */
  params: number;
  /** Multiply-accumulates per image, or null for an architecture this module cannot count. */
  macs: number | null;
}

const BUFFER = /(running_(mean|var)|moving_(mean|variance)|num_batches_tracked)$/;

/**
 * Learnable parameters: every state variable except BN running statistics.
 *
 * @example Parameters of MobileNetV2 ×1.0 for three classes
 * ```ts
 * import { countParams, createModel } from "@kd/vision/models";
 * import { assertEquals } from "@std/assert";
 *
 * const m = await createModel("mobilenet_v2", { numLabels: 3, imageSize: 32 });
 * assertEquals(countParams(m), 2_227_715);
 * m.dispose();
 * ```
 */
export function countParams(model: Classifier): number {
  let n = 0;
  for (const [name, v] of model.stateVariables()) if (!BUFFER.test(name)) n += v.size;
  return n;
}

/** TF "SAME" output side. */
const same = (size: number, stride: number) => Math.ceil(size / stride);

/** MACs of a MobileNetV2 at `size`×`size` input. */
export function mobileNetV2Macs(model: MobileNetV2, size: number): number {
  const g = model.graph();
  let side = size;
  let macs = 0;
  const conv = (c: { weight: tf.Variable; depthwise: boolean; stride: number }) => {
    side = same(side, c.stride);
    const [kh, kw, cin, cout] = c.weight.shape;
    macs += side * side * kh * kw * (c.depthwise ? cin : cin * cout);
  };
  mobileNetV2Convs(g).forEach(conv);
  const [fin, fout] = g.classifier.weight.shape;
  return macs + fin * fout;
}

/** MACs of a ViT/DeiT classifier (attention included: QKᵀ and AV). */
export function vitMacs(c: ViTConfig): number {
  const patches = (c.imageSize / c.patchSize) ** 2;
  const t = patches + 1 + (c.distillationToken ? 1 : 0);
  const h = c.hiddenSize;
  const embed = patches * c.patchSize * c.patchSize * c.numChannels * h;
  const layer = 4 * t * h * h + 2 * t * t * h + 2 * t * h * c.intermediateSize;
  const heads = (c.head === "cls" ? 1 : 2) * h * c.numLabels;
  return embed + c.numLayers * layer + heads;
}

/** MACs of a cut tfjs backbone + linear head, from the layer shapes tfjs infers for its topology. */
export async function backboneMacs(c: BackboneConfig): Promise<number> {
  const model = await tf.models.modelFromJSON({
    modelTopology: c.topology as unknown as Parameters<
      typeof tf.models.modelFromJSON
    >[0]["modelTopology"],
  });
  try {
    let macs = 0;
    for (const layer of model.layers) {
      const cls = layer.getClassName();
      const out = layer.outputShape as number[];
      const kernel = layer.getWeights()[0]?.shape ?? [];
      if (cls === "Conv2D" || cls === "DepthwiseConv2D") {
        // Conv2D kernels are [kh, kw, cin, cout]; depthwise ones [kh, kw, cin, multiplier].
        const [, oh, ow] = out;
        const [kh, kw, cin, last] = kernel;
        macs += oh * ow * kh * kw * cin * last;
      } else if (cls === "Dense") {
        const [fin, fout] = kernel;
        const rows = out.slice(1, -1).reduce((a, b) => a * b, 1);
        macs += rows * fin * fout;
      }
    }
    return macs + c.featureSize * c.numLabels;
  } finally {
    model.dispose();
  }
}

/** Parameters and MACs of any registered model kind (MACs null for unknown kinds). */
export async function modelCost(model: Classifier): Promise<ModelCost> {
  const params = countParams(model);
  const kind = model.config.kind;
  let macs: number | null = null;
  if (model instanceof MobileNetV2) macs = mobileNetV2Macs(model, model.input.size);
  else if (kind === "vit") macs = vitMacs(model.config as ViTConfig);
  else if (kind === "layers_backbone") macs = await backboneMacs(model.config as BackboneConfig);
  return { params, macs };
}
