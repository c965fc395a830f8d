/**
 * Names and attribute types of the native backend's fused kernels, with no dependencies, so
 * model and optimizer code (through `ops.ts`) can name them without loading oneDNN.
 * @module
 */

/** Kernel: inputs {x, scale, shift}, attrs {eps, relu6}; outputs [y, mean, variance]. */
export const BN_TRAIN = "NativeBatchNormTrain";
/** Kernel: inputs {x, scale, shift, mean, variance, dy, y}, attrs {eps, relu6}; outputs [dx, dscale, dshift]. */
export const BN_TRAIN_GRAD = "NativeBatchNormTrainGrad";
/** Kernel: inputs {param, grad, m, v}, attrs AdamUpdateOptions; outputs [param, m, v]. */
export const ADAM_UPDATE = "NativeAdamUpdate";

/** Kernel: inputs an array of float32 tensors; output the scalar Σx² over all of them. */
export const SUM_OF_SQUARES = "NativeSumOfSquares";

/** Settings of the fused Adam/AdamW update (PyTorch semantics, as `lib/optim.ts`). */
export interface AdamUpdateOptions {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** Weight decay: decoupled (AdamW) or folded into the gradient (Adam, L2). */
  weightDecay: number;
  decoupled: boolean;
  /** 1-based step number (for bias correction). */
  step: number;
  /** Factor on the gradient (gradient clipping's; default 1), rounded to float32 like a tensor. */
  gradScale?: number;
}

/**
 * Kernel: inputs {x, filter, scale, offset, runningMean, runningVar}, attrs
 * {@linkcode ConvBNTrainAttrs}; outputs [y, new running mean, new running variance].
 */
export const CONV_BN_TRAIN = "NativeConvBatchNormTrain";
/** Kernel: inputs {scale, dy, y, x, filter} (of the forward), attrs as the forward; outputs [dz, dscale, doffset]. */
export const CONV_BN_TRAIN_GRAD = "NativeConvBatchNormTrainGrad";

/** Attributes of {@linkcode CONV_BN_TRAIN}: the conv (TF "same" padding, NHWC) and the batch norm. */
export interface ConvBNTrainAttrs {
  strides: [number, number];
  dilations: [number, number];
  depthwise: boolean;
  eps: number;
  relu6: boolean;
  /** PyTorch-style running-statistics momentum (weight of the batch). */
  momentum: number;
}

/** Kernel: inputs {x}, attrs {handle: InferenceHandle<InferenceGraph>}; output the graph's output. */
export const CNN_GRAPH = "NativeCnnGraph";
/** Kernel: inputs {x}, attrs {handle: InferenceHandle<EncoderWeights>}; output the logits. */
export const ENCODER = "NativeEncoder";
/**
 * Kernel: inputs the array `[x, w0, g0, b0, m0, v0, w1, …]` (per layer: filter, γ, β, running
 * mean and variance), attrs {handle: TrainHandle, run: {}}; output the graph's output.
 */
export const TRAIN_GRAPH = "NativeTrainGraph";
/**
 * Kernel: inputs the array `[dy, y, …the forward's inputs]`, attrs of the forward; outputs
 * `[dx, dw0, dg0, db0, dw1, …]`.
 */
export const TRAIN_GRAPH_GRAD = "NativeTrainGraphGrad";
