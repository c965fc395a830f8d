/**
 * Functional building blocks shared by the models: parameters live in a name → `tf.Variable` map
 * (Hugging Face names), and these functions compose `tf` ops over them. Batch norm exists in
 * exactly one place so that the native backend's fused kernels (conv + BN (+ReLU6) in training,
 * running statistics updated inside the kernel) can take it over; other backends run plain ops.
 * @module
 */
import * as tf from "../tf.ts";
import { batchNormTrain, convBatchNormTrain, updateRunningStats } from "../backends/native/ops.ts";

/** Collects a model's variables under stable names, with seeded initialisation. */
export class ParamStore {
  readonly state = new Map<string, tf.Variable>();
  readonly trainable = new Map<string, tf.Variable>();
  #seed: number;

  /** `seed` makes initialisation reproducible; each parameter draws from the next seed. */
  constructor(seed = Math.floor(Math.random() * 2 ** 31)) {
    this.#seed = seed;
  }

  /** Register a variable holding `value` (ownership passes to the store). */
  add(name: string, value: tf.Tensor, trainable = true): tf.Variable {
    if (this.state.has(name)) throw new Error(`duplicate parameter name "${name}"`);
    const v = tf.variable(value, trainable, `${name}_${crypto.randomUUID().slice(0, 8)}`);
    value.dispose();
    this.state.set(name, v);
    if (trainable) this.trainable.set(name, v);
    return v;
  }

