/**
 * A pretrained tfjs LayersModel (e.g. an ImageNet MobileNetV2 exported by tfjs) cut at a
 * feature layer, globally average-pooled, with a new linear head: a {@linkcode Classifier}.
 *
 * The graph is executed layer by layer from its Keras topology, which lets the same model run
 * from any block boundary (cached intermediate activations) for cheap fine-tuning of the last
 * blocks. Saved models are self-contained: the truncated topology goes into `config.json`.
 * @module
 */
import * as tf from "../tf.ts";
import { type Classifier, type InputSpec, type ModelConfig, REINIT_HEAD_HINT } from "./model.ts";
import { UserError } from "../core/errors.ts";
import { checkListedPath } from "../core/paths.ts";
import { assertFinite } from "./safetensors.ts";
import { MAX_IMAGE_SIZE } from "../data/preprocess.ts";
import { globalAvgPool } from "./layers.ts";
import {
  type Activation,
  type ConvNode,
  foldBatchNorm,
  type GraphNode,
  type InferenceGraph,
  InferenceHandle,
  nativeInferenceActive,
  runGraph,
} from "../backends/native/inference_graph.ts";

/** A Keras functional-model topology as tfjs writes it in `model.json`. */
export interface KerasTopology {
  class_name: string;
  config: {
    name: string;
    layers: KerasLayer[];
    input_layers: [string, number, number][];
    output_layers: [string, number, number][];
  };
  [key: string]: unknown;
}

interface KerasLayer {
  name: string;
  class_name: string;
  config: Record<string, unknown>;
  inbound_nodes: [string, number, number, unknown][][];
}

/** Architecture of a cut backbone with a linear head. */
export interface BackboneConfig extends ModelConfig {
  kind: "layers_backbone";
  /** Topology truncated at `featureLayer`. */
  topology: KerasTopology;
  featureLayer: string;
  featureSize: number;
  /** Block boundary after which backbone weights are trainable; null = head only. */
  trainableFrom: string | null;
  /** Where the backbone came from (informational). */
  source?: string;
}

interface Node {
  name: string;
  cls: string;
  layer: tf.layers.Layer;
  inputs: string[];
  /** A 1x1/stride-1 linear Conv2D, run as a matMul (fast, and its gradient needs no conv kernels). */
  pointwise: boolean;
  /** The layer's Keras config as serialised in the topology (snake_case keys). */
  config: Record<string, unknown>;
}

function isPointwise(l: KerasLayer): boolean {
  const c = l.config as Record<string, unknown>;
  const ones = (v: unknown) => Array.isArray(v) && v.every((x) => x === 1);
  return l.class_name === "Conv2D" && ones(c.kernel_size) && ones(c.strides ?? [1, 1]) &&
    ones(c.dilation_rate ?? [1, 1]) && (c.activation ?? "linear") === "linear" &&
    (c.data_format ?? "channels_last") === "channels_last";
}

function pointwiseConv(x: tf.Tensor, layer: tf.layers.Layer): tf.Tensor {
  const [kernel, bias] = layer.weights.map((w) => w.read());
  const cin = kernel.shape[2]!, cout = kernel.shape[3]!;
  let y: tf.Tensor = tf.matMul(
    tf.reshape(x, [-1, cin]) as tf.Tensor2D,
    tf.reshape(kernel, [cin, cout]) as tf.Tensor2D,
  );
  if (bias) y = tf.add(y, bias);
  return tf.reshape(y, [...x.shape.slice(0, -1), cout]);
}

/** Backprop kernels a layer class needs to be trained (pointwise convs need none). */
function backpropKernels(n: Node): string[] {
  if (n.pointwise) return [];
  if (n.cls === "Conv2D") return ["Conv2DBackpropFilter", "Conv2DBackpropInput"];
  if (n.cls === "DepthwiseConv2D") {
    return ["DepthwiseConv2dNativeBackpropFilter", "DepthwiseConv2dNativeBackpropInput"];
  }
  return [];
}

const ACTIVATIONS = new Set(["ReLU", "Activation", "LeakyReLU", "Softmax"]);
const CONVS = new Set(["Conv2D", "DepthwiseConv2D", "SeparableConv2D"]);

type Pair = [number, number];
const pair = (v: unknown, d: number): Pair =>
  Array.isArray(v) ? [Number(v[0]), Number(v[1] ?? v[0])] : v === undefined ? [d, d] : [
    Number(v),
    Number(v),
  ];

