/**
 * Inference graphs of convolutional networks compiled to oneDNN primitives, for the `native`
 * backend: each convolution runs as one primitive with its bias, a residual add (`sum` post-op,
 * in place over the residual's buffer) and its activation fused; TF "SAME" padding is the
 * primitive's own asymmetric padding (no pad copies); activations stay NHWC from input to output
 * (no reorders between layers), weights are reordered once into the layout each primitive wants,
 * and primitives, activation buffers and the scratchpad are created once per input shape and
 * reused for every batch. Models describe themselves as an {@linkcode InferenceGraph} (batch norm
 * already folded into the convolutions: `foldBatchNorm` in `inference_graph.ts`); graphs with
 * anything else stay on the tfjs path.
 * @module
 */
import { D, md, type PostOp, postOpSrc1 } from "./dnnl.ts";
import type { Activation, ConvNode, GraphNode, InferenceGraph } from "./inference_graph.ts";
import type { NativeKernel } from "./kernels.ts";
import { compiledKernel, INPUT, Program } from "./program.ts";
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

const ACT: Record<Activation, PostOp | null> = {
  linear: null,
  relu: { kind: "eltwise", alg: D.alg.relu, alpha: 0, beta: 0 },
  relu6: { kind: "eltwise", alg: D.alg.clip, alpha: 0, beta: 6 },
};

/** The output shape of every node, for an NHWC input of `shape`. */
function nodeShapes(graph: InferenceGraph, [n, h, w, c]: number[]): Shape[] {
  const shapes: Shape[] = [];
  for (const node of graph.nodes) {
    if (node.op === "input") {
      shapes.push({ n, h, w, c });
      continue;
    }
    const x = shapes[inputsOf(node)[0]];
    if (node.op === "conv") {
      const g = convGeometry(node, x);
      shapes.push({ n, h: g.oh, w: g.ow, c: node.outChannels });
    } else if (node.op === "avgpool" && node.global) shapes.push({ n, h: 1, w: 1, c: x.c });
    else if (node.op === "avgpool") {
      const [kh, kw] = node.kernel!, [sh, sw] = node.strides!;
      const [, , oh] = padAxis(x.h, kh, sh, 1, node.padding ?? "valid");
      const [, , ow] = padAxis(x.w, kw, sw, 1, node.padding ?? "valid");
      shapes.push({ ...x, h: oh, w: ow });
    } else shapes.push({ ...x });
  }
  return shapes;
}

/**
 * Buffers by liveness: each node's slot, the slots' sizes, and which convs add their residual
 * in place (writing over the residual's slot, which dies there).
 */
function planBuffers(graph: InferenceGraph, shapes: Shape[]) {
  const lastUse = graph.nodes.map(() => -1);
  graph.nodes.forEach((node, i) => {
    for (const j of inputsOf(node)) lastUse[j] = Math.max(lastUse[j], i);
  });
  lastUse[graph.output] = graph.nodes.length;
  const slotOf: number[] = [], slotSize: number[] = [], free: number[] = [];
  const inPlace = new Set<number>();
  graph.nodes.forEach((node, i) => {
    if (node.op === "input") return slotOf.push(-1);
    const elements = shapes[i].n * shapes[i].h * shapes[i].w * shapes[i].c;
    const r = node.op === "conv" && node.residual !== node.input ? node.residual : undefined;
    let slot: number;
    if (r !== undefined && lastUse[r] === i && slotOf[r] >= 0) {
      inPlace.add(i);
      slot = slotOf[r];
    } else slot = free.length ? free.pop()! : slotSize.push(0) - 1;
    slotSize[slot] = Math.max(slotSize[slot], elements);
    slotOf.push(slot);
    // Inputs that die here are freed only after the output took its slot: no primitive here
    // runs with its source and destination in one buffer.
    for (const j of new Set(inputsOf(node))) {
      if (lastUse[j] === i && slotOf[j] >= 0 && slotOf[j] !== slot) free.push(slotOf[j]);
    }
  });
  return { slotOf, slotSize, inPlace };
}

const nhwc = (s: Shape) => md([s.n, s.c, s.h, s.w], D.tag.nhwc);
const activation = (a: Activation): PostOp[] => ACT[a] ? [ACT[a]!] : [];

