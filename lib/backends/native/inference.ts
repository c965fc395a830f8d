/**
 * Inference graphs of convolutional networks compiled to oneDNN primitives, for the `native`
 * backend: each convolution runs as one primitive with its bias, a residual add (`sum` post-op,
 * in place over the residual's buffer) and its activation fused; TF "SAME" padding is the
 * primitive's own asymmetric padding (no pad copies); activations stay NHWC from input to output
 * (no reorders between layers), weights are reordered once into the layout each primitive wants,
 * and primitives, activation buffers and the scratchpad are created once per input shape and
 * reused for every batch. Models describe themselves as an {@linkcode InferenceGraph} (batch norm
 * already folded into the convolutions: {@linkcode foldBatchNorm}); graphs with anything else
 * stay on the tfjs path.
 * @module
 */
import type * as tf from "../../tf.ts";
import {
  checkInit,
  ctx,
  D,
  Executable,
  md,
  mdEqual,
  mdSize,
  opDesc,
  type PostOp,
  postOpSrc1,
  primitiveAttr,
  primitiveDesc,
  reorderOnce,
  streamWait,
  wantedMd,
} from "./dnnl.ts";
import {
  type Activation,
  type ConvNode,
  countCompiledRun,
  type GraphNode,
  type InferenceGraph,
  type InferenceHandle,
} from "./inference_graph.ts";
import { type NativeKernel, output, valuesOf } from "./kernels.ts";
import { CNN_GRAPH } from "./kernel_names.ts";

interface Shape {
  n: number;
  h: number;
  w: number;
  c: number;
}

/** TF padding of one spatial axis: [before, after, output size]. */
function padAxis(
  size: number,
  k: number,
  s: number,
  d: number,
  padding: "same" | "valid",
): [number, number, number] {
  const eff = (k - 1) * d + 1;
  if (padding === "valid") return [0, 0, Math.floor((size - eff) / s) + 1];
  const out = Math.ceil(size / s);
  const total = Math.max((out - 1) * s + eff - size, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2), out];
}

function convGeometry(n: ConvNode, x: Shape) {
  let pt: number, pb: number, pl: number, pr: number, oh: number, ow: number;
  const [kh, kw] = n.kernel, [sh, sw] = n.strides, [dh, dw] = n.dilations;
  if (Array.isArray(n.padding)) {
    [pt, pl, pb, pr] = n.padding;
    oh = Math.floor((x.h + pt + pb - ((kh - 1) * dh + 1)) / sh) + 1;
    ow = Math.floor((x.w + pl + pr - ((kw - 1) * dw + 1)) / sw) + 1;
  } else {
    [pt, pb, oh] = padAxis(x.h, kh, sh, dh, n.padding);
    [pl, pr, ow] = padAxis(x.w, kw, sw, dw, n.padding);
  }
  return { pt, pb, pl, pr, oh, ow };
}

const dims2 = (a: number, b: number) => {
  const d = new BigInt64Array(12);
  d[0] = BigInt(a);
  d[1] = BigInt(b);
  return d;
};

const ACT: Record<Activation, PostOp | null> = {
  linear: null,
  relu: { kind: "eltwise", alg: D.alg.relu, alpha: 0, beta: 0 },
  relu6: { kind: "eltwise", alg: D.alg.clip, alpha: 0, beta: 6 },
};

interface Step {
  exec: Executable;
  /** The node's weights and bias go into these internal buffers on each weight load. */
  weights?: { node: number; userMd: Uint8Array<ArrayBuffer>; wantMd: Uint8Array<ArrayBuffer> };
  /** Bind the graph input to this argument on each run. */
  /** Arguments bound to the graph input on each run (node 0 has no buffer of its own). */
  inputArgs: number[];
}

/** A graph compiled for one input shape (see the module doc). */
export class CompiledGraph {
  readonly inputShape: [number, number, number, number];
  readonly outputShape: number[];
  #steps: Step[] = [];
  #buffers: Float32Array[] = [];
  #outBuffer: Float32Array;
  #weightBuffers = new Map<number, { w: Float32Array; b: Float32Array }>();
  #loaded: InferenceGraph | null = null;

