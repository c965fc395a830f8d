/**
 * The compiled training graph of the `native` backend (see `train_graph.ts`): per input shape, a
 * {@linkcode TrainProgram} holds every layer's geometry (its oneDNN primitives are built once per
 * shape and cached). Its forward and backward call the per-layer functions of the per-op kernels
 * (`conv_bn.ts`) directly, so both paths compute the same bits, and nothing between two layers
 * goes through tfjs. Activation-sized buffers come from the backend's pool and go back to it the
 * moment they are dead, so a step allocates nothing new and holds no more memory than the per-op
 * path; each forward's state travels with its own gradient, so two forwards in one loss are
 * fine. Gradients of a node read twice (a residual block's input) accumulate in one buffer: the
 * residual's gradient is the block output's buffer itself, and the expansion's data gradient
 * adds into it. The graph input's own gradient is left to tfjs: the gradient kernel returns the
 * conv-output gradients of the layers reading the input, and the input's gradient function
 * runs their data-gradient convolutions only when something asks for it (a batch of images
 * never does, and the stem's data gradient at 96 px is ≈ 1.5% of a step).
 * @module
 */
import * as tf from "../../tf.ts";
import { alloc, type KernelArgs, type NativeKernel, output, release, valuesOf } from "./kernels.ts";
import { convCompute, convInfo, geometry } from "./conv.ts";
import {
  convBNBackward,
  convBNForward,
  type ConvBNLayer,
  type ConvBNParams,
  type ConvBNSaved,
} from "./conv_bn.ts";
import { ShapeCache } from "./program.ts";
import type { TrainGraph, TrainHandle, TrainLayer, TrainRun } from "./train_graph.ts";
import { TRAIN_GRAPH, TRAIN_GRAPH_GRAD } from "./kernel_names.ts";

/** A layer's convolution as tfjs conv-kernel attributes (TF "same" padding, no dilation). */
function convAttrs(l: TrainLayer): Record<string, unknown> {
  return { strides: [l.stride, l.stride], pad: "same", dataFormat: "NHWC", dilations: [1, 1] };
}

/** Inputs per layer in the forward kernel's array: filter, γ, β, running mean, running variance. */
const PER_LAYER = 5;

/** Where a program's activation-sized buffers come from and go back to (the backend's pool). */
interface Buffers {
  alloc(n: number): Float32Array;
  release(a: Float32Array): void;
}

/** What one forward keeps for its gradient: the inner layers' outputs and their saved state. */
interface ForwardState {
  y: Float32Array[];
  saved: ConvBNSaved[];
}

/** A {@linkcode TrainGraph} compiled for one input shape (see the module doc). */
class TrainProgram {
  readonly layers: ConvBNLayer[] = [];
  /** NHWC shape of every node: the input, then each layer's output. */
  readonly shapes: number[][];
  readonly sizes: number[];

  constructor(readonly graph: TrainGraph, shape: number[], filterShapes: number[][]) {
    this.shapes = [shape];
    graph.layers.forEach((spec, i) => {
      const inShape = this.shapes[spec.input];
      const info = convInfo(inShape, filterShapes[i], convAttrs(spec), spec.depthwise);
      const g = geometry(info, spec.depthwise);
      if (!g) throw new Error(`train graph: layer ${i} is not a convolution oneDNN covers`);
      this.layers.push({ g, eps: graph.eps, relu6: spec.relu6, momentum: graph.momentum });
      this.shapes.push([g.n, g.oh, g.ow, g.oc]);
    });
    this.sizes = this.shapes.map((s) => s.reduce((a, b) => a * b, 1));
  }

