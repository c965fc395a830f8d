/**
 * The compiled training graph of the `native` backend (see `train_graph.ts`): per input shape, a
 * {@linkcode TrainProgram} holds every layer's geometry and buffers (the centred conv outputs,
 * the layer outputs, the node gradients), built once and reused every step. Its forward and
 * backward call the per-layer functions of the per-op kernels (`conv_bn.ts`) directly, so both
 * paths compute the same bits, and nothing between two layers goes through tfjs. Gradients of a
 * node read twice (a residual block's input) accumulate in one buffer: the residual's gradient
 * is the block output's buffer itself, and the expansion's data gradient adds into it.
 * @module
 */
import * as tf from "../../tf.ts";
import { alloc, type KernelArgs, type NativeKernel, output, valuesOf } from "./kernels.ts";
import { convCompute, convInfo, geometry } from "./conv.ts";
import {
  convBNBackward,
  convBNForward,
  type ConvBNLayer,
  type ConvBNParams,
  type ConvBNSaved,
} from "./conv_bn.ts";
import { ShapeCache } from "./program.ts";
import type { TrainGraph, TrainHandle } from "./train_graph.ts";
import { TRAIN_GRAPH, TRAIN_GRAPH_GRAD } from "./kernel_names.ts";

/** Identifies one forward, for its gradient (the program's buffers hold only the latest). */
interface RunToken {
  program?: TrainProgram;
  id?: number;
}

/** Inputs per layer in the forward kernel's array: filter, γ, β, running mean, running variance. */
const PER_LAYER = 5;

/** A {@linkcode TrainGraph} compiled for one input shape (see the module doc). */
class TrainProgram {
  readonly layers: ConvBNLayer[] = [];
  /** NHWC shape of every node: the input, then each layer's output. */
  readonly shapes: number[][];
  /** How many forwards have run (a gradient must follow the latest). */
  forwards = 0;
  destroyed = false;
  #z: Float32Array[];
  /** Outputs of every layer but the last (the last is the kernel's output tensor). */
  #y: Float32Array[];
  /** Gradient buffers of the inner nodes. */
  #grad: Float32Array[];
  /** One `dz` buffer per distinct size, reused layer after layer. */
  #scratch = new Map<number, Float32Array>();
  #saved: ConvBNSaved[] = [];