/** The activation a Keras ReLU/Activation layer (or a conv's `activation`) applies, if fusable. */
function kerasActivation(cls: string, c: Record<string, unknown>): Activation | null {
  if (cls === "ReLU") {
    if (Number(c.negative_slope ?? 0) !== 0 || Number(c.threshold ?? 0) !== 0) return null;
    const max = c.max_value;
    if (max === null || max === undefined) return "relu";
    return Number(max) === 6 ? "relu6" : null;
  }
  const a = String(c.activation ?? "linear");
  return a === "linear" || a === "relu" || a === "relu6" ? a : null;
}

/**
 * The layers of `nodes` (those after `from`, up to `to`) as a native inference graph builder, or
 * null when a layer has no exact counterpart there (the caller keeps the tfjs path). Batch norms
 * fold into the preceding conv, activations and adds fuse into the conv producing their input
 * when nothing else reads it, zero padding becomes the next conv's own padding.
 */
function inferenceGraphBuilder(
  nodes: Node[],
  to: string,
): (() => InferenceGraph) | null {
  const end = nodes.findIndex((n) => n.name === to);
  if (end < 0) return null;
  const used = nodes.slice(1, end + 1);
  const consumers = new Map<string, number>([[to, 1]]);
  for (const n of used) for (const i of n.inputs) consumers.set(i, (consumers.get(i) ?? 0) + 1);
  // Plan the structure once (null if unsupported); weights are read when the graph is built.
  type Op =
    | { kind: "conv"; node: Node; input: string; pad?: [number, number, number, number] }
    | { kind: "bn"; node: Node; conv: number }
    | { kind: "act"; target: number; act: Activation }
    | { kind: "residual"; conv: number; other: string }
    | { kind: "add"; node: Node; act: Activation }
    | { kind: "pool"; node: Node; global: boolean };
  const ops: Op[] = [];
  // Keras layer name -> index into `ops` of the op producing it (-1: the graph input).
  const producer = new Map<string, number>([[nodes[0].name, -1]]);
  const pads = new Map<string, { input: string; pad: [number, number, number, number] }>();
  const fusable = (name: string) => {
    const at = producer.get(name);
    if (at === undefined || at < 0 || consumers.get(name) !== 1) return -1;
    const op = ops[at];
    return op.kind === "conv" || op.kind === "add" ? at : -1;
  };
  const activationOf = new Map<number, Activation>();
  const hasResidual = new Set<number>();
  for (const n of used) {
    const c = n.config;
    if ((c.data_format ?? "channels_last") !== "channels_last") return null;
    if (n.cls === "Conv2D" || n.cls === "DepthwiseConv2D") {
      const act = kerasActivation("", c);
      if (!act) return null;
      let input = n.inputs[0], pad: [number, number, number, number] | undefined;
      const zp = pads.get(input);
      if (zp) {
        if (String(c.padding) !== "valid") return null;
        ({ input, pad } = zp);
      } else if (!producer.has(input)) return null;
      if (Number(c.groups ?? 1) !== 1) return null;
      ops.push({ kind: "conv", node: n, input, pad });
      const at = ops.length - 1;
      if (act !== "linear") activationOf.set(at, act);
      producer.set(n.name, at);
    } else if (n.cls === "ZeroPadding2D") {
      if (consumers.get(n.name) !== 1) return null;
      const p = c.padding as number | number[] | number[][];
      const [[t, b], [l, r]] = typeof p === "number"
        ? [[p, p], [p, p]]
        : Array.isArray(p[0])
        ? p as number[][]
        : [[p[0] as number, p[0] as number], [p[1] as number, p[1] as number]];
      pads.set(n.name, { input: n.inputs[0], pad: [t, l, b, r] });
    } else if (n.cls === "BatchNormalization") {
      const at = fusable(n.inputs[0]);
      const axis = Number(Array.isArray(c.axis) ? c.axis[0] : c.axis ?? -1);
      if (at < 0 || ops[at].kind !== "conv" || activationOf.has(at) || hasResidual.has(at)) {
        return null;
      }
      if (axis !== -1 && axis !== 3) return null;
      ops.push({ kind: "bn", node: n, conv: at });
      producer.set(n.name, at);
    } else if (n.cls === "ReLU" || n.cls === "Activation") {
      const act = kerasActivation(n.cls, c);
      const at = fusable(n.inputs[0]);
      if (!act || at < 0 || activationOf.has(at)) return null;
      if (act !== "linear") activationOf.set(at, act);
      producer.set(n.name, at);
    } else if (n.cls === "Add" && n.inputs.length === 2) {
      const [a, b] = n.inputs;
      if (!producer.has(a) || !producer.has(b)) return null;
      // Fuse into the conv computed last, when the other operand is still live then.
      const ia = fusable(a), ib = fusable(b);
      const target = Math.max(ia, ib);
      const ok = target >= 0 && ops[target].kind === "conv" && !activationOf.has(target) &&
        !hasResidual.has(target);
      if (ok) {
        const other = target === ia ? b : a;
        ops.push({ kind: "residual", conv: target, other });
        hasResidual.add(target);
        producer.set(n.name, target);
      } else {
        ops.push({ kind: "add", node: n, act: "linear" });
        producer.set(n.name, ops.length - 1);
      }
    } else if (n.cls === "AveragePooling2D" || n.cls === "GlobalAveragePooling2D") {
      if (!producer.has(n.inputs[0])) return null;
      if (n.cls === "GlobalAveragePooling2D" && c.keepdims === true) return null;
      ops.push({ kind: "pool", node: n, global: n.cls === "GlobalAveragePooling2D" });
      producer.set(n.name, ops.length - 1);
    } else if (n.cls === "Dropout") {
      if (!producer.has(n.inputs[0])) return null;
      producer.set(n.name, producer.get(n.inputs[0])!);
    } else return null;
  }
  if (!producer.has(to)) return null;
  const output = producer.get(to)!;
  if (output < 0) return null;

  return () => {
    const graphNodes: GraphNode[] = [{ op: "input" }];
    const idOf = new Map<number, number>([[-1, 0]]);
    const ref = (name: string) => idOf.get(producer.get(name)!)!;
    const weights = (n: Node) =>
      new Map(n.layer.weights.map((w) => [w.originalName.split("/").pop()!, w.read()]));
    const values = (t?: tf.Tensor) => t ? t.dataSync() as Float32Array : null;
    ops.forEach((op, at) => {
      if (op.kind === "conv") {
        const c = op.node.config;
        const w = weights(op.node);
        const kernel = w.get("kernel") ?? w.get("depthwise_kernel")!;
        const depthwise = op.node.cls === "DepthwiseConv2D";
        const [kh, kw, ci, co] = kernel.shape as number[];
        const node: ConvNode = {
          op: "conv",
          input: ref(op.input),
          weights: values(kernel)!,
          bias: values(w.get("bias")),
          kernel: [kh, kw],
          strides: pair(c.strides, 1),
          dilations: pair(c.dilation_rate, 1),
          padding: op.pad ?? (String(c.padding) === "same" ? "same" : "valid"),
          depthwise,
          outChannels: depthwise ? ci * co : co,
          activation: activationOf.get(at) ?? "linear",
        };
        idOf.set(at, graphNodes.push(node) - 1);
      } else if (op.kind === "bn") {
        const node = graphNodes[idOf.get(op.conv)!] as ConvNode;
        const c = op.node.config;
        const w = weights(op.node);
        const folded = foldBatchNorm(node.weights, node.bias, {
          gamma: values(w.get("gamma")),
          beta: values(w.get("beta")),
          mean: values(w.get("moving_mean"))!,
          variance: values(w.get("moving_variance"))!,
          eps: Number(c.epsilon ?? 1e-3),
        });
        node.weights = folded.weights;
        node.bias = folded.bias;
      } else if (op.kind === "residual") {
        (graphNodes[idOf.get(op.conv)!] as ConvNode).residual = ref(op.other);
      } else if (op.kind === "add") {
        const [a, b] = op.node.inputs.map(ref);
        idOf.set(at, graphNodes.push({ op: "add", inputs: [a, b], activation: "linear" }) - 1);
      } else if (op.kind === "pool") {
        const c = op.node.config;
        const pool = op.global
          ? { op: "avgpool" as const, input: ref(op.node.inputs[0]), global: true }
          : {
            op: "avgpool" as const,
            input: ref(op.node.inputs[0]),
            global: false,
            kernel: pair(c.pool_size, 2),
            strides: pair(c.strides ?? c.pool_size, 2),
            padding: String(c.padding) === "same" ? "same" as const : "valid" as const,
          };
        idOf.set(at, graphNodes.push(pool) - 1);
      }
    });
    // Activations recorded for adds apply to the add nodes.
    for (const [at, act] of activationOf) {
      const node = graphNodes[idOf.get(at)!];
      if (node.op === "add") node.activation = act;
    }
    return { nodes: graphNodes, output: idOf.get(output)! };
  };
}