/** What every node's step needs: shapes, the buffer (or the input) of each node, the program. */
interface Compilation {
  p: Program<InferenceGraph>;
  shapes: Shape[];
  buf: (node: number) => Float32Array | typeof INPUT;
  inPlace: Set<number>;
}

/** The CNN `graph` compiled for NHWC input `shape` (see the module doc). */
export function compileGraph(graph: InferenceGraph, shape: number[]): Program<InferenceGraph> {
  const shapes = nodeShapes(graph, shape);
  const { slotOf, slotSize, inPlace } = planBuffers(graph, shapes);
  const buffers = slotSize.map((size) => new Float32Array(size));
  const c: Compilation = {
    p: new Program<InferenceGraph>(),
    shapes,
    buf: (j) => j === 0 ? INPUT : buffers[slotOf[j]],
    inPlace,
  };
  graph.nodes.forEach((node, i) => {
    const bind = { [D.arg.dst]: buffers[slotOf[i]] }, dst = nhwc(shapes[i]);
    if (node.op === "conv") convStep(c, node, i);
    else if (node.op === "avgpool") {
      const x = shapes[node.input];
      const kernel = node.global ? [x.h, x.w] : node.kernel!;
      const strides = node.global ? [1, 1] : node.strides!;
      const same = !node.global && node.padding === "same";
      const [pt, pb] = same ? padAxis(x.h, kernel[0], strides[0], 1, "same") : [0, 0];
      const [pl, pr] = same ? padAxis(x.w, kernel[1], strides[1], 1, "same") : [0, 0];
      c.p.op({
        op: "pool",
        prop: D.prop.fwdInference,
        alg: D.alg.poolingAvg,
        src: nhwc(x),
        dst,
        strides,
        kernel,
        padL: [pt, pl],
        padR: [pb, pr],
      }, { [D.arg.src]: c.buf(node.input), ...bind });
    } else if (node.op === "add") {
      const [a, b] = node.inputs;
      c.p.op(
        { op: "binary", alg: D.alg.add, src: nhwc(shapes[a]), src1: nhwc(shapes[b]), dst },
        { [D.arg.src]: c.buf(a), [D.arg.src1]: c.buf(b), ...bind },
        activation(node.activation),
      );
    }
  });
  const o = shapes[graph.output], result = buffers[slotOf[graph.output]];
  const size = o.n * o.h * o.w * o.c;
  return c.p.finish([o.n, o.h, o.w, o.c], () => result.slice(0, size));
}

/** Conv node `i`: one primitive with its bias, residual add and activation fused. */
function convStep({ p, shapes, buf, inPlace }: Compilation, node: ConvNode, i: number): void {
  const x = shapes[node.input], g = convGeometry(node, x);
  const groups = node.depthwise ? x.c : 1;
  const [kh, kw] = node.kernel;
  const wDims = groups === 1
    ? [node.outChannels, x.c, kh, kw]
    : [groups, node.outChannels / groups, 1, kh, kw];
  const r = node.residual;
  const residual: PostOp[] = r === undefined ? [] : [
    inPlace.has(i) ? { kind: "sum" } : { kind: "binary", alg: D.alg.add, src1: nhwc(shapes[r]) },
  ];
  const e = p.op(
    {
      op: "conv",
      prop: D.prop.fwdInference,
      src: nhwc(x),
      weights: md(wDims, D.tag.any),
      bias: md([node.outChannels], D.tag.a),
      dst: nhwc(shapes[i]),
      strides: node.strides,
      dilations: node.dilations.map((d) => d - 1),
      padL: [g.pt, g.pl],
      padR: [g.pb, g.pr],
    },
    {
      [D.arg.src]: buf(node.input),
      [D.arg.dst]: buf(i),
      ...(residual[0]?.kind === "binary" ? { [postOpSrc1(0)]: buf(r!) } : {}),
    },
    [...residual, ...activation(node.activation)],
  );
  const conv = (gr: InferenceGraph) => gr.nodes[i] as ConvNode;
  const userW = md(wDims, groups === 1 ? D.tag.hwio : D.tag.hwigo);
  p.param(e, D.arg.weights, (gr) => conv(gr).weights, userW);
  p.param(e, D.arg.bias, (gr) => conv(gr).bias);
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

/** The kernel running an `InferenceHandle`'s CNN graph (see `inference_graph.ts`). */
export function cnnGraphKernel(): NativeKernel {
  return compiledKernel(CNN_GRAPH, compileGraph);
}