  constructor(readonly graph: TrainGraph, shape: number[], filterShapes: number[][]) {
    this.shapes = [shape];
    graph.layers.forEach((spec, i) => {
      const attrs = { strides: [spec.stride, spec.stride], pad: "same", dataFormat: "NHWC" };
      const inShape = this.shapes[spec.input];
      const g = geometry(convInfo(inShape, filterShapes[i], attrs, spec.depthwise), spec.depthwise);
      if (!g) throw new Error(`train graph: layer ${i} is not a convolution oneDNN covers`);
      this.layers.push({ g, eps: graph.eps, relu6: spec.relu6, momentum: graph.momentum });
      this.shapes.push([g.n, g.oh, g.ow, g.oc]);
    });
    const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
    const outputs = this.shapes.slice(1).map(size);
    this.#z = outputs.map((n) => new Float32Array(n));
    this.#y = outputs.slice(0, -1).map((n) => new Float32Array(n));
    this.#grad = this.shapes.map((s, j) =>
      j === 0 ? new Float32Array(0) : new Float32Array(size(s))
    );
  }

  /** Run the forward on `x` with `params` per layer, the last output into `out`; returns the new running statistics. */
  forward(
    x: Float32Array,
    params: ConvBNParams[],
    out: Float32Array,
  ): [Float32Array, Float32Array][] {
    const last = this.layers.length - 1;
    const node = (j: number) => j === 0 ? x : j === last + 1 ? out : this.#y[j - 1];
    const running: [Float32Array, Float32Array][] = [];
    this.graph.layers.forEach((spec, i) => {
      const residual = spec.residual === undefined ? undefined : node(spec.residual);
      const r = convBNForward(
        this.layers[i],
        node(spec.input),
        params[i],
        this.#z[i],
        node(i + 1),
        residual,
      );
      this.#saved[i] = r.saved;
      running.push([r.runningMean, r.runningVar]);
    });
    this.forwards++;
    return running;
  }

  /**
   * The backward of the latest forward from `dy` at its output `out`: the input's gradient (a
   * buffer from `allocate`) and, per layer, the filter's (from `allocate`), γ's and β's.
   */
  backward(
    dy: Float32Array,
    out: Float32Array,
    x: Float32Array,
    params: ConvBNParams[],
    allocate: (n: number) => Float32Array,
  ): { dx: Float32Array; layers: [Float32Array, Float32Array, Float32Array][] } {
    const specs = this.graph.layers, last = specs.length - 1;
    const node = (j: number) => j === 0 ? x : j === last + 1 ? out : this.#y[j - 1];
    const gradOf: (Float32Array | undefined)[] = [];
    // The output's gradient is the caller's; copied when a residual will accumulate into it.
    if (specs[last].residual === undefined) gradOf[last + 1] = dy;
    else (gradOf[last + 1] = this.#grad[last + 1]).set(dy);
    let dx: Float32Array | undefined;
    const layers: [Float32Array, Float32Array, Float32Array][] = [];
    for (let i = last; i >= 0; i--) {
      const spec = specs[i], l = this.layers[i], [filter, gamma] = params[i];
      const dyi = gradOf[i + 1]!;
      const size = dyi.length;
      let dz = this.#scratch.get(size);
      if (!dz) this.#scratch.set(size, dz = new Float32Array(size));
      const [dgamma, dbeta] = convBNBackward(l, this.#saved[i], gamma, node(i + 1), dyi, dz);
      // The residual's gradient is the output's own: the buffer is taken over, not copied.
      if (spec.residual !== undefined) gradOf[spec.residual] = dyi;
      const dw = allocate(filter.length);
      convCompute("convBwdWeights", l.g, node(spec.input), dz, dw);
      const into = gradOf[spec.input];
      if (into) convCompute("convBwdData", l.g, dz, filter, into, true);
      else {
        const fresh = spec.input === 0 ? (dx = allocate(x.length)) : this.#grad[spec.input];
        convCompute("convBwdData", l.g, dz, filter, fresh);
        gradOf[spec.input] = fresh;
      }
      layers[i] = [dw, dgamma, dbeta];
    }
    // The input's gradient lives in a program buffer when it was also a residual: hand out a copy.
    if (gradOf[0] !== dx) (dx = allocate(x.length)).set(gradOf[0]!);
    return { dx: dx!, layers };
  }

  destroy(): void {
    this.destroyed = true;
    this.#z =
      this.#y =
      this.#grad =
      this.#saved =
        [] as never;
    this.#scratch.clear();
  }
}

/** The programs of one handle, by input shape. */
class TrainRunner {
  readonly programs = new ShapeCache<TrainProgram>();
  dispose(): void {
    this.programs.clear();
  }
}

/** The input and per-layer parameter arrays of a forward's inputs `[x, w0, g0, b0, m0, v0, …]`. */
function forwardInputs(
  b: tf.KernelBackend,
  ins: tf.TensorInfo[],
): { x: Float32Array; params: ConvBNParams[] } {
  const n = (ins.length - 1) / PER_LAYER;
  const params = Array.from(
    { length: n },
    (_, i) => ins.slice(1 + PER_LAYER * i, 1 + PER_LAYER * (i + 1)).map((t) => valuesOf(b, t)),
  ) as ConvBNParams[];
  return { x: valuesOf(b, ins[0]), params };
}

/** The handle's program for input `shape` (compiled on first use). */
function compiled(handle: TrainHandle, shape: number[], ins: tf.TensorInfo[]): TrainProgram {
  const n = handle.graph.layers.length;
  if (ins.length !== 1 + PER_LAYER * n) {
    throw new Error(`train graph: ${ins.length} inputs for ${n} layers`);
  }
  if (!(handle.state instanceof TrainRunner)) {
    handle.state?.dispose();
    handle.state = new TrainRunner();
  }
  const filters = Array.from({ length: n }, (_, i) => ins[1 + PER_LAYER * i].shape);
  return (handle.state as TrainRunner).programs.get(
    shape,
    () => new TrainProgram(handle.graph, shape, filters),
  );
}

function trainGraph(args: KernelArgs): tf.TensorInfo {
  const ins = args.inputs as unknown as tf.TensorInfo[];
  const { handle, run } = args.attrs as unknown as { handle: TrainHandle; run: RunToken };
  const b = args.backend;
  const p = compiled(handle, ins[0].shape, ins);
  const { x, params } = forwardInputs(b, ins);
  const shape = p.shapes[p.layers.length];
  const out = alloc(b, shape.reduce((a, c) => a * c, 1));
  handle.running = p.forward(x, params, out);
  run.program = p;
  run.id = p.forwards;
  return output(b, shape, out);
}

function trainGraphGrad(args: KernelArgs): tf.TensorInfo[] {
  const ins = args.inputs as unknown as tf.TensorInfo[];
  const { handle, run } = args.attrs as unknown as { handle: TrainHandle; run: RunToken };
  const b = args.backend;
  const [dy, out] = ins.slice(0, 2).map((t) => valuesOf(b, t));
  const { x, params } = forwardInputs(b, ins.slice(2));
  let p = run.program!;
  if (p.destroyed || p.forwards !== run.id) {
    // A later forward of the same shape (two forwards in one loss) reused the buffers, or the
    // program was evicted: recompute this forward from its saved inputs (the running
    // statistics it read included), which gives the same bits, leaving the variables alone.
    p = compiled(handle, ins[2].shape, ins.slice(2));
    p.forward(x, params, new Float32Array(out.length));
  }
  const r = p.backward(dy, out, x, params, (n) => alloc(b, n));
  const result = [output(b, ins[2].shape, r.dx)];
  r.layers.forEach(([dw, dg, db], i) => {
    const c = dg.length;
    result.push(
      output(b, ins[3 + PER_LAYER * i].shape, dw),
      output(b, [c], dg),
      output(b, [c], db),
    );
  });
  return result;
}

/** The gradient of {@linkcode TRAIN_GRAPH} (registered with the native backend's kernels). */
export const trainGraphGradient: tf.GradConfig = {
  kernelName: TRAIN_GRAPH,
  saveAllInputs: true,
  outputsToSave: [true],
  gradFunc: (dys: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs?: tf.NamedAttrMap) => {
    // saved: the forward's inputs [x, w0, g0, b0, m0, v0, …], then its output; the gradient
    // kernel takes them all, to recompute a forward whose buffers were reused.
    const dy = Array.isArray(dys) ? dys[0] : dys;
    const n = (saved.length - 2) / PER_LAYER;
    const inputs = [dy, saved[saved.length - 1], ...saved.slice(0, -1)];
    const outs = tf.engine().runKernel(
      TRAIN_GRAPH_GRAD,
      inputs as unknown as tf.NamedTensorMap,
      attrs ?? {},
    ) as tf.Tensor[];
    const grads: Record<string, () => tf.Tensor> = { 0: () => outs[0] };
    for (let i = 0; i < n; i++) {
      const at = 1 + PER_LAYER * i;
      grads[at] = () => outs[1 + 3 * i];
      grads[at + 1] = () => outs[2 + 3 * i];
      grads[at + 2] = () => outs[3 + 3 * i];
      // The running statistics are state, not parameters.
      grads[at + 3] = () => tf.zerosLike(saved[at + 3]);
      grads[at + 4] = () => tf.zerosLike(saved[at + 4]);
    }
    return grads;
  },
};

/** The compiled training graph's forward and backward kernels. */
export function trainGraphKernels(): NativeKernel[] {
  return [{ name: TRAIN_GRAPH, fn: trainGraph }, { name: TRAIN_GRAPH_GRAD, fn: trainGraphGrad }];
}
