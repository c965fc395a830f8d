/**
 * A tfjs LayersModel that is a MobileNetV2 with its batch norms folded into biased convolutions
 * (the TFLite-derived ImageNet model is one) becomes this toolkit's {@linkcode MobileNetV2}, and
 * its batch norms get statistics back.
 *
 * Why: the tfjs generic layers train at ≈ 1.5 img/s at 224 px on 2 cores, the toolkit's
 * MobileNetV2 at ≈ 33 img/s (fused conv + batch-norm training kernels) and infers through compiled
 * graphs, so a teacher built on the converted network fine-tunes every block in minutes, not hours,
 * and teaches online 2× faster. The conversion is exact in eval mode (bias → batch-norm shift, unit
 * scale and statistics) and is checked numerically before it is used. A folded network has no
 * statistics, though, and a batch norm in training mode normalises with the batch's own: an
 * identity batch norm would rescale every activation at the first step. {@linkcode calibrateBatchNorm}
 * measures the pre-norm statistics on real images and re-parametrises each batch norm so that its
 * eval-mode function is unchanged while training-mode batches (which look like the population)
 * start where the pretrained network is.
 * @module
 */
import * as tf from "../tf.ts";
import {
  makeDivisible,
  MobileNetV2,
  mobileNetV2Convs,
  type NamedConv,
  walkMobileNetV2,
} from "./mobilenet_v2.ts";
import { conv2d, depthwiseConv2d } from "./layers.ts";
import type { LayersBackbone } from "./layers_backbone.ts";

/** Depth multipliers of the published MobileNetV2s, tried in turn against the topology. */
const MULTIPLIERS = [1.0, 0.75, 0.5, 0.35, 1.3, 1.4];

interface FoldedConv {
  kernel: tf.Tensor;
  bias: tf.Tensor;
  depthwise: boolean;
  stride: number;
  relu6: boolean;
}