/** Keep only `featureLayer` and its ancestors; it becomes the single output. */
export function truncateTopology(t: KerasTopology, featureLayer: string): KerasTopology {
  const byName = new Map(t.config.layers.map((l) => [l.name, l]));
  if (!byName.has(featureLayer)) {
    throw new UserError(
      `layer "${featureLayer}" is not in the model (layers: ${
        t.config.layers.map((l) => l.name).join(", ")
      })`,
    );
  }
  const keep = new Set<string>();
  const stack = [featureLayer];
  while (stack.length) {
    const n = stack.pop()!;
    if (keep.has(n)) continue;
    keep.add(n);
    for (const node of byName.get(n)!.inbound_nodes) for (const i of node) stack.push(i[0]);
  }
  return {
    ...t,
    config: {
      ...t.config,
      layers: t.config.layers.filter((l) => keep.has(l.name)),
      output_layers: [[featureLayer, 0, 0]],
    },
  };
}

/** The default feature layer: the last AveragePooling2D/GlobalAveragePooling2D layer. */
export function defaultFeatureLayer(t: KerasTopology): string {
  const pools = t.config.layers.filter((l) => /AveragePooling2D$/.test(l.class_name));
  if (!pools.length) {
    throw new UserError("the model has no AveragePooling2D layer; pass --features-from LAYER");
  }
  return pools[pools.length - 1].name;
}

