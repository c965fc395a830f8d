/**
 * MobileNetV2 image classifier, a faithful functional port of Hugging Face
 * `MobileNetV2ForImageClassification` (`modeling_mobilenet_v2.py`): same channel arithmetic,
 * same TF "SAME" padding, same initialisation, same parameter names (so HF checkpoints load by
 * name). Weights are kept in tfjs layouts (HWIO, depthwise `[kh,kw,C,1]`, linear `[in,out]`).
 * @module
 */
import * as tf from "../tf.ts";
import type { Classifier, InputSpec, ModelConfig } from "./model.ts";
import {
  addBatchNorm,
  type BatchNormOptions,
  convBNAct,
  type ConvBNParams,
  dropout,
  globalAvgPool,
  linear,
  ParamStore,
} from "./layers.ts";
import { assertAllUsed, assertDtype } from "./safetensors.ts";
import { assignAll, layoutOf, loadTorchTensors, type TorchLayout } from "./torch_layout.ts";
import type { TensorStore } from "./tensor_store.ts";
import { UserError } from "../core/errors.ts";
import { checkBounds, MAX_LABELS, MOBILENET_V2_HF_BOUNDS } from "./config_bounds.ts";
import {
  type ConvNode,
  foldBatchNorm,
  type GraphNode,
  type InferenceGraph,
  InferenceHandle,
  nativeInferenceActive,
  runGraph,
} from "../backends/native/inference_graph.ts";
import {
  nativeTrainingActive,
  runTrainGraph,
  type TrainGraph,
  TrainHandle,
  type TrainLayer,
  type TrainLayerParams,
} from "../backends/native/train_graph.ts";

/**
 * Architecture options mirroring HF `MobileNetV2Config` (camelCase), with the HF defaults.
 * `createModel` takes them as `student` for fresh students.
 *
 * `bnMomentum` is PyTorch-style (weight of the current batch in the running-stat update).
 * HF hard-codes `momentum=0.997`, a value copied from TF where it means the opposite: in PyTorch
 * it makes the running stats ≈ the last batch, so eval-mode outputs are noisy. Pass `"hf"` (0.997)
 * to reproduce HF exactly; the default 0.1 is PyTorch's own default.
 *
 * @example A narrower student without the 1280-channel final layer
 * ```ts
 * import { countParams, createModel, type MobileNetV2Options } from "@kd/vision/models";
 *
 * const student: Partial<MobileNetV2Options> = {
 *   finegrainedOutput: false,
 *   classifierDropoutProb: 0.2,
 *   bnMomentum: 0.1,
 * };
 * const model = await createModel("mobilenet_v2@0.35", { numLabels: 3, imageSize: 32, student });
 * console.log(countParams(model));
 * model.dispose();
 * ```
 */
export interface MobileNetV2Options {
  /** Number of classes of the head. */
  numLabels: number;
  /** Class names in label order (HF's `id2label`). */
  labels?: string[];
  /** Input channels (default 3, RGB). */
  numChannels?: number;
  /** Input side in pixels (default 224); inputs are square. */
  imageSize?: number;
  /** Width multiplier of every layer's channel count (default 1.0; `mobilenet_v2@0.35` sets it). */
  depthMultiplier?: number;
  /** Channel counts are rounded to a multiple of this (default 8). */
  depthDivisibleBy?: number;
  /** Least channel count of any layer after the multiplier (default 8). */
  minDepth?: number;
  /** Expansion factor of the inverted-residual blocks' 1×1 expansion (default 6). */
  expandRatio?: number;
  /**
   * Input side over feature-map side (default 32); below 32 the later blocks dilate instead of
   * striding.
   */
  outputStride?: number;
  /** The stem's 3×3 convolution doubles as the first block's expansion (default true). */
  firstLayerIsExpansion?: boolean;
  /** Keep the final 1×1 convolution at 1280 channels whatever the multiplier (default true). */
  finegrainedOutput?: boolean;
  /** TensorFlow's asymmetric "SAME" padding, as the original checkpoints need (default true). */
  tfPadding?: boolean;
  /** Dropout probability before the classifier, in training only (default 0.8, HF's). */
  classifierDropoutProb?: number;
  /** Standard deviation of the truncated-normal weight initialisation (default 0.02). */
  initializerRange?: number;
  /** Epsilon of the batch normalisations (default 1e-3). */
  layerNormEps?: number;
  /** Batch-norm running-stat momentum, PyTorch-style (see above; default 0.1, `"hf"` 0.997). */
  bnMomentum?: number | "hf";
  /**
   * Cut the network after this point (`conv_stem`, `layer.0` … `layer.15`): features are pooled
   * there and the head sits on them; nothing after it is built. Default: the full network
   * (features after `conv_1x1`, HF's pooled output). Used for weaker teachers.
   */
  cutAfter?: string;
  /** Seed for reproducible initialisation. */
  seed?: number;
}

