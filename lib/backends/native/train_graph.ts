/**
 * What model code needs to take the native compiled training path without loading oneDNN: a CNN
 * made of conv + batch-norm (+ ReLU6) layers and residual adds described as data
 * ({@linkcode TrainGraph}), a per-model handle, and {@linkcode runTrainGraph}, which runs the
 * whole forward as one tfjs kernel whose gradient is the whole backward. Between the kernels
 * nothing goes through tfjs: no tape entry, dispatch or allocation per layer. The native backend
 * registers the kernels (`train_program.ts`); everything around the network (pooling, dropout,
 * the head, every distillation loss, clipping, the optimizer) stays tfjs ops.
 * @module
 */
import * as tf from "../../tf.ts";
import { TRAIN_GRAPH } from "./kernel_names.ts";

/** One conv + batch-norm (+ ReLU6) layer of a {@linkcode TrainGraph}. */
export interface TrainLayer {
  /** Node read: 0 is the graph's input, `i + 1` the output of layer `i`. */
  input: number;
  /** Square kernel side; TF "same" padding, no dilation. */
  kernel: number;
  stride: number;
  depthwise: boolean;
  relu6: boolean;
  /** Node added to the output (a residual block's input); only on layers without ReLU6. */
  residual?: number;
}

/** A feed-forward conv + batch-norm network: layers in execution order, the last one the output. */
export interface TrainGraph {
  layers: TrainLayer[];
  /** Batch-norm epsilon. */
  eps: number;
  /** PyTorch-style running-statistics momentum (weight of the batch). */
  momentum: number;
}

/** A layer's variables: filter (HWIO, or `[k, k, C, 1]` depthwise), γ, β and running statistics. */
export interface TrainLayerParams {
  filter: tf.Tensor4D;
  gamma: tf.Tensor1D;
  beta: tf.Tensor1D;
  runningMean: tf.Variable;
  runningVar: tf.Variable;
}

/**
 * One model's compiled training state: the graph (fixed for the handle's life) and, owned by the
 * kernel, the programs compiled per input shape (released by {@linkcode dispose}).
 */
export class TrainHandle {
  /** Owned by the kernel that runs this handle. */
  state?: { dispose(): void };

  constructor(readonly graph: TrainGraph) {
    graph.layers.forEach((l, i) => {
      if (l.residual !== undefined && l.relu6) {
        throw new Error(`train graph: layer ${i} adds a residual after ReLU6`);
      }
    });
  }

  /** Free the compiled programs. */
  dispose(): void {
    this.state?.dispose();
    this.state = undefined;
  }
}

/**
 * One forward's token, the kernel's `run` attribute: the kernel leaves each layer's new running
 * statistics (mean, variance) here, and the kernels keep what the gradient needs on it.
 */
export interface TrainRun {
  running?: [Float32Array, Float32Array][];
}

/**
 * Whether model code should take its compiled training path: the `native` backend is active and
 * a gradient tape is recording (without one, training-mode forwards are rare: batch-norm
 * calibration, and the per-op path serves them). `KD_NATIVE_TRAIN=per-op` keeps training on the
 * per-op kernels (A/B comparisons, tests).
 */
export function nativeTrainingActive(): boolean {
  if (tf.getBackend() !== "native") return false;
  if (Deno.env.get("KD_NATIVE_TRAIN") === "per-op") return false;
  const engine = tf.engine() as unknown as { isTapeOn?: () => boolean };
  return engine.isTapeOn?.() ?? false;
}

let compiledSteps = 0;

/** How many training forwards compiled graphs have run (tests: the fast path ran). */
export function compiledTrainingRuns(): number {
  return compiledSteps;
}

/**
 * The graph's output for the NHWC float32 batch `x` in training mode (batch statistics), with
 * every layer's running statistics updated the PyTorch way; differentiable with respect to `x`
 * and every filter, γ and β.
 */
export function runTrainGraph(
  handle: TrainHandle,
  x: tf.Tensor4D,
  params: TrainLayerParams[],
): tf.Tensor4D {
  // An array: the gradient saves every input (tfjs's `saveAllInputs` takes arrays only).
  const inputs: tf.Tensor[] = [x];
  for (const p of params) inputs.push(p.filter, p.gamma, p.beta, p.runningMean, p.runningVar);
  // `run` carries this forward's state to its gradient (see train_program.ts).
  const run: TrainRun = {};
  const y = tf.engine().runKernel(
    TRAIN_GRAPH,
    inputs as unknown as tf.NamedTensorMap,
    { handle, run } as unknown as tf.NamedAttrMap,
  ) as tf.Tensor4D;
  compiledSteps++;
  params.forEach((p, i) => {
    run.running![i].forEach((values, j) => {
      const t = tf.tensor1d(values);
      (j === 0 ? p.runningMean : p.runningVar).assign(t);
      t.dispose();
    });
  });
  run.running = undefined;
  return y;
}