/**
 * Block boundaries of a topology up to `featureLayer`, in order: layers whose output alone
 * carries the state forward into convolutions (where the graph can be resumed from).
 */
export function topologyBoundaries(t: KerasTopology, featureLayer: string): string[] {
  const nodes = t.config.layers.map((l) => ({
    name: l.name,
    cls: l.class_name,
    inputs: l.inbound_nodes.flatMap((n) => n.map((i) => i[0])),
  }));
  const idx = new Map(nodes.map((n, i) => [n.name, i]));
  const lastUse = new Map<string, number>();
  const consumers = new Map<string, string[]>();
  nodes.forEach((n, i) => {
    for (const inp of n.inputs) {
      lastUse.set(inp, i);
      consumers.set(inp, [...(consumers.get(inp) ?? []), n.cls]);
    }
  });
  const out: string[] = [];
  const live = new Set<string>();
  const featureIdx = idx.get(featureLayer) ?? nodes.length;
  nodes.forEach((n, i) => {
    live.add(n.name);
    for (const l of [...live]) if ((lastUse.get(l) ?? -1) <= i && l !== n.name) live.delete(l);
    if (i >= featureIdx) return;
    const cons = consumers.get(n.name) ?? [];
    // The input itself is no boundary: resuming from it is running from the image (null).
    if (
      live.size === 1 && !ACTIVATIONS.has(n.cls) && n.cls !== "InputLayer" && cons.length > 0 &&
      cons.every((c) => CONVS.has(c))
    ) out.push(n.name);
  });
  return out;
}

/**
 * The layer a `--features-from` value names: a layer name, or `block:K`, the end of the K-th
 * block (K = number of boundaries + 1 is the default feature layer).
 */
export function resolveFeatureLayer(t: KerasTopology, featuresFrom?: string): string {
  const full = defaultFeatureLayer(t);
  const m = /^block:(\d+)$/.exec(featuresFrom ?? "");
  if (!m) return featuresFrom ?? full;
  const points = [...topologyBoundaries(t, full), full];
  const k = Number(m[1]);
  if (k < 1 || k > points.length) {
    throw new UserError(
      `--features-from ${featuresFrom}: the model has blocks 1 to ${points.length}`,
    );
  }
  return points[k - 1];
}