  /**
   * Run the forward on `x` with `params` per layer, the last output into `out`; returns the new
   * running statistics and the state its gradient needs (buffers from `buf`).
   */
  forward(
    x: Float32Array,
    params: ConvBNParams[],
    out: Float32Array,
    buf: Buffers,
  ): { running: [Float32Array, Float32Array][]; state: ForwardState } {
    const last = this.layers.length - 1;
    const y = this.sizes.slice(1, -1).map((n) => buf.alloc(n));
    const node = (j: number) => j === 0 ? x : j === last + 1 ? out : y[j - 1];
    const running: [Float32Array, Float32Array][] = [];
    const saved: ConvBNSaved[] = [];
    this.graph.layers.forEach((spec, i) => {
      const residual = spec.residual === undefined ? undefined : node(spec.residual);
      const z = buf.alloc(this.sizes[i + 1]);
      const r = convBNForward(
        this.layers[i],
        node(spec.input),
        params[i],
        z,
        node(i + 1),
        residual,
      );
      saved.push(r.saved);
      running.push([r.runningMean, r.runningVar]);
    });
    return { running, state: { y, saved } };
  }

  /**
   * The backward of the forward that left `state`, from `dy` at its output `out`: per layer, the
   * filter's, γ's and β's gradients, and per layer reading the graph's input (in layer order), the
   * gradient at its conv output, from which the input's gradient follows (activation-sized ones
   * from `buf`). Every buffer of `state` and every intermediate gradient goes back to `buf` as
   * soon as it is dead.
   */
  backward(
    state: ForwardState,
    dy: Float32Array,
    out: Float32Array,
    x: Float32Array,
    params: ConvBNParams[],
    buf: Buffers,
  ): { inputDz: Float32Array[]; layers: [Float32Array, Float32Array, Float32Array][] } {
    const specs = this.graph.layers, last = specs.length - 1;
    const node = (j: number) => j === 0 ? x : j === last + 1 ? out : state.y[j - 1];
    const gradOf: (Float32Array | undefined)[] = [];
    // The output's gradient is the caller's; copied when a residual will accumulate into it.
    if (specs[last].residual === undefined) gradOf[last + 1] = dy;
    else (gradOf[last + 1] = buf.alloc(dy.length)).set(dy);
    const layers: [Float32Array, Float32Array, Float32Array][] = [];
    const inputDz: Float32Array[] = [];
    for (let i = last; i >= 0; i--) {
      const spec = specs[i], l = this.layers[i], [filter, gamma] = params[i];
      const dyi = gradOf[i + 1]!;
      const dz = buf.alloc(dyi.length);
      const [dgamma, dbeta] = convBNBackward(l, state.saved[i], gamma, node(i + 1), dyi, dz);
      // The residual's gradient is the output's own: the buffer is taken over, not copied.
      if (spec.residual !== undefined) gradOf[spec.residual] = dyi;
      const dw = buf.alloc(filter.length);
      convCompute("convBwdWeights", l.g, node(spec.input), dz, dw);
      const into = gradOf[spec.input];
      if (spec.input === 0) inputDz.unshift(dz);
      else if (into) convCompute("convBwdData", l.g, dz, filter, into, true);
      else {
        const fresh = buf.alloc(this.sizes[spec.input]);
        convCompute("convBwdData", l.g, dz, filter, fresh);
        gradOf[spec.input] = fresh;
      }
      layers[i] = [dw, dgamma, dbeta];
      // Dead now: this layer's z and dz, its output, and the output's gradient unless it is the
      // caller's or a residual still holds it (a pending node, index ≤ i, found first).
      buf.release(state.saved[i].z);
      if (spec.input !== 0) buf.release(dz);
      if (i < last) buf.release(state.y[i]);
      if (dyi !== dy && gradOf.indexOf(dyi) === i + 1) buf.release(dyi);
    }
    return { inputDz, layers };
  }