  constructor(graph: InferenceGraph, inputShape: [number, number, number, number]) {
    this.inputShape = inputShape;
    const [n, h, w, c] = inputShape;
    const shapes: Shape[] = [];
    const lastUse = graph.nodes.map(() => -1);
    graph.nodes.forEach((node, i) => {
      for (const j of inputsOf(node)) lastUse[j] = Math.max(lastUse[j], i);
    });
    lastUse[graph.output] = graph.nodes.length;
    // Buffer slots by liveness; a conv with a residual writes over the residual's slot.
    const slotOf: number[] = [];
    const slotSize: number[] = [];
    const free: number[] = [];
    const takeSlot = (elements: number): number => {
      const s = free.length ? free.pop()! : slotSize.push(0) - 1;
      slotSize[s] = Math.max(slotSize[s], elements);
      return s;
    };
    const specs: { node: number; build: () => Step }[] = [];
    graph.nodes.forEach((node, i) => {
      if (node.op === "input") {
        shapes.push({ n, h, w, c });
        slotOf.push(-1);
        return;
      }
      const x = shapes[inputsOf(node)[0]];
      let out: Shape;
      if (node.op === "conv") {
        const g = convGeometry(node, x);
        out = { n, h: g.oh, w: g.ow, c: node.outChannels };
      } else if (node.op === "avgpool") {
        if (node.global) out = { n, h: 1, w: 1, c: x.c };
        else {
          const [kh, kw] = node.kernel!, [sh, sw] = node.strides!;
          const [, , oh] = padAxis(x.h, kh, sh, 1, node.padding ?? "valid");
          const [, , ow] = padAxis(x.w, kw, sw, 1, node.padding ?? "valid");
          out = { ...x, h: oh, w: ow };
        }
      } else out = { ...x };
      shapes.push(out);
      const elements = out.n * out.h * out.w * out.c;
      const inPlace = node.op === "conv" && node.residual !== undefined &&
          node.residual !== node.input && lastUse[node.residual] === i &&
          slotOf[node.residual] >= 0
        ? node.residual
        : undefined;
      let slot: number;
      if (inPlace !== undefined) {
        slot = slotOf[inPlace];
        slotSize[slot] = Math.max(slotSize[slot], elements);
      } else slot = takeSlot(elements);
      slotOf.push(slot);
      // Inputs that die here are freed only after the output took its slot: no primitive here
      // runs with its source and destination in one buffer.
      for (const j of new Set(inputsOf(node))) {
        if (lastUse[j] === i && slotOf[j] >= 0 && j !== inPlace) free.push(slotOf[j]);
      }
      specs.push({ node: i, build: () => this.#build(graph, i, shapes, slotOf, inPlace) });
    });
    for (const size of slotSize) this.#buffers.push(new Float32Array(size));
    this.#slotOf = slotOf;
    let scratch = 0;
    for (const s of specs) {
      const step = s.build();
      this.#steps.push(step);
      scratch = Math.max(scratch, step.exec.scratchBytes);
    }
    this.#scratch = new Uint8Array(Math.max(scratch, 64));
    for (const step of this.#steps) {
      if (step.exec.scratchBytes) step.exec.bind(D.arg.scratchpad, this.#scratch);
    }
    const o = shapes[graph.output];
    this.outputShape = [o.n, o.h, o.w, o.c];
    this.#outBuffer = this.#buffers[slotOf[graph.output]];
    this.#outElements = o.n * o.h * o.w * o.c;
    this.loadWeights(graph);
  }

  #slotOf: number[];
  #scratch: Uint8Array;
  #outElements: number;

  #build(
    graph: InferenceGraph,
    i: number,
    shapes: Shape[],
    slotOf: number[],
    inPlace: number | undefined,
  ): Step {
    const node = graph.nodes[i];
    const { lib } = ctx();
    const nhwc = (s: Shape) => md([s.n, s.c, s.h, s.w], D.tag.nhwc);
    const out = shapes[i];
    const dstMd = nhwc(out);
    const buffer = (j: number) => this.#buffers[slotOf[j]];
    let step: Step;
    if (node.op === "conv") {
      const x = shapes[node.input];
      const g = convGeometry(node, x);
      const groups = node.depthwise ? x.c : 1;
      const wDims = groups === 1
        ? [node.outChannels, x.c, node.kernel[0], node.kernel[1]]
        : [groups, node.outChannels / groups, 1, node.kernel[0], node.kernel[1]];
      const userW = md(wDims, groups === 1 ? D.tag.hwio : D.tag.hwigo);
      const anyW = md(wDims, D.tag.any);
      const biasMd = md([node.outChannels], D.tag.a);
      const srcMd = nhwc(x);
      const op = opDesc();
      checkInit(
        lib.dnnl_dilated_convolution_forward_desc_init(
          op,
          D.prop.fwdInference,
          D.alg.convDirect,
          srcMd,
          anyW,
          Deno.UnsafePointer.of(biasMd),
          dstMd,
          dims2(node.strides[0], node.strides[1]),
          dims2(node.dilations[0] - 1, node.dilations[1] - 1),
          dims2(g.pt, g.pl),
          dims2(g.pb, g.pr),
        ),
        "convolution_forward_desc_init",
      );
      const post: PostOp[] = [];
      if (node.residual !== undefined) {
        if (inPlace === undefined) {
          post.push({ kind: "binary", alg: D.alg.add, src1: nhwc(shapes[node.residual]) });
        } else post.push({ kind: "sum" });
      }
      if (ACT[node.activation]) post.push(ACT[node.activation]!);
      const attr = primitiveAttr(post, true);
      const pd = primitiveDesc(op, attr);
      ctx().lib.dnnl_primitive_attr_destroy(attr);
      const wantW = wantedMd(pd, D.arg.weights)!;
      const scratchMd = wantedMd(pd, D.arg.scratchpad);
      const args: [number, Uint8Array<ArrayBuffer>][] = [
        [D.arg.src, srcMd],
        [D.arg.weights, wantW],
        [D.arg.bias, biasMd],
        [D.arg.dst, dstMd],
      ];
      if (post[0]?.kind === "binary") args.push([postOpSrc1(0), post[0].src1]);
      if (scratchMd) args.push([D.arg.scratchpad, scratchMd]);
      const exec = new Executable(pd, args);
      const binary = post[0]?.kind === "binary";
      step = {
        exec,
        weights: { node: i, userMd: userW, wantMd: wantW },
        inputArgs: [
          ...(node.input === 0 ? [D.arg.src] : []),
          ...(binary && node.residual === 0 ? [postOpSrc1(0)] : []),
        ],
      };
      if (node.input !== 0) exec.bind(D.arg.src, buffer(node.input));
      exec.bind(D.arg.dst, buffer(i));
      if (binary && node.residual !== 0) exec.bind(postOpSrc1(0), buffer(node.residual!));
      const wb = {
        w: new Float32Array(Math.ceil(mdSize(wantW) / 4)),
        b: new Float32Array(node.outChannels),
      };
      this.#weightBuffers.set(i, wb);
      exec.bind(D.arg.weights, wb.w);
      exec.bind(D.arg.bias, wb.b);
      return step;
    }
    if (node.op === "avgpool") {
      const x = shapes[node.input];
      const kernel = node.global ? [x.h, x.w] : node.kernel!;
      const strides = node.global ? [1, 1] : node.strides!;
      let pads = [0, 0, 0, 0];
      if (!node.global && node.padding === "same") {
        const [pt, pb] = padAxis(x.h, kernel[0], strides[0], 1, "same");
        const [pl, pr] = padAxis(x.w, kernel[1], strides[1], 1, "same");
        pads = [pt, pl, pb, pr];
      }
      const op = opDesc();
      const srcMd = nhwc(x);
      checkInit(
        lib.dnnl_pooling_v2_forward_desc_init(
          op,
          D.prop.fwdInference,
          D.alg.poolingAvg,
          srcMd,
          dstMd,
          dims2(strides[0], strides[1]),
          dims2(kernel[0], kernel[1]),
          dims2(0, 0),
          dims2(pads[0], pads[1]),
          dims2(pads[2], pads[3]),
        ),
        "pooling_v2_forward_desc_init",
      );
      const attr = primitiveAttr([], true);
      const pd = primitiveDesc(op, attr);
      lib.dnnl_primitive_attr_destroy(attr);
      const scratchMd = wantedMd(pd, D.arg.scratchpad);
      const args: [number, Uint8Array<ArrayBuffer>][] = [[D.arg.src, srcMd], [D.arg.dst, dstMd]];
      if (scratchMd) args.push([D.arg.scratchpad, scratchMd]);
      step = {
        exec: new Executable(pd, args),
        inputArgs: node.input === 0 ? [D.arg.src] : [],
      };
      if (node.input !== 0) step.exec.bind(D.arg.src, buffer(node.input));
      step.exec.bind(D.arg.dst, buffer(i));
      return step;
    }
    if (node.op === "add") {
      const [a, b] = node.inputs;
      const op = opDesc();
      const aMd = nhwc(shapes[a]), bMd = nhwc(shapes[b]);
      checkInit(lib.dnnl_binary_desc_init(op, D.alg.add, aMd, bMd, dstMd), "binary_desc_init");
      const post = ACT[node.activation] ? [ACT[node.activation]!] : [];
      const attr = primitiveAttr(post, true);
      const pd = primitiveDesc(op, attr);
      lib.dnnl_primitive_attr_destroy(attr);
      const scratchMd = wantedMd(pd, D.arg.scratchpad);
      const args: [number, Uint8Array<ArrayBuffer>][] = [
        [D.arg.src, aMd],
        [D.arg.src1, bMd],
        [D.arg.dst, dstMd],
      ];
      if (scratchMd) args.push([D.arg.scratchpad, scratchMd]);
      step = {
        exec: new Executable(pd, args),
        inputArgs: [...(a === 0 ? [D.arg.src] : []), ...(b === 0 ? [D.arg.src1] : [])],
      };
      if (a !== 0) step.exec.bind(D.arg.src, buffer(a));
      if (b !== 0) step.exec.bind(D.arg.src1, buffer(b));
      step.exec.bind(D.arg.dst, buffer(i));
      return step;
    }
    throw new Error(`inference graph: unexpected node ${JSON.stringify(node)}`);
  }

  /** Reorder every convolution's weights into the layout its primitive wants (skipped if unchanged). */
  loadWeights(graph: InferenceGraph): void {
    if (this.#loaded === graph) return;
    for (const step of this.#steps) {
      if (!step.weights) continue;
      const node = graph.nodes[step.weights.node] as ConvNode;
      const wb = this.#weightBuffers.get(step.weights.node)!;
      if (mdEqual(step.weights.userMd, step.weights.wantMd)) wb.w.set(node.weights);
      else reorderOnce(step.weights.userMd, step.weights.wantMd, node.weights, wb.w);
      if (node.bias) wb.b.set(node.bias);
      else wb.b.fill(0);
    }
    this.#loaded = graph;
  }

  /** Run on `input` (NHWC, the compiled shape); returns a fresh array with the output. */
  run(input: Float32Array): Float32Array {
    for (const step of this.#steps) {
      for (const arg of step.inputArgs) step.exec.bind(arg, input);
      step.exec.run();
    }
    streamWait();
    return this.#outBuffer.slice(0, this.#outElements);
  }

  /** Free every primitive and memory object. */
  destroy(): void {
    for (const s of this.#steps) s.exec.destroy();
    this.#steps = [];
    this.#buffers = [];
  }
}

function inputsOf(node: GraphNode): number[] {
  switch (node.op) {
    case "input":
      return [];
    case "conv":
      return node.residual !== undefined ? [node.input, node.residual] : [node.input];
    case "avgpool":
      return [node.input];
    case "add":
      return [...node.inputs];
  }
}

/**
 * The compiled graphs of one model: the graph (weights) is rebuilt only when `version` changes
 * (a training step assigned new variables), and compiled once per input shape (the last few kept).
 */
export class InferenceRunner {
  #build: () => InferenceGraph;
  #version: () => readonly unknown[];
  #graph: InferenceGraph | null = null;
  #seen: readonly unknown[] = [];
  #compiled = new Map<string, CompiledGraph>();
  static readonly MAX_SHAPES = 3;

  constructor(build: () => InferenceGraph, version: () => readonly unknown[]) {
    this.#build = build;
    this.#version = version;
  }

  /** The graph for the current weights. */
  graph(): InferenceGraph {
    const v = this.#version();
    if (!this.#graph || v.length !== this.#seen.length || v.some((x, i) => x !== this.#seen[i])) {
      this.#graph = this.#build();
      this.#seen = v;
    }
    return this.#graph;
  }

  /** Run on an NHWC batch; returns the output values and shape. */
  run(
    input: Float32Array,
    shape: [number, number, number, number],
  ): { values: Float32Array; shape: number[] } {
    const graph = this.graph();
    const key = shape.join("x");
    let c = this.#compiled.get(key);
    if (c) this.#compiled.delete(key); // re-inserted below as the most recent
    else {
      c = new CompiledGraph(graph, shape);
      if (this.#compiled.size >= InferenceRunner.MAX_SHAPES) {
        const [oldest, g] = this.#compiled.entries().next().value!;
        g.destroy();
        this.#compiled.delete(oldest);
      }
    }
    this.#compiled.set(key, c);
    c.loadWeights(graph);
    return { values: c.run(input), shape: c.outputShape };
  }

  /** Free all compiled graphs. */
  dispose(): void {
    for (const c of this.#compiled.values()) c.destroy();
    this.#compiled.clear();
    this.#graph = null;
  }
}

/** The kernel running an {@linkcode InferenceHandle}'s CNN graph (see `inference_graph.ts`). */
export function cnnGraphKernel(): NativeKernel {
  return {
    name: CNN_GRAPH,
    fn: (args) => {
      const { x } = args.inputs as { x: tf.TensorInfo };
      const handle = (args.attrs as unknown as { handle: InferenceHandle<InferenceGraph> }).handle;
      let runner: InferenceRunner;
      if (handle.state instanceof InferenceRunner) runner = handle.state;
      else {
        handle.state?.dispose();
        handle.state = runner = new InferenceRunner(handle.build, handle.version);
      }
      const r = runner.run(
        valuesOf(args.backend, x),
        x.shape as [number, number, number, number],
      );
      countCompiledRun();
      return output(args.backend, r.shape, r.values);
    },
  };
}