/** The cut backbone + head (see the module doc). */
export class LayersBackbone implements Classifier {
  readonly config: BackboneConfig;
  readonly input: InputSpec;
  #model: tf.LayersModel;
  #nodes: Node[];
  #vars = new Map<string, tf.Variable>();
  #varLayer = new Map<string, string>();
  #head: { weight: tf.Variable; bias: tf.Variable };
  /** Compiled inference graphs by `from|to` (null: that range stays on the tfjs path). */
  #inference = new Map<string, InferenceHandle<InferenceGraph> | null>();

  private constructor(
    model: tf.LayersModel,
    config: BackboneConfig,
    input: InputSpec,
    seed?: number,
  ) {
    this.#model = model;
    this.config = config;
    this.input = input;
    const layers = new Map(model.layers.map((l) => [l.name, l]));
    this.#nodes = config.topology.config.layers.map((l) => ({
      name: l.name,
      cls: l.class_name,
      layer: layers.get(l.name)!,
      inputs: l.inbound_nodes.flatMap((n) => n.map((i) => i[0])),
      pointwise: isPointwise(l),
      config: l.config,
    }));
    for (const lv of model.weights) {
      const v = lv.read() as tf.Variable;
      this.#vars.set(`backbone.${lv.originalName}`, v);
      this.#varLayer.set(`backbone.${lv.originalName}`, lv.originalName.split("/")[0]);
    }
    const n = config.featureSize, k = config.numLabels;
    // Glorot-uniform like a Keras Dense head; zero bias.
    const lim = Math.sqrt(6 / (n + k));
    this.#head = {
      weight: tf.variable(tf.randomUniform([n, k], -lim, lim, "float32", seed), true),
      bias: tf.variable(tf.zeros([k]), true),
    };
    this.setTrainableFrom(config.trainableFrom);
  }

  /** Build from a topology (weights random until assigned); `featureSize` is measured if 0. */
  static async build(
    config: BackboneConfig,
    input: InputSpec,
    seed?: number,
  ): Promise<LayersBackbone> {
    const model = await tf.models.modelFromJSON({
      modelTopology: config.topology as unknown as Parameters<
        typeof tf.models.modelFromJSON
      >[0]["modelTopology"],
    });
    if (!config.featureSize) {
      const shape = model.outputs[0].shape;
      config.featureSize = shape[shape.length - 1] as number;
    }
    return new LayersBackbone(model, config, input, seed);
  }

  /** Block boundaries in order: layer names whose output alone carries the state forward. */
  boundaries(): string[] {
    return topologyBoundaries(this.config.topology, this.config.featureLayer);
  }

  /** The layer whose (pooled) output feeds the head. */
  get featurePoint(): string {
    return this.config.featureLayer;
  }

  /** Width of the pooled features. */
  get featureSize(): number {
    return this.config.featureSize;
  }

  /** Every state variable except the head's (the part a feature cache depends on). */
  backboneVariables(): Map<string, tf.Variable> {
    return new Map(this.#vars);
  }

  /** Make the backbone trainable after boundary `from` (null: head only). */
  setTrainableFrom(from: string | null): void {
    if (from !== null && !this.boundaries().includes(from)) {
      throw new UserError(`"${from}" is not a block boundary (${this.boundaries().join(", ")})`);
    }
    this.config.trainableFrom = from;
  }

  /** Gradient kernels the current backend lacks for training the layers after `from`. */
  missingKernels(from: string | null): string[] {
    const need = new Set(this.#after(from).flatMap(backpropKernels));
    return [...need].filter((k) => !tf.getKernel(k, tf.getBackend()));
  }

  /** Layers (in order) that run after boundary `from` up to the feature layer. */
  #after(from: string | null): Node[] {
    const start = from === null ? 0 : this.#nodes.findIndex((n) => n.name === from) + 1;
    return this.#nodes.slice(start);
  }

  trainableVariables(): Map<string, tf.Variable> {
    const out = new Map<string, tf.Variable>();
    const from = this.config.trainableFrom;
    if (from !== null) {
      const layers = new Set(this.#after(from).map((n) => n.name));
      for (const [name, v] of this.#vars) {
        if (layers.has(this.#varLayer.get(name)!)) out.set(name, v);
      }
    }
    out.set("classifier.weight", this.#head.weight);
    out.set("classifier.bias", this.#head.bias);
    return out;
  }

  stateVariables(): Map<string, tf.Variable> {
    const out = new Map(this.#vars);
    out.set("classifier.weight", this.#head.weight);
    out.set("classifier.bias", this.#head.bias);
    return out;
  }

  /**
   * Run the graph from boundary `from` (null = the input layer) with `x` as that layer's output,
   * up to `to` (default the feature layer); intermediate tensors are freed when no longer needed
   * (outside training).
   */
  runFrom(
    from: string | null,
    x: tf.Tensor,
    opts: { training?: boolean; to?: string } = {},
  ): tf.Tensor {
    const training = opts.training ?? false;
    const to = opts.to ?? this.config.featureLayer;
    const nodes = this.#after(from);
    if (!training && x.rank === 4 && nativeInferenceActive()) {
      const runner = this.#runner(from, to, nodes);
      if (runner) {
        const y = runGraph(runner, x as tf.Tensor4D);
        const cls = nodes.find((n) => n.name === to)?.cls;
        if (cls !== "GlobalAveragePooling2D") return y;
        const flat = tf.reshape(y, [y.shape[0], y.shape[3]!]);
        y.dispose();
        return flat;
      }
    }
    const values = new Map<string, tf.Tensor>();
    values.set(from ?? this.#nodes[0].name, x);
    const remaining = new Map<string, number>();
    for (const n of nodes) for (const i of n.inputs) remaining.set(i, (remaining.get(i) ?? 0) + 1);
    const begin = from === null ? 1 : 0;
    for (const n of nodes.slice(begin)) {
      const ins = n.inputs.map((i) => {
        const t = values.get(i);
        if (!t) throw new Error(`layers_backbone: input "${i}" of "${n.name}" not computed`);
        return t;
      });
      const y = n.pointwise
        ? pointwiseConv(ins[0], n.layer)
        : n.layer.apply(ins.length === 1 ? ins[0] : ins, { training }) as tf.Tensor;
      values.set(n.name, y);
      if (n.name === to) return y;
      if (!training) {
        for (const i of n.inputs) {
          const left = remaining.get(i)! - 1;
          remaining.set(i, left);
          if (left === 0 && values.get(i) !== x) values.get(i)!.dispose();
        }
      }
    }
    throw new Error(`layers_backbone: layer "${to}" not reached`);
  }

  /** The compiled inference graph of the layers after `from` up to `to`, if all are supported. */
  #runner(from: string | null, to: string, nodes: Node[]): InferenceHandle<InferenceGraph> | null {
    const key = `${from}|${to}`;
    if (!this.#inference.has(key)) {
      const start = from === null ? nodes : [this.#nodes.find((n) => n.name === from)!, ...nodes];
      const build = inferenceGraphBuilder(start, to);
      this.#inference.set(
        key,
        build && new InferenceHandle(build, () => [...this.#vars.values()].map((v) => v.dataId)),
      );
    }
    return this.#inference.get(key)!;
  }

  /** Pooled features `[batch, featureSize]` from boundary `from` (null: from the image). */
  featuresFrom(from: string | null, x: tf.Tensor, opts: { training?: boolean } = {}): tf.Tensor2D {
    return tf.tidy(() => {
      const y = this.runFrom(from, x, opts);
      return (y.rank === 4
        ? globalAvgPool(y as tf.Tensor4D)
        : tf.reshape(y, [y.shape[0], -1])) as tf.Tensor2D;
    });
  }

  /** Logits from pooled features. */
  head(features: tf.Tensor2D): tf.Tensor2D {
    return tf.add(tf.matMul(features, this.#head.weight), this.#head.bias);
  }

  apply(x: tf.Tensor4D, opts: { training?: boolean } = {}): tf.Tensor2D {
    if (x.shape[1] !== this.input.size || x.shape[2] !== this.input.size || x.shape[3] !== 3) {
      throw new UserError(
        `layers_backbone: input [${x.shape}] does not match [batch, ${this.input.size}, ${this.input.size}, 3] (NHWC)`,
      );
    }
    return tf.tidy(() => this.head(this.featuresFrom(null, x, opts)));
  }

  dispose(): void {
    for (const r of this.#inference.values()) r?.dispose();
    this.#inference.clear();
    this.#model.dispose();
    this.#head.weight.dispose();
    this.#head.bias.dispose();
  }
}

/** Options for {@linkcode loadTfjsLayersDir}. */
export interface LoadBackboneOptions {
  /** Labels of a new head (with `head: "new"`; a loaded head has its own). */
  numLabels?: number;
  labels?: string[];
  /** Layer to take features from: a name or `block:K` (default: the last average-pooling layer). */
  featureLayer?: string;
  /** Where the model came from, recorded in its config (default: the folder). */
  source?: string;
  seed?: number;
  /**
   * `new` (default): attach a fresh `numLabels` head, as a backbone for a teacher or a student.
   * `load`: the model is a classifier (an exported student, an ImageNet model): its own head is
   * loaded and a model without one is refused, so it is never silently replaced by random weights.
   */
  head?: "new" | "load";
}

/** The classifier head after `featureLayer`: a Dense, or a 1×1 Conv2D + Flatten/Reshape. */
interface HeadLayer {
  name: string;
  units: number;
}

/**
 * The head that maps the pooled features to the model's output, or null when the layers after
 * `featureLayer` are not exactly a linear classifier (dropout aside).
 */
export function findHead(t: KerasTopology, featureLayer: string): HeadLayer | null {
  const layers = t.config.layers;
  const inputsOf = (l: KerasLayer) => l.inbound_nodes.flatMap((n) => n.map((i) => i[0]));
  const chain: KerasLayer[] = [];
  let at = featureLayer;
  for (;;) {
    const next = layers.filter((l) => inputsOf(l).includes(at));
    if (next.length === 0) break;
    if (next.length > 1 || inputsOf(next[0]).length !== 1) return null;
    if (next[0].class_name !== "Dropout") chain.push(next[0]);
    at = next[0].name;
  }
  const output = t.config.output_layers?.[0]?.[0];
  if (output !== at) return null;
  const c = (l: KerasLayer) => l.config as Record<string, unknown>;
  const linear = (l: KerasLayer) => (c(l).activation ?? "linear") === "linear";
  const units = (v: unknown) => (typeof v === "number" && v > 0 ? v : null);
  if (chain.length === 1 && chain[0].class_name === "Dense" && linear(chain[0])) {
    const k = units(c(chain[0]).units);
    return k === null ? null : { name: chain[0].name, units: k };
  }
  const ones = (v: unknown) => Array.isArray(v) && v.every((x) => x === 1);
  if (
    chain.length === 2 && chain[0].class_name === "Conv2D" && linear(chain[0]) &&
    ones(c(chain[0]).kernel_size) && ["Flatten", "Reshape"].includes(chain[1].class_name)
  ) {
    const k = units(c(chain[0]).filters);
    return k === null ? null : { name: chain[0].name, units: k };
  }
  return null;
}

/**
 * Load a tfjs LayersModel directory (`model.json` + weight files) from disk (a custom IO handler:
 * Deno has no file:// loader), cut it at the feature layer and attach a head: a new `numLabels`
 * one, or with `head: "load"` its own. Input preparation is the export's metadata when it has
 * one, else `x/127.5 - 1` (mean = std = 0.5) at the model's input size. Every weight must be
 * float32 and finite.
 */
export async function loadTfjsLayersDir(
  dir: string,
  opts: LoadBackboneOptions,
): Promise<LayersBackbone> {
  const path = `${dir}/model.json`;
  let mj: {
    modelTopology: KerasTopology;
    weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
    userDefinedMetadata?: {
      class_names?: unknown;
      preprocessing?: { size?: unknown; mean?: unknown; std?: unknown };
    };
  };
  try {
    mj = JSON.parse(await Deno.readTextFile(path));
  } catch (e) {
    throw new UserError(`${path}: cannot read a tfjs model.json (${(e as Error).message})`);
  }
  if (!mj?.modelTopology?.config?.layers || !Array.isArray(mj.weightsManifest)) {
    throw new UserError(
      `${path}: not a tfjs LayersModel (needs modelTopology and weightsManifest)`,
    );
  }
  const full = mj.modelTopology;
  const featureLayer = resolveFeatureLayer(full, opts.featureLayer);
  const topology = truncateTopology(full, featureLayer);
  const inShape = full.config.layers[0].config.batch_input_shape as (number | null)[] | undefined;
  const size = inShape?.[1] ?? 224;
  if (!Number.isInteger(size) || size < 1 || size > MAX_IMAGE_SIZE) {
    throw new UserError(
      `${path}: the input layer's "batch_input_shape" size must be an integer in [1, ` +
        `${MAX_IMAGE_SIZE}], got ${JSON.stringify(size)}`,
    );
  }
  const meta = mj.userDefinedMetadata;
  let head: HeadLayer | null = null;
  let numLabels = opts.numLabels, labels = opts.labels;
  if (opts.head === "load") {
    head = findHead(full, featureLayer);
    if (!head) {
      throw new UserError(
        `${path}: no classifier head after layer "${featureLayer}" to load (a feature extractor)`,
        { hint: REINIT_HEAD_HINT },
      );
    }
    numLabels = head.units;
    const names = meta?.class_names;
    labels = Array.isArray(names) && names.length === head.units &&
        names.every((n) => typeof n === "string")
      ? names as string[]
      : opts.labels?.length === head.units
      ? opts.labels
      : undefined;
  }
  if (numLabels === undefined) throw new UserError(`${path}: the number of labels is needed`);
  const pre = meta?.preprocessing;
  const triple = (v: unknown) =>
    Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === "number" && x > 0)
      ? v as [number, number, number]
      : undefined;
  const model = await LayersBackbone.build(
    {
      kind: "layers_backbone",
      numLabels,
      labels,
      topology,
      featureLayer,
      featureSize: 0,
      trainableFrom: null,
      source: opts.source ?? dir,
    },
    {
      size,
      mean: triple(pre?.mean) ?? [0.5, 0.5, 0.5],
      std: triple(pre?.std) ?? [0.5, 0.5, 0.5],
    },
    opts.seed,
  );
  try {
    const vars = model.stateVariables();
    const assigned = new Set<string>();
    const assign = (v: tf.Variable, data: Float32Array, shape: number[]) => {
      const t = tf.tensor(data, shape);
      v.assign(t);
      t.dispose();
    };
    for (const group of mj.weightsManifest) {
      // Every weights file must lie in the model's folder: model.json may come from anywhere.
      if (!Array.isArray(group?.paths)) {
        throw new UserError(`${path}: a weightsManifest entry has no "paths" list`);
      }
      const paths = group.paths.map((p) => checkListedPath(path, "weights path", p));
      const buffers = await Promise.all(paths.map(async (p) => {
        try {
          return await Deno.readFile(`${dir}/${p}`);
        } catch (e) {
          throw new UserError(`${dir}/${p}: cannot read weights (${(e as Error).message})`);
        }
      }));
      const total = buffers.reduce((a, b) => a + b.length, 0);
      const all = new Uint8Array(total);
      let at = 0;
      for (const b of buffers) {
        all.set(b, at);
        at += b.length;
      }
      let off = 0;
      for (const w of group.weights) {
        if (w.dtype && w.dtype !== "float32") {
          throw new UserError(`${path}: weight "${w.name}" has dtype ${w.dtype} (float32 only)`);
        }
        const count = w.shape.reduce((a, b) => a * b, 1);
        if (off + count * 4 > all.length) {
          throw new UserError(`${dir}: weight "${w.name}" runs past the end of the weight files`);
        }
        const v = vars.get(`backbone.${w.name}`);
        const layer = w.name.split("/")[0];
        if (v || layer === head?.name) {
          const data = new Float32Array(all.slice(off, off + count * 4).buffer);
          assertFinite(data, `${dir}/${group.paths.join(",")}: weight "${w.name}"`);
          if (v) {
            if (v.shape.join() !== w.shape.join()) {
              throw new UserError(
                `${path}: weight "${w.name}" is [${w.shape}], model expects [${v.shape}]`,
              );
            }
            assign(v, data, w.shape);
            assigned.add(`backbone.${w.name}`);
          } else {
            // The head as [features, labels] (a 1×1 conv kernel is [1, 1, features, labels]).
            const bias = w.shape.length === 1;
            const target = vars.get(bias ? "classifier.bias" : "classifier.weight")!;
            if (count !== target.size) {
              throw new UserError(
                `${path}: weight "${w.name}" is [${w.shape}], the head expects [${target.shape}]`,
              );
            }
            assign(target, data, target.shape);
            assigned.add(bias ? "classifier.bias" : "classifier.weight");
          }
        }
        off += count * 4;
      }
    }
    const missing = [...vars.keys()].filter((k) =>
      (k.startsWith("backbone.") || head) && !assigned.has(k)
    );
    if (missing.length) {
      throw new UserError(
        `${path}: no weights for ${missing.map((m) => m.replace(/^backbone\./, "")).join(", ")}`,
      );
    }
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}