  /** A normal(0, std) parameter, as HF `_init_weights` does for conv and linear weights. */
  normal(name: string, shape: number[], std: number): tf.Variable {
    return this.add(name, tf.randomNormal(shape, 0, std, "float32", this.#seed++));
  }

  /** A constant-filled parameter (biases, BN weight/bias) or buffer (`trainable` false). */
  fill(name: string, shape: number[], value: number, trainable = true): tf.Variable {
    return this.add(name, tf.fill(shape, value, "float32"), trainable);
  }

  /** Dispose every variable. */
  dispose(): void {
    for (const v of this.state.values()) v.dispose();
    this.state.clear();
    this.trainable.clear();
  }
}

/** Batch-norm parameters and running statistics. */
export interface BatchNormParams {
  weight: tf.Variable;
  bias: tf.Variable;
  runningMean: tf.Variable;
  runningVar: tf.Variable;
}

/** Register BN variables under HF names `<prefix>.{weight,bias,running_mean,running_var}`. */
export function addBatchNorm(store: ParamStore, prefix: string, channels: number): BatchNormParams {
  return {
    weight: store.fill(`${prefix}.weight`, [channels], 1),
    bias: store.fill(`${prefix}.bias`, [channels], 0),
    runningMean: store.fill(`${prefix}.running_mean`, [channels], 0, false),
    runningVar: store.fill(`${prefix}.running_var`, [channels], 1, false),
  };
}

/** Options for {@linkcode batchNorm}: `momentum` uses PyTorch semantics (weight of the new batch). */
export interface BatchNormOptions {
  training: boolean;
  momentum: number;
  eps: number;
}

/**
 * Batch norm over the last (channel) axis. In training it normalises with batch statistics and
 * updates the running stats the PyTorch way: `running = (1-m)·running + m·batch`, with the unbiased
 * batch variance for `running_var`; in inference it uses the running stats. `relu6` appends ReLU6
 * (fused with the batch norm on the native backend).
 */
export function batchNorm(
  x: tf.Tensor,
  p: BatchNormParams,
  o: BatchNormOptions,
  relu6 = false,
): tf.Tensor {
  if (!o.training) {
    const y = tf.batchNorm(x, p.runningMean, p.runningVar, p.bias, p.weight, o.eps);
    return relu6 ? tf.relu6(y) : y;
  }
  // One fused oneDNN op on the native backend; the same moments/batchNorm composition elsewhere.
  const { y, mean, variance } = batchNormTrain(x, p.weight, p.bias, { eps: o.eps, relu6 });
  const running = { mean: p.runningMean, variance: p.runningVar };
  updateRunningStats(running, mean, variance, x.size / x.shape[x.shape.length - 1], o.momentum);
  return y;
}

/** Convolution with TF padding semantics ('same' pads like TF, extra pixel bottom/right). */
export function conv2d(
  x: tf.Tensor4D,
  w: tf.Tensor4D,
  o: { stride?: number; padding?: "same" | "valid"; dilation?: number; bias?: tf.Tensor } = {},
): tf.Tensor4D {
  const y = tf.conv2d(x, w, o.stride ?? 1, o.padding ?? "same", "NHWC", o.dilation ?? 1);
  return o.bias ? tf.add(y, o.bias) : y;
}

/** Depthwise convolution, weights `[kh, kw, C, 1]`, TF padding semantics. */
export function depthwiseConv2d(
  x: tf.Tensor4D,
  w: tf.Tensor4D,
  o: { stride?: number; padding?: "same" | "valid"; dilation?: number } = {},
): tf.Tensor4D {
  return tf.depthwiseConv2d(x, w, o.stride ?? 1, o.padding ?? "same", "NHWC", o.dilation ?? 1);
}

/** Convolution (regular or depthwise) followed by optional BN and ReLU6: HF `MobileNetV2ConvLayer`. */
export interface ConvBNParams {
  weight: tf.Variable;
  depthwise: boolean;
  stride: number;
  dilation: number;
  bn?: BatchNormParams;
  relu6: boolean;
}

/** Apply a {@linkcode ConvBNParams} block. */
export function convBNAct(
  x: tf.Tensor4D,
  p: ConvBNParams,
  o: BatchNormOptions,
): tf.Tensor4D {
  if (o.training && p.bn) {
    // Conv + batch norm (+ ReLU6) as one fused op with one gradient on the native backend.
    return convBatchNormTrain(
      x,
      p.weight as tf.Tensor4D,
      p.bn.weight,
      p.bn.bias,
      { mean: p.bn.runningMean, variance: p.bn.runningVar },
      {
        stride: p.stride,
        dilation: p.dilation,
        depthwise: p.depthwise,
        eps: o.eps,
        relu6: p.relu6,
        momentum: o.momentum,
      },
    );
  }
  const conv = p.depthwise ? depthwiseConv2d : conv2d;
  let y: tf.Tensor = conv(x, p.weight as tf.Tensor4D, { stride: p.stride, dilation: p.dilation });
  if (p.bn) y = batchNorm(y, p.bn, o, p.relu6);
  else if (p.relu6) y = tf.relu6(y);
  return y as tf.Tensor4D;
}

/** `x·W + b` with `W` stored `[in, out]`. */
export function linear(x: tf.Tensor, w: tf.Tensor, b?: tf.Tensor): tf.Tensor {
  const shape = x.shape;
  const flat = shape.length === 2 ? x : tf.reshape(x, [-1, shape[shape.length - 1]]);
  let y: tf.Tensor = tf.matMul(flat as tf.Tensor2D, w as tf.Tensor2D);
  if (b) y = tf.add(y, b);
  return shape.length === 2 ? y : tf.reshape(y, [...shape.slice(0, -1), w.shape[1] as number]);
}

/** Layer norm over the last axis (biased variance, as PyTorch). */
export function layerNorm(x: tf.Tensor, w: tf.Tensor, b: tf.Tensor, eps: number): tf.Tensor {
  const { mean, variance } = tf.moments(x, -1, true);
  return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, eps))), w), b);
}

/** Exact GELU `0.5·x·(1+erf(x/√2))` (HF "gelu", not the tanh approximation). */
export function gelu(x: tf.Tensor): tf.Tensor {
  return tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1));
}

/**
 * Global average pooling of NHWC `x` to `[batch, channels]`: `tf.mean` over H and W, with the
 * gradient `dy / (H·W)` broadcast back (the same values as `tf.mean`'s). tfjs's own gradient of
 * the mean builds a ones tensor of the input's size element by element, which was ≈ 5% of a
 * training step at 96 px.
 */
export function globalAvgPool(x: tf.Tensor4D): tf.Tensor2D {
  const [n, h, w, c] = x.shape;
  const pool = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => ({
    value: tf.mean(args[0] as tf.Tensor, [1, 2]),
    gradFunc: (dy: tf.Tensor) =>
      tf.broadcastTo(tf.reshape(tf.div(dy, h * w), [n, 1, 1, c]), [n, h, w, c]),
  }));
  return pool(x) as tf.Tensor2D;
}

/** Dropout active only in training (inverted scaling, as PyTorch). */
export function dropout(x: tf.Tensor, rate: number, training: boolean): tf.Tensor {
  return training && rate > 0 ? tf.dropout(x, rate) : x;
}