/** The points of the network, in order: where a block ends (the last is the full feature map). */
export const MOBILENET_V2_POINTS = [
  "conv_stem",
  ...Array.from({ length: 16 }, (_, i) => `layer.${i}`),
  "conv_1x1",
];

const DEFAULTS = {
  numChannels: 3,
  imageSize: 224,
  depthMultiplier: 1.0,
  depthDivisibleBy: 8,
  minDepth: 8,
  expandRatio: 6.0,
  outputStride: 32,
  firstLayerIsExpansion: true,
  finegrainedOutput: true,
  tfPadding: true,
  classifierDropoutProb: 0.8,
  initializerRange: 0.02,
  layerNormEps: 1e-3,
  bnMomentum: 0.1 as number | "hf",
};

/** HF's `make_divisible` (from the TF slim MobileNet code). */
export function makeDivisible(value: number, divisor = 8, minValue?: number): number {
  const min = minValue ?? divisor;
  let v = Math.max(min, Math.floor(Math.trunc(value + divisor / 2) / divisor) * divisor);
  if (v < 0.9 * value) v += divisor;
  return v;
}

// Python's round() rounds halves to even; channel counts like 0.5·24·... can hit exact halves.
function pyRound(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

type Resolved = typeof DEFAULTS & MobileNetV2Options;

function applyDepthMultiplier(c: Resolved, channels: number): number {
  return makeDivisible(pyRound(channels * c.depthMultiplier), c.depthDivisibleBy, c.minDepth);
}

/** One convolution + BN (+ ReLU6) of the network, with its HF name prefix (no `.convolution`). */
export interface NamedConv extends ConvBNParams {
  name: string;
}

/** An inverted-residual block: optional 1x1 expansion, 3x3 depthwise, linear 1x1 projection. */
export interface MobileNetV2Block {
  expand?: NamedConv;
  depthwise: NamedConv;
  project: NamedConv;
  /** Whether the block input is added to its output. */
  residual: boolean;
}

type Block = MobileNetV2Block;

/** The network in execution order, for exporters and cost models (read-only use). */
export interface MobileNetV2Graph {
  /** The first (stride-2) convolution. */
  stem: NamedConv;
  /** The stem's block, then `layer.0` … up to the cut. */
  blocks: MobileNetV2Block[];
  /** The 1x1 `conv_1x1` before pooling; absent in a network cut earlier. */
  head?: NamedConv;
  classifier: { weight: tf.Variable; bias: tf.Variable };
  /** BN epsilon (HF `layer_norm_eps`). */
  eps: number;
}

/** The graph's convolutions in execution order: the stem, each block's expand, depthwise and project, the head. */
export function mobileNetV2Convs(g: MobileNetV2Graph): NamedConv[] {
  return [
    g.stem,
    ...g.blocks.flatMap((b) => [...(b.expand ? [b.expand] : []), b.depthwise, b.project]),
    ...(g.head ? [g.head] : []),
  ];
}

/**
 * Run `g` forward from `x` with the caller's operations, in execution order: `conv` for every
 * convolution (its batch norm and activation as the caller defines them), `add` joining a
 * residual block's input to its output. The one walk of the block structure for the graph's
 * consumers (the tfjs exporter, batch-norm calibration), so none re-derives it.
 */
export function walkMobileNetV2<T>(
  g: MobileNetV2Graph,
  x: T,
  conv: (h: T, c: NamedConv) => T,
  add: (input: T, output: T, block: MobileNetV2Block, index: number) => T,
): T {
  let h = conv(x, g.stem);
  g.blocks.forEach((b, i) => {
    const input = h;
    if (b.expand) h = conv(h, b.expand);
    h = conv(h, b.depthwise);
    h = conv(h, b.project);
    if (b.residual) h = add(input, h, b, i);
  });
  return g.head ? conv(h, g.head) : h;
}

/** One stage between two points: the stem (first conv + first block), a block, or the 1x1 head conv. */
interface Stage {
  name: string;
  first?: NamedConv;
  block?: Block;
  conv?: NamedConv;
  channels: number;
}

/** The MobileNetV2 student (see the module doc). */
export class MobileNetV2 implements Classifier {
  readonly config: ModelConfig;
  readonly input: InputSpec;
  #store: ParamStore;
  #stages: Stage[] = [];
  #depthwise = new Set<string>();
  /** Point after which variables train (undefined: all of them, as a student). */
  #trainableFrom: string | null | undefined;
  #classifier!: { weight: tf.Variable; bias: tf.Variable };
  #opts: Resolved;
  /** Compiled inference graphs by `from|to|pooled` (the native backend's fast path). */
  #inference = new Map<string, InferenceHandle<InferenceGraph>>();
  /** Compiled training graphs by `from|to` with their layers' variables (null: not compilable). */
  #training = new Map<string, { handle: TrainHandle; params: TrainLayerParams[] } | null>();

  /** Build with HF initialisation: conv/linear weights normal(0, 0.02), biases 0, BN 1/0. */
  constructor(options: MobileNetV2Options) {
    const c = { ...DEFAULTS, ...stripUndefined(options) } as Resolved;
    if (!Number.isInteger(c.numLabels) || c.numLabels < 1) {
      throw new UserError(`mobilenet_v2: numLabels must be a positive integer, got ${c.numLabels}`);
    }
    if (c.labels !== undefined && c.labels.length !== c.numLabels) {
      throw new UserError(
        `mobilenet_v2: ${c.labels.length} label names for ${c.numLabels} labels (${
          c.labels.join(", ")
        })`,
      );
    }
    if (!(c.depthMultiplier > 0)) {
      throw new UserError(`mobilenet_v2: depth multiplier must be > 0, got ${c.depthMultiplier}`);
    }
    if (!Number.isInteger(c.imageSize) || c.imageSize < 1) {
      throw new UserError(`mobilenet_v2: imageSize must be a positive integer, got ${c.imageSize}`);
    }
    if (!c.tfPadding) {
      throw new UserError("mobilenet_v2: only tfPadding=true is implemented (the HF default)");
    }
    if (c.cutAfter !== undefined && !MOBILENET_V2_POINTS.includes(c.cutAfter)) {
      throw new UserError(
        `mobilenet_v2: no point "${c.cutAfter}" to cut at (points: ${
          MOBILENET_V2_POINTS.join(", ")
        })`,
      );
    }
    this.#opts = c;
    const { seed: _seed, ...rest } = c;
    this.config = { kind: "mobilenet_v2", ...rest };
    this.input = { size: c.imageSize, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] };
    this.#store = new ParamStore(c.seed);
    this.#build(c);
  }

  #conv(
    name: string,
    cin: number,
    cout: number,
    k: number,
    o: { stride?: number; dilation?: number; depthwise?: boolean; relu6?: boolean } = {},
  ): NamedConv {
    const c = this.#opts;
    const shape = o.depthwise ? [k, k, cin, 1] : [k, k, cin, cout];
    if (o.depthwise) this.#depthwise.add(`${name}.convolution.weight`);
    return {
      name,
      weight: this.#store.normal(`${name}.convolution.weight`, shape, c.initializerRange),
      depthwise: o.depthwise ?? false,
      stride: o.stride ?? 1,
      dilation: o.dilation ?? 1,
      bn: addBatchNorm(this.#store, `${name}.normalization`, cout),
      relu6: o.relu6 ?? true,
    };
  }

  #build(c: Resolved): void {
    const channels = [16, 24, 24, 32, 32, 32, 64, 64, 64, 64, 96, 96, 96, 160, 160, 160, 320]
      .map((x) => applyDepthMultiplier(c, x));
    const strides = [2, 1, 2, 1, 1, 2, 1, 1, 1, 1, 1, 1, 2, 1, 1, 1];
    const p = "mobilenet_v2";
    const last = MOBILENET_V2_POINTS.indexOf(c.cutAfter ?? "conv_1x1");
    const stemCh = applyDepthMultiplier(c, 32);
    this.#stages.push({
      name: "conv_stem",
      first: this.#conv(`${p}.conv_stem.first_conv`, c.numChannels, stemCh, 3, { stride: 2 }),
      block: {
        expand: c.firstLayerIsExpansion
          ? undefined
          : this.#conv(`${p}.conv_stem.expand_1x1`, stemCh, stemCh, 1),
        depthwise: this.#conv(`${p}.conv_stem.conv_3x3`, stemCh, stemCh, 3, { depthwise: true }),
        project: this.#conv(`${p}.conv_stem.reduce_1x1`, stemCh, channels[0], 1, { relu6: false }),
        residual: false,
      },
      channels: channels[0],
    });
    let currentStride = 2;
    let dilation = 1;
    for (let i = 0; i < 16 && i + 1 <= last; i++) {
      let stride: number, layerDilation: number;
      if (currentStride === c.outputStride) {
        stride = 1;
        layerDilation = dilation;
        dilation *= strides[i];
      } else {
        stride = strides[i];
        layerDilation = 1;
        currentStride *= stride;
      }
      const cin = channels[i], cout = channels[i + 1];
      const expanded = makeDivisible(pyRound(cin * c.expandRatio), c.depthDivisibleBy, c.minDepth);
      const name = `${p}.layer.${i}`;
      this.#stages.push({
        name: `layer.${i}`,
        block: {
          expand: this.#conv(`${name}.expand_1x1`, cin, expanded, 1),
          depthwise: this.#conv(`${name}.conv_3x3`, expanded, expanded, 3, {
            stride,
            dilation: layerDilation,
            depthwise: true,
          }),
          project: this.#conv(`${name}.reduce_1x1`, expanded, cout, 1, { relu6: false }),
          residual: stride === 1 && cin === cout,
        },
        channels: cout,
      });
    }
    if (last === MOBILENET_V2_POINTS.length - 1) {
      const outCh = c.finegrainedOutput && c.depthMultiplier < 1.0
        ? 1280
        : applyDepthMultiplier(c, 1280);
      this.#stages.push({
        name: "conv_1x1",
        conv: this.#conv(`${p}.conv_1x1`, channels[16], outCh, 1),
        channels: outCh,
      });
    }
    const featCh = this.#stages[this.#stages.length - 1].channels;
    this.#classifier = {
      weight: this.#store.normal("classifier.weight", [featCh, c.numLabels], c.initializerRange),
      bias: this.#store.fill("classifier.bias", [c.numLabels], 0),
    };
  }

  /** The layer structure with its variables (for exporters and cost models; do not mutate). */
  graph(): MobileNetV2Graph {
    return {
      stem: this.#stages[0].first!,
      blocks: this.#stages.flatMap((st) => st.block ? [st.block] : []),
      head: this.#stages.find((st) => st.conv)?.conv,
      classifier: this.#classifier,
      eps: this.#opts.layerNormEps,
    };
  }

  /** Whether the variable `name` is a depthwise kernel. */
  isDepthwise(name: string): boolean {
    return this.#depthwise.has(name);
  }

  /** Channels of the pooled features (1280 at the defaults). */
  get featureSize(): number {
    return this.#classifier.weight.shape[0];
  }

  /** BN momentum actually used (PyTorch semantics). */
  get bnMomentum(): number {
    const m = this.#opts.bnMomentum;
    return m === "hf" ? 0.997 : m;
  }

  trainableVariables(): Map<string, tf.Variable> {
    if (this.#trainableFrom === undefined) return new Map(this.#store.trainable);
    const from = this.#trainableFrom;
    const after = new Set(from === null ? [] : this.#stagesAfter(from).map((st) => st.name));
    return new Map(
      [...this.#store.trainable].filter(([n]) =>
        n.startsWith("classifier.") || after.has(stageOfVariable(n))
      ),
    );
  }

  /** The point whose pooled output feeds the head (`conv_1x1` unless cut earlier). */
  get featurePoint(): string {
    return this.#stages[this.#stages.length - 1].name;
  }

  /** Points before the feature point, in order: where the network can be resumed from. */
  boundaries(): string[] {
    return this.#stages.slice(0, -1).map((st) => st.name);
  }

  /** Train only what follows point `from` (null: the head only); the default trains everything. */
  setTrainableFrom(from: string | null): void {
    if (from !== null && !this.boundaries().includes(from)) {
      throw new UserError(`"${from}" is not a block boundary (${this.boundaries().join(", ")})`);
    }
    this.#trainableFrom = from;
  }

  /** Gradient kernels the current backend lacks for training what follows `from`. */
  missingKernels(from: string | null): string[] {
    if (!this.#stagesAfter(from).length) return [];
    return [
      "Conv2DBackpropFilter",
      "Conv2DBackpropInput",
      "DepthwiseConv2dNativeBackpropFilter",
      "DepthwiseConv2dNativeBackpropInput",
    ].filter((k) => !tf.getKernel(k, tf.getBackend()));
  }

  /** Every state variable except the head's (the part a feature cache depends on). */
  backboneVariables(): Map<string, tf.Variable> {
    return new Map([...this.#store.state].filter(([n]) => !n.startsWith("classifier.")));
  }

  #stagesAfter(from: string | null): Stage[] {
    const start = from === null ? 0 : this.#stages.findIndex((st) => st.name === from) + 1;
    if (start === 0 && from !== null) {
      throw new UserError(
        `mobilenet_v2: unknown point "${from}" (${this.boundaries().join(", ")})`,
      );
    }
    return this.#stages.slice(start);
  }

  stateVariables(): Map<string, tf.Variable> {
    return new Map(this.#store.state);
  }

  /**
   * Activations at point `to` (default the feature point, unpooled) from `x`, the output of point
   * `from` (null: `x` is the image).
   */
  runFrom(
    from: string | null,
    x: tf.Tensor,
    opts: { training?: boolean; to?: string } = {},
  ): tf.Tensor4D {
    const bn: BatchNormOptions = {
      training: opts.training ?? false,
      momentum: this.bnMomentum,
      eps: this.#opts.layerNormEps,
    };
    if (from === null && x.shape[3] !== this.#opts.numChannels) {
      throw new UserError(
        `mobilenet_v2: input has ${x.shape[3]} channels, expected ${this.#opts.numChannels} (NHWC)`,
      );
    }
    const to = opts.to ?? this.featurePoint;
    if (!bn.training && x.rank === 4 && nativeInferenceActive()) {
      return runGraph(this.#handle(from, to, false), x as tf.Tensor4D) as tf.Tensor4D;
    }
    if (bn.training && x.rank === 4 && nativeTrainingActive()) {
      const compiled = this.#trainGraph(from, to);
      if (compiled) return runTrainGraph(compiled.handle, x as tf.Tensor4D, compiled.params);
    }
    let h = x as tf.Tensor4D;
    for (const st of this.#stagesAfter(from)) {
      if (st.first) h = convBNAct(h, st.first, bn);
      if (st.block) {
        const b = st.block;
        const residual = h;
        if (b.expand) h = convBNAct(h, b.expand, bn);
        h = convBNAct(h, b.depthwise, bn);
        h = convBNAct(h, b.project, bn);
        if (b.residual) h = tf.add(residual, h);
      }
      if (st.conv) h = convBNAct(h, st.conv, bn);
      if (st.name === to) return h;
    }
    throw new UserError(`mobilenet_v2: point "${to}" does not follow "${from}"`);
  }

  /**
   * Number the graph's nodes from `from` to `to` for a compiled graph: `conv` adds a layer reading
   * node `input` (plus `residual`, a block's input) and returns its node. Returns the node of
   * `to`, or null when `to` does not follow `from`.
   */
  #walkNodes(
    from: string | null,
    to: string,
    conv: (input: number, p: ConvBNParams, residual?: number) => number,
  ): number | null {
    let h = 0;
    for (const st of this.#stagesAfter(from)) {
      if (st.first) h = conv(h, st.first);
      if (st.block) {
        const b = st.block, input = h;
        if (b.expand) h = conv(h, b.expand);
        h = conv(h, b.depthwise);
        h = conv(h, b.project, b.residual ? input : undefined);
      }
      if (st.conv) h = conv(h, st.conv);
      if (st.name === to) return h;
    }
    return null;
  }

  /**
   * The stages after `from` up to `to` as a compiled training graph (see
   * `backends/native/train_graph.ts`), or null where one does not apply (a dilated conv).
   */
  #trainGraph(
    from: string | null,
    to: string,
  ): { handle: TrainHandle; params: TrainLayerParams[] } | null {
    const key = `${from}|${to}`;
    if (this.#training.has(key)) return this.#training.get(key)!;
    const layers: TrainLayer[] = [], params: TrainLayerParams[] = [];
    let ok = true;
    const conv = (input: number, p: ConvBNParams, residual?: number): number => {
      if (!p.bn || p.dilation !== 1) ok = false;
      else {
        layers.push({
          input,
          kernel: p.weight.shape[0],
          stride: p.stride,
          depthwise: p.depthwise,
          relu6: p.relu6,
          residual,
        });
        params.push({
          filter: p.weight as tf.Tensor4D,
          gamma: p.bn.weight as tf.Tensor1D,
          beta: p.bn.bias as tf.Tensor1D,
          runningMean: p.bn.runningMean,
          runningVar: p.bn.runningVar,
        });
      }
      return layers.length;
    };
    const reached = this.#walkNodes(from, to, conv) !== null;
    const graph: TrainGraph = { layers, eps: this.#opts.layerNormEps, momentum: this.bnMomentum };
    const compiled = ok && reached && layers.length
      ? { handle: new TrainHandle(graph), params }
      : null;
    this.#training.set(key, compiled);
    return compiled;
  }

  /** Pooled features `[batch, featureSize]` at the feature point, starting after `from`. */
  featuresFrom(from: string | null, x: tf.Tensor, opts: { training?: boolean } = {}): tf.Tensor2D {
    if (!opts.training && x.rank === 4 && nativeInferenceActive()) {
      return tf.tidy(() => {
        const pooled = runGraph(this.#handle(from, this.featurePoint, true), x as tf.Tensor4D);
        return tf.reshape(pooled, [x.shape[0], pooled.shape[3]!]) as tf.Tensor2D;
      });
    }
    return globalAvgPool(this.runFrom(from, x, opts) as tf.Tensor4D);
  }

  /** The compiled inference graph from point `from` to `to` (global average pooled or not). */
  #handle(from: string | null, to: string, pooled: boolean): InferenceHandle<InferenceGraph> {
    const key = `${from}|${to}|${pooled}`;
    let h = this.#inference.get(key);
    if (!h) {
      // Unknown points fail here, as on the per-op path, before anything is compiled.
      if (!this.#stagesAfter(from).some((st) => st.name === to)) {
        throw new UserError(`mobilenet_v2: point "${to}" does not follow "${from}"`);
      }
      h = new InferenceHandle(
        () => this.#inferenceGraph(from, to, pooled),
        () => [...this.#store.state.values()].map((v) => v.dataId),
      );
      this.#inference.set(key, h);
    }
    return h;
  }

  /**
   * The stages after `from` up to `to` as an inference graph (see
   * `backends/native/inference_graph.ts`): every conv with its batch norm folded in (running
   * statistics), bias and ReLU6 fused, residual adds fused into the project convs, global average
   * pooling last when `pooled`. Identical in exact arithmetic to `runFrom` in eval mode.
   */
  #inferenceGraph(from: string | null, to: string, pooled: boolean): InferenceGraph {
    const eps = this.#opts.layerNormEps;
    const nodes: GraphNode[] = [{ op: "input" }];
    const values = (v: tf.Variable) => v.dataSync() as Float32Array;
    const conv = (input: number, p: ConvBNParams, residual?: number): number => {
      const w = values(p.weight);
      const [kh, kw, ci, co] = p.weight.shape as number[];
      const folded = p.bn
        ? foldBatchNorm(w, null, {
          gamma: values(p.bn.weight),
          beta: values(p.bn.bias),
          mean: values(p.bn.runningMean),
          variance: values(p.bn.runningVar),
          eps,
        })
        : { weights: w, bias: null };
      const node: ConvNode = {
        op: "conv",
        input,
        weights: folded.weights,
        bias: folded.bias,
        kernel: [kh, kw],
        strides: [p.stride, p.stride],
        dilations: [p.dilation, p.dilation],
        padding: "same",
        depthwise: p.depthwise,
        outChannels: p.depthwise ? ci * co : co,
        residual,
        activation: p.relu6 ? "relu6" : "linear",
      };
      return nodes.push(node) - 1;
    };
    let h = this.#walkNodes(from, to, conv) ?? 0;
    if (pooled) h = nodes.push({ op: "avgpool", input: h, global: true }) - 1;
    return { nodes, output: h };
  }

  /** Pooled features `[batch, featureSize]` (HF `pooler_output`). */
  features(x: tf.Tensor4D, opts: { training?: boolean } = {}): tf.Tensor2D {
    return this.featuresFrom(null, x, opts);
  }

  /** Logits from pooled features. */
  head(features: tf.Tensor2D): tf.Tensor2D {
    return linear(features, this.#classifier.weight, this.#classifier.bias) as tf.Tensor2D;
  }

  apply(x: tf.Tensor4D, opts: { training?: boolean } = {}): tf.Tensor2D {
    const training = opts.training ?? false;
    const f = dropout(this.features(x, opts), this.#opts.classifierDropoutProb, training);
    return this.head(f as tf.Tensor2D);
  }

  dispose(): void {
    for (const h of this.#inference.values()) h.dispose();
    this.#inference.clear();
    for (const t of this.#training.values()) t?.handle.dispose();
    this.#training.clear();
    this.#store.dispose();
  }
}

/** The point a variable belongs to (`mobilenet_v2.layer.3.…` → `layer.3`), or "" for the head. */
function stageOfVariable(name: string): string {
  const m = /^mobilenet_v2\.(conv_stem|layer\.\d+|conv_1x1)\./.exec(name);
  return m ? m[1] : "";
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * Load HF weights (PyTorch layouts, any checkpoint form) into `model` by name; every state
 * variable must be present with the matching shape (the error names both), nothing is assigned
 * unless all are. `num_batches_tracked` and other extra tensors (e.g. the layers after a cut)
 * are ignored; `skip` leaves chosen variables as is.
 */
export function loadHFMobileNetV2(
  model: MobileNetV2,
  file: TensorStore,
  opts: { skip?: (name: string) => boolean } = {},
): void {
  const layouts = new Map<string, TorchLayout>();
  for (const [name, v] of model.stateVariables()) {
    if (!opts.skip?.(name)) layouts.set(name, model.isDepthwise(name) ? "depthwise" : layoutOf(v));
  }
  // BN step counters are bookkeeping PyTorch saves; a cut model leaves the blocks after its cut
  // unused; nothing else may be left over.
  const built = new Set([...model.stateVariables().keys()].map(stageOfVariable));
  const cut = model.config.cutAfter !== undefined;
  assertAllUsed(
    file,
    model.stateVariables().keys(),
    (k) =>
      k.endsWith("num_batches_tracked") || (opts.skip?.(k) ?? false) ||
      (cut && stageOfVariable(k) !== "" && !built.has(stageOfVariable(k))),
  );
  // PyTorch's step counters are int64; any other type means the file is not what it claims.
  for (const k of file.names()) {
    if (k.endsWith("num_batches_tracked")) {
      assertDtype(file.get(k), ["I64"], `${file.path}: tensor "${k}"`);
    }
  }
  assignAll(model.stateVariables(), loadTorchTensors(file, model.stateVariables(), layouts));
}

/** Options from an HF `MobileNetV2Config` JSON object (snake_case keys; HF defaults otherwise). */
export function mobileNetV2OptionsFromHF(
  hf: Record<string, unknown>,
  path = "config.json",
): MobileNetV2Options {
  if (hf.model_type !== "mobilenet_v2") {
    throw new UserError(`${path}: model_type ${JSON.stringify(hf.model_type)} is not mobilenet_v2`);
  }
  if ((hf.hidden_act ?? "relu6") !== "relu6") {
    throw new UserError(`${path}: unsupported hidden_act ${JSON.stringify(hf.hidden_act)} (relu6)`);
  }
  checkBounds(path, hf, MOBILENET_V2_HF_BOUNDS);
  const id2label = (hf.id2label ?? {}) as Record<string, string>;
  const numLabels = (hf.num_labels as number | undefined) ?? Object.keys(id2label).length;
  if (numLabels > MAX_LABELS) {
    throw new UserError(`${path}: "id2label" has more than ${MAX_LABELS} labels`);
  }
  if (!Number.isInteger(numLabels) || numLabels < 1) {
    throw new UserError(`${path}: "num_labels" must be a positive integer, got ${numLabels}`);
  }
  for (const k of ["num_channels", "image_size", "depth_divisible_by", "min_depth"]) {
    const v = hf[k];
    if (v !== undefined && !(Number.isInteger(v) && (v as number) > 0)) {
      throw new UserError(`${path}: "${k}" must be a positive integer, got ${JSON.stringify(v)}`);
    }
  }
  for (const k of ["depth_multiplier", "expand_ratio", "layer_norm_eps"]) {
    const v = hf[k];
    if (v !== undefined && !(typeof v === "number" && Number.isFinite(v) && v > 0)) {
      throw new UserError(`${path}: "${k}" must be a number > 0, got ${JSON.stringify(v)}`);
    }
  }
  const pick = (k: string) => hf[k] as never;
  return {
    numLabels,
    labels: Object.keys(id2label).length === numLabels
      ? Array.from({ length: numLabels }, (_, i) => String(id2label[String(i)]))
      : undefined,
    numChannels: pick("num_channels"),
    imageSize: pick("image_size"),
    depthMultiplier: pick("depth_multiplier"),
    depthDivisibleBy: pick("depth_divisible_by"),
    minDepth: pick("min_depth"),
    expandRatio: pick("expand_ratio"),
    outputStride: pick("output_stride"),
    firstLayerIsExpansion: pick("first_layer_is_expansion"),
    finegrainedOutput: pick("finegrained_output"),
    tfPadding: pick("tf_padding"),
    classifierDropoutProb: pick("classifier_dropout_prob"),
    initializerRange: pick("initializer_range"),
    layerNormEps: pick("layer_norm_eps"),
    bnMomentum: "hf",
  };
}
