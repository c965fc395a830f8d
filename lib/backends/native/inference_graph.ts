/**
 * What model code needs to take the native compiled inference path without loading oneDNN:
 * the graph descriptions (a CNN as conv/pool/add nodes with batch norm folded in, a ViT/DeiT
 * encoder as its weights), a per-model handle, and the two kernels that run them. The native
 * backend registers those kernels (`inference.ts`, `transformer.ts`); the compiled primitives,
 * buffers and weights live on the handle between batches.
 * @module
 */
import * as tf from "../../tf.ts";
import { CNN_GRAPH, ENCODER } from "./kernel_names.ts";

/** Activation applied after a node (TF/Keras and HF spellings of the same three). */
export type Activation = "linear" | "relu" | "relu6";

/** A convolution (regular or depthwise) with bias, optional residual add and activation. */
export interface ConvNode {
  op: "conv";
  input: number;
  /** Filter in tfjs layout: HWIO, or `[kh, kw, C, multiplier]` when depthwise. */
  weights: Float32Array;
  /** Per output channel, or null. */
  bias: Float32Array | null;
  kernel: [number, number];
  strides: [number, number];
  dilations: [number, number];
  /** `same` (TF: extra pixel bottom/right), `valid`, or explicit `[top, left, bottom, right]`. */
  padding: "same" | "valid" | [number, number, number, number];
  depthwise: boolean;
  /** Output channels (for depthwise: input channels × multiplier). */
  outChannels: number;
  /** Node whose output is added after the bias, before the activation. */
  residual?: number;
  activation: Activation;
}

/** Average pooling (TF semantics: padded positions are not counted); `global` pools H×W. */
export interface PoolNode {
  op: "avgpool";
  input: number;
  global: boolean;
  kernel?: [number, number];
  strides?: [number, number];
  padding?: "same" | "valid";
}

/** Elementwise sum of two nodes followed by an activation (when no convolution can absorb it). */
export interface AddNode {
  op: "add";
  inputs: [number, number];
  activation: Activation;
}

/** The graph input (node 0), NHWC. */
export interface InputNode {
  op: "input";
}

/** One node of an {@linkcode InferenceGraph}. */
export type GraphNode = InputNode | ConvNode | PoolNode | AddNode;

/** A feed-forward graph, nodes in execution order, node 0 the input. */
export interface InferenceGraph {
  nodes: GraphNode[];
  /** Node whose output is the result. */
  output: number;
}

/** `w·a` per output channel and `beta - mean·a` with `a = gamma/sqrt(var+eps)`: BN folded into a conv. */
export function foldBatchNorm(
  weights: Float32Array,
  bias: Float32Array | null,
  bn: {
    gamma: Float32Array | null;
    beta: Float32Array | null;
    mean: Float32Array;
    variance: Float32Array;
    eps: number;
  },
): { weights: Float32Array; bias: Float32Array } {
  const c = bn.mean.length;
  const a = new Float32Array(c), b = new Float32Array(c);
  for (let k = 0; k < c; k++) {
    a[k] = (bn.gamma ? bn.gamma[k] : 1) / Math.sqrt(bn.variance[k] + bn.eps);
    b[k] = (bn.beta ? bn.beta[k] : 0) + ((bias ? bias[k] : 0) - bn.mean[k]) * a[k];
  }
  // The output channel is the innermost axis of both HWIO and [kh, kw, C, 1] layouts.
  const w = new Float32Array(weights.length);
  for (let i = 0; i < w.length; i += c) {
    for (let k = 0; k < c; k++) w[i + k] = weights[i + k] * a[k];
  }
  return { weights: w, bias: b };
}

/** One encoder layer's weights (linear weights `[in, out]`). */
export interface EncoderLayerWeights {
  ln1: [Float32Array, Float32Array];
  /** Q, K and V weights side by side: `[hidden, 3·hidden]`, and their biases `[3·hidden]`. */
  qkv: [Float32Array, Float32Array];
  out: [Float32Array, Float32Array];
  ln2: [Float32Array, Float32Array];
  fc1: [Float32Array, Float32Array];
  fc2: [Float32Array, Float32Array];
}

/** Everything a ViT/DeiT classifier computes with. */
export interface EncoderWeights {
  hidden: number;
  heads: number;
  intermediate: number;
  eps: number;
  patchSize: number;
  channels: number;
  /** HWIO `[p, p, C, hidden]` and `[hidden]`. */
  patch: [Float32Array, Float32Array];
  /** Tokens before the patches (CLS, then DeiT's distillation token), each `[hidden]`. */
  prefix: Float32Array[];
  /** `[tokens, hidden]`. */
  position: Float32Array;
  layers: EncoderLayerWeights[];
  norm: [Float32Array, Float32Array];
  /** Classifier(s) on the prefix tokens in order, `[hidden, labels]` + `[labels]`; averaged. */
  classifiers: [Float32Array, Float32Array][];
}

/**
 * One model's compiled inference state: `build` describes the model from its current weights,
 * `version` identifies those weights (variable data ids: a training step changes them), and the
 * native kernels keep their compiled graphs in `state` (released by {@linkcode dispose}).
 */
export class InferenceHandle<G> {
  readonly build: () => G;
  readonly version: () => readonly unknown[];
  /** Owned by the kernel that runs this handle. */
  state?: { dispose(): void };

  constructor(build: () => G, version: () => readonly unknown[]) {
    this.build = build;
    this.version = version;
  }

  /** Free the compiled primitives and buffers (the model's `dispose` calls this). */
  dispose(): void {
    this.state?.dispose();
    this.state = undefined;
  }
}

/**
 * Whether model code should take its compiled inference path: the `native` backend is active
 * and no gradient tape is recording (an inference graph has no gradients).
 */
export function nativeInferenceActive(): boolean {
  if (tf.getBackend() !== "native") return false;
  // `KD_NATIVE_INFERENCE=off` keeps inference on the per-op tfjs path (A/B comparisons, tests).
  if (Deno.env.get("KD_NATIVE_INFERENCE") === "off") return false;
  const engine = tf.engine() as unknown as { isTapeOn?: () => boolean };
  return !(engine.isTapeOn?.() ?? true);
}

let compiledRuns = 0;

/** How many batches compiled graphs (CNN or transformer) have run (tests: the fast path ran). */
export function compiledInferenceRuns(): number {
  return compiledRuns;
}

/** Count one batch run by a compiled graph (the kernels call this). */
export function countCompiledRun(): void {
  compiledRuns++;
}

/** Run a CNN graph on the NHWC float32 batch `x` (the graph's output: NHWC, e.g. `[n, 1, 1, C]`). */
export function runGraph(handle: InferenceHandle<InferenceGraph>, x: tf.Tensor4D): tf.Tensor {
  return tf.engine().runKernel(
    CNN_GRAPH,
    { x },
    { handle } as unknown as tf.NamedAttrMap,
  ) as tf.Tensor;
}

/** Logits `[batch, labels]` of a ViT/DeiT encoder on the NHWC float32 batch `x`. */
export function runEncoder(handle: InferenceHandle<EncoderWeights>, x: tf.Tensor4D): tf.Tensor2D {
  return tf.engine().runKernel(
    ENCODER,
    { x },
    { handle } as unknown as tf.NamedAttrMap,
  ) as tf.Tensor2D;
}