  destroy(): void {}
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

/** The backend's buffer pool (fresh arrays where it has none). */
function buffers(b: tf.KernelBackend): Buffers {
  return { alloc: (n) => alloc(b, n), release: (a) => release(b, a) };
}

/** Carries one forward's program and state to its gradient (the kernel's `run` attribute). */
interface RunToken extends TrainRun {
  program?: TrainProgram;
  state?: ForwardState;
}

function trainGraph(args: KernelArgs): tf.TensorInfo {
  const ins = args.inputs as unknown as tf.TensorInfo[];
  const { handle, run } = args.attrs as unknown as { handle: TrainHandle; run: RunToken };
  const b = args.backend, n = handle.graph.layers.length;
  if (ins.length !== 1 + PER_LAYER * n) {
    throw new Error(`train graph: ${ins.length} inputs for ${n} layers`);
  }
  if (!(handle.state instanceof TrainRunner)) {
    handle.state?.dispose();
    handle.state = new TrainRunner();
  }
  const filters = Array.from({ length: n }, (_, i) => ins[1 + PER_LAYER * i].shape);
  const p = (handle.state as TrainRunner).programs.get(
    ins[0].shape,
    () => new TrainProgram(handle.graph, ins[0].shape, filters),
  );
  const { x, params } = forwardInputs(b, ins);
  const out = alloc(b, p.sizes[n]);
  const r = p.forward(x, params, out, buffers(b));
  run.running = r.running;
  run.program = p;
  run.state = r.state;
  return output(b, p.shapes[n], out);
}

function trainGraphGrad(args: KernelArgs): tf.TensorInfo[] {
  const ins = args.inputs as unknown as tf.TensorInfo[];
  const { run } = args.attrs as unknown as { run: RunToken };
  const { program: p, state } = run;
  if (!p || !state) throw new Error("native training graph: gradient without its forward state");
  run.state = undefined; // its buffers go back to the pool below
  const b = args.backend;
  const [dy, out] = ins.slice(0, 2).map((t) => valuesOf(b, t));
  const { x, params } = forwardInputs(b, ins.slice(2));
  const r = p.backward(state, dy, out, x, params, buffers(b));
  const readers = inputReaders(p.graph);
  const result = r.inputDz.map((dz, j) => output(b, p.shapes[readers[j] + 1], dz));
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

/** The layers reading the graph's input (node 0), in layer order. */
function inputReaders(graph: TrainGraph): number[] {
  return graph.layers.flatMap((l, i) => l.input === 0 ? [i] : []);
}

/** The graph input's gradient from the conv-output gradient `dz` of layer `i`, which reads it. */
function inputGradient(
  graph: TrainGraph,
  i: number,
  dz: tf.Tensor,
  filter: tf.Tensor,
  x: tf.Tensor,
): tf.Tensor {
  const l = graph.layers[i];
  return tf.engine().runKernel(
    l.depthwise ? "DepthwiseConv2dNativeBackpropInput" : "Conv2DBackpropInput",
    { dy: dz, filter },
    { ...convAttrs(l), inputShape: x.shape } as unknown as tf.NamedAttrMap,
  ) as tf.Tensor;
}

/** The gradient of {@linkcode TRAIN_GRAPH} (registered with the native backend's kernels). */
export const trainGraphGradient: tf.GradConfig = {
  kernelName: TRAIN_GRAPH,
  saveAllInputs: true,
  outputsToSave: [true],
  gradFunc: (dys: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs?: tf.NamedAttrMap) => {
    // saved: the forward's inputs [x, w0, g0, b0, m0, v0, …], then its output.
    const dy = Array.isArray(dys) ? dys[0] : dys;
    const n = (saved.length - 2) / PER_LAYER;
    const inputs = [dy, saved[saved.length - 1], ...saved.slice(0, -1)];
    const outs = tf.engine().runKernel(
      TRAIN_GRAPH_GRAD,
      inputs as unknown as tf.NamedTensorMap,
      attrs ?? {},
    ) as tf.Tensor[];
    // outs: the conv-output gradients of the input's readers, then [dw, dγ, dβ] per layer.
    const { graph } = (attrs as unknown as { handle: TrainHandle }).handle;
    const readers = inputReaders(graph), x = saved[0];
    const grads: Record<string, () => tf.Tensor> = {
      // tfjs asks only when the input needs a gradient (never for a batch of images).
      0: () =>
        tf.addN(
          readers.map((i, j) => inputGradient(graph, i, outs[j], saved[1 + PER_LAYER * i], x)),
        ),
    };
    const at0 = readers.length;
    for (let i = 0; i < n; i++) {
      const at = 1 + PER_LAYER * i;
      grads[at] = () => outs[at0 + 3 * i];
      grads[at + 1] = () => outs[at0 + 1 + 3 * i];
      grads[at + 2] = () => outs[at0 + 2 + 3 * i];
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