/** The convolutions of a layers topology in order, with what follows each (ReLU6 or not). */
function foldedConvs(backbone: LayersBackbone): FoldedConv[] | null {
  const layers = backbone.config.topology.config.layers;
  const vars = backbone.backboneVariables();
  const consumers = new Map<string, string[]>();
  for (const l of layers) {
    for (const n of l.inbound_nodes) {
      for (const i of n) consumers.set(i[0], [...consumers.get(i[0]) ?? [], l.name]);
    }
  }
  const byName = new Map(layers.map((l) => [l.name, l]));
  const out: FoldedConv[] = [];
  for (const l of layers) {
    if (l.class_name !== "Conv2D" && l.class_name !== "DepthwiseConv2D") continue;
    const c = l.config as Record<string, unknown>;
    const depthwise = l.class_name === "DepthwiseConv2D";
    const kernel = vars.get(`backbone.${l.name}/${depthwise ? "depthwise_kernel" : "kernel"}`);
    const bias = vars.get(`backbone.${l.name}/bias`);
    const strides = c.strides as number[] | undefined;
    const dilation = c.dilation_rate as number[] | undefined;
    if (
      !kernel || !bias || c.padding !== "same" || (strides && strides[0] !== strides[1]) ||
      (dilation && dilation.some((d) => d !== 1))
    ) return null;
    const next = (consumers.get(l.name) ?? []).map((n) => byName.get(n)!);
    const relu6 = c.activation === "relu6" ||
      (c.activation === "linear" && next.length === 1 && next[0].class_name === "ReLU" &&
        (next[0].config as Record<string, unknown>).max_value === 6);
    out.push({ kernel, bias, depthwise, stride: strides?.[0] ?? 1, relu6 });
  }
  return out;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * The toolkit's MobileNetV2 holding the weights of `backbone` if it is a folded MobileNetV2 cut
 * at its pooled features (same convolutions in the same order, ReLU6 where MobileNetV2 has them,
 * inputs normalised to [-1, 1]), with the backbone's labels and a fresh seeded head; `null` when
 * it is anything else or the converted network's features differ from the backbone's. Batch norms
 * are identities (scale 1, shift = the folded bias, statistics 0/1): call
 * {@linkcode calibrateBatchNorm} before training it. `opts.imageSize` runs it at another input
 * size than the backbone's (the convolutions do not depend on it).
 */
export function mobileNetV2FromLayers(
  backbone: LayersBackbone,
  opts: { seed?: number; imageSize?: number } = {},
): MobileNetV2 | null {
  const { size, mean, std } = backbone.input;
  if (![...mean, ...std].every((v) => v === 0.5)) return null;
  const folded = foldedConvs(backbone);
  if (!folded || folded.length < 3) return null;
  const stemOut = folded[0].kernel.shape[3];
  for (const depthMultiplier of MULTIPLIERS) {
    if (makeDivisible(Math.round(32 * depthMultiplier)) !== stemOut) continue;
    const model = new MobileNetV2({
      numLabels: backbone.config.numLabels,
      labels: backbone.config.labels,
      imageSize: opts.imageSize ?? size,
      depthMultiplier,
      bnMomentum: 0.1,
      seed: opts.seed,
    });
    const convs = mobileNetV2Convs(model.graph());
    const matches = convs.length === folded.length && convs.every((c, i) =>
      c.depthwise === folded[i].depthwise && c.stride === folded[i].stride &&
      c.relu6 === folded[i].relu6 && sameShape(c.weight.shape, folded[i].kernel.shape)
    ) && model.featureSize === backbone.featureSize;
    if (!matches) {
      model.dispose();
      continue;
    }
    const eps = model.graph().eps;
    tf.tidy(() => {
      convs.forEach((c, i) => {
        const bn = c.bn!;
        const n = bn.bias.shape[0];
        c.weight.assign(folded[i].kernel);
        bn.bias.assign(folded[i].bias);
        bn.weight.assign(tf.ones([n]));
        bn.runningMean.assign(tf.zeros([n]));
        // (x - 0) / sqrt((1 - eps) + eps) = x: the folded convolution's output, unchanged.
        bn.runningVar.assign(tf.fill([n], 1 - eps));
      });
    });
    if (sameFeatures(backbone, model, size)) {
      return model;
    }
    model.dispose();
    return null;
  }
  return null;
}

/** Whether both networks give the same pooled features on a seeded random image pair. */
function sameFeatures(a: LayersBackbone, b: MobileNetV2, size: number): boolean {
  return tf.tidy(() => {
    const x = tf.randomUniform([2, size, size, 3], -1, 1, "float32", 7) as tf.Tensor4D;
    const fa = a.featuresFrom(null, x), fb = b.featuresFrom(null, x);
    const scale = tf.max(tf.abs(fa)).dataSync()[0];
    const diff = tf.max(tf.abs(tf.sub(fa, fb))).dataSync()[0];
    return Number.isFinite(diff) && diff <= 1e-3 * Math.max(scale, 1e-6);
  });
}

/**
 * Give `model`'s batch norms the statistics of their inputs over `batches` (image tensors as the
 * model takes them) without changing what the model computes in eval mode: each norm's running
 * mean and variance become the measured ones and its scale and shift absorb the change, so that
 * training-mode batch statistics (≈ the measured ones) reproduce the pretrained activations.
 * Returns the number of images measured.
 */
export function calibrateBatchNorm(model: MobileNetV2, batches: Iterable<tf.Tensor4D>): number {
  const g = model.graph();
  const convs = mobileNetV2Convs(model.graph());
  const stats = convs.map((c) => new ChannelMoments(c.bn!.bias.shape[0]));
  let images = 0;
  for (const x of batches) {
    images += x.shape[0];
    tf.tidy(() => {
      let at = 0;
      const step = (h: tf.Tensor4D, c: NamedConv): tf.Tensor4D => {
        const conv = c.depthwise ? depthwiseConv2d : conv2d;
        const y = conv(h, c.weight as tf.Tensor4D, { stride: c.stride, dilation: c.dilation });
        stats[at].add(y);
        const bn = c.bn!;
        let z = tf.batchNorm(y, bn.runningMean, bn.runningVar, bn.bias, bn.weight, g.eps);
        if (c.relu6) z = tf.relu6(z);
        at++;
        return z as tf.Tensor4D;
      };
      walkMobileNetV2(g, x, step, (input, output) => tf.add(input, output));
    });
  }
  if (images === 0) return 0;
  tf.tidy(() => {
    convs.forEach((c, i) => {
      const bn = c.bn!;
      const m = bn.runningMean.dataSync(), v = bn.runningVar.dataSync();
      const gamma = bn.weight.dataSync(), beta = bn.bias.dataSync();
      const n = m.length;
      const [nm, nv, ng, nb] = [0, 0, 0, 0].map(() => new Float32Array(n));
      for (let k = 0; k < n; k++) {
        const mu = stats[i].mean[k];
        const variance = stats[i].variance(k);
        const before = Math.sqrt(v[k] + g.eps), after = Math.sqrt(variance + g.eps);
        nm[k] = mu;
        nv[k] = variance;
        ng[k] = gamma[k] * after / before;
        nb[k] = beta[k] + gamma[k] * (mu - m[k]) / before;
      }
      bn.runningMean.assign(tf.tensor1d(nm));
      bn.runningVar.assign(tf.tensor1d(nv));
      bn.weight.assign(tf.tensor1d(ng));
      bn.bias.assign(tf.tensor1d(nb));
    });
  });
  return images;
}

/**
 * Per-channel mean and variance over batches, merged with Chan's pairwise formula (each batch
 * centred on its own mean first, so large means do not cancel the variance away). The sums are
 * matrix products with a ones row: `tf.sum` over the leading axes of an NHWC tensor took 3.4× as
 * long on the native backend (1.7 s against 0.5 s for a 32 × 112 × 112 × 96 activation).
 */
class ChannelMoments {
  n = 0;
  mean: Float64Array;
  #m2: Float64Array;

  constructor(channels: number) {
    this.mean = new Float64Array(channels);
    this.#m2 = new Float64Array(channels);
  }

  add(y: tf.Tensor4D): void {
    const c = y.shape[3];
    const nb = y.size / c;
    const [sum, m2] = tf.tidy(() => {
      const flat = tf.reshape(y, [nb, c]);
      const ones = tf.ones([1, nb]);
      const batchMean = tf.div(tf.matMul(ones, flat), nb);
      const centred = tf.sub(flat, batchMean);
      return [batchMean.dataSync(), tf.matMul(ones, tf.mul(centred, centred)).dataSync()];
    });
    const n = this.n + nb;
    for (let k = 0; k < c; k++) {
      const delta = sum[k] - this.mean[k];
      this.mean[k] += (delta * nb) / n;
      this.#m2[k] += m2[k] + (delta * delta * this.n * nb) / n;
    }
    this.n = n;
  }

  /** Population variance of channel `k`. */
  variance(k: number): number {
    return this.n ? this.#m2[k] / this.n : 0;
  }
}
