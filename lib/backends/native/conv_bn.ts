/**
 * Convolution + training-mode batch norm (+ ReLU6) as one kernel with one gradient, for the
 * `native` backend. Forward: the conv primitive writes `z = conv(x) − shift` (the shift, the
 * running mean, rides in as the conv's bias: centred data keep float32 sums exact), one
 * multi-threaded pass takes `Σz` and `Σz²` ({@linkcode channelSums}), one binary primitive applies
 * the normalisation and the clip. Backward: the ReLU6 mask, one pass for `Σg` and `Σg·z`, one
 * binary pass for `dz`, then the conv's own data and filter gradients. Every per-element pass is a
 * multi-threaded oneDNN primitive; tfjs's composition walks each activation a dozen times.
 * @module
 */
import * as tf from "../../tf.ts";
import { cached, checkInit, ctx, D, md, opDesc, postOpSrc1, Primitive } from "./dnnl.ts";
import {
  alloc,
  type ConvGeometry,
  convInfo,
  convMds,
  geometry,
  geometryKey,
  type NativeKernel,
  output,
  valuesOf,
} from "./kernels.ts";
import { channelSums } from "./channel_sums.ts";
import { affineBackward, affineForward, clipBackward, ONEDNN_APPLY_MIN } from "./fused.ts";
import * as loops from "./bn_loops.ts";
import { CONV_BN_TRAIN, CONV_BN_TRAIN_GRAD, type ConvBNTrainAttrs } from "./kernel_names.ts";

type KernelArgs = {
  inputs: tf.NamedTensorInfoMap;
  backend: tf.KernelBackend;
  attrs?: tf.NamedAttrMap;
};

function convAttrs(a: ConvBNTrainAttrs) {
  return { strides: a.strides, pad: "same", dilations: a.dilations, dataFormat: "NHWC" };
}

/** The conv geometry of the fused op, or null when the oneDNN conv does not cover it. */
export function convBNGeometry(
  xShape: number[],
  filterShape: number[],
  a: ConvBNTrainAttrs,
): ConvGeometry | null {
  return geometry(convInfo(xShape, filterShape, convAttrs(a), a.depthwise), a.depthwise);
}

function convWithBias(g: ConvGeometry): Primitive {
  return cached(`conv_fwd_bias|${geometryKey(g)}`, () => {
    const m = convMds(g, D.tag.any);
    const bias = md([g.oc], D.tag.a);
    const op = opDesc();
    checkInit(
      ctx().lib.dnnl_convolution_forward_desc_init(
        op,
        D.prop.fwdTraining,
        D.alg.convDirect,
        m.src,
        m.wAny,
        Deno.UnsafePointer.of(bias),
        m.dst,
        m.strides,
        m.padL,
        m.padR,
      ),
      "convolution_forward_desc_init",
    );
    return new Primitive(
      op,
      new Map([
        [D.arg.src, m.src],
        [D.arg.weights, m.wUser],
        [D.arg.bias, bias],
        [D.arg.dst, m.dst],
      ]),
      new Set([D.arg.dst]),
    );
  });
}

function convBNTrain(args: KernelArgs): tf.TensorInfo[] {
  const { x, filter, scale, offset, shift } = args.inputs as Record<string, tf.TensorInfo>;
  const a = args.attrs as unknown as ConvBNTrainAttrs;
  const g = convBNGeometry(x.shape, filter.shape, a);
  if (!g) throw new Error("native conv+batch norm: unsupported convolution (see convBNGeometry)");
  const c = g.oc, rows = g.n * g.oh * g.ow, size = rows * c;
  const d = [g.n, c, g.oh, g.ow];
  const s = valuesOf(args.backend, shift);
  const negShift = new Float32Array(c);
  for (let k = 0; k < c; k++) negShift[k] = -s[k];
  const z = alloc(args.backend, size);
  convWithBias(g).run(
    new Map<number, ArrayBufferView>([
      [D.arg.src, valuesOf(args.backend, x)],
      [D.arg.weights, valuesOf(args.backend, filter)],
      [D.arg.bias, negShift],
      [D.arg.dst, z],
    ]),
  );
  const mean = new Float32Array(c), variance = new Float32Array(c);
  const zMean = new Float32Array(c);
  if (size >= ONEDNN_APPLY_MIN) {
    const sq = new Float32Array(c), s1 = new Float32Array(c);
    channelSums(d, z, z, sq, s1);
    for (let k = 0; k < c; k++) {
      const m = s1[k] / rows;
      zMean[k] = m;
      variance[k] = Math.max(sq[k] / rows - m * m, 0);
    }
  } else loops.bnStatistics(z, c, zMean, variance);
  for (let k = 0; k < c; k++) mean[k] = zMean[k] + s[k];
  const { a: mul, b: add } = loops.bnScaleShift(
    valuesOf(args.backend, scale),
    valuesOf(args.backend, offset),
    zMean,
    variance,
    a.eps,
  );
  const y = alloc(args.backend, size);
  if (size >= ONEDNN_APPLY_MIN) {
    affineForward(d, a.relu6).run(
      new Map<number, ArrayBufferView>([
        [D.arg.src, z],
        [D.arg.src1, mul],
        [postOpSrc1(0), add],
        [D.arg.dst, y],
      ]),
    );
  } else loops.bnApply(z, mul, add, a.relu6, y);
  const shape = [g.n, g.oh, g.ow, c];
  return [
    output(args.backend, shape, y),
    output(args.backend, [c], mean),
    output(args.backend, [c], variance),
    output(args.backend, shape, z),
    output(args.backend, [c], zMean),
  ];
}

function convBNTrainGrad(args: KernelArgs): tf.TensorInfo[] {
  const { z, scale, zMean: zm, variance, dy, y } = args.inputs as Record<string, tf.TensorInfo>;
  const { eps, relu6 } = args.attrs as unknown as ConvBNTrainAttrs;
  const c = z.shape[z.shape.length - 1];
  const zv = valuesOf(args.backend, z), dyv = valuesOf(args.backend, dy);
  const size = zv.length, rows = size / c;
  const d = [z.shape[0], c, z.shape[1], z.shape[2]];
  const zMean = valuesOf(args.backend, zm);
  const gamma = valuesOf(args.backend, scale), vv = valuesOf(args.backend, variance);
  const dz = alloc(args.backend, size);
  let g = dyv;
  let sums: { sg: Float64Array; sgx: Float64Array };
  if (size >= ONEDNN_APPLY_MIN) {
    if (relu6) {
      // The masked gradient (0 < y < 6) is parked in dz until the last pass.
      clipBackward(size).run(
        new Map<number, ArrayBufferView>([
          [D.arg.dst, valuesOf(args.backend, y)],
          [D.arg.diffDst, dyv],
          [D.arg.diffSrc, dz],
        ]),
      );
      g = dz;
    }
    const sgz = new Float32Array(c), sg = new Float32Array(c);
    channelSums(d, zv, g, sgz, sg);
    sums = { sg: new Float64Array(c), sgx: new Float64Array(c) };
    for (let k = 0; k < c; k++) {
      sums.sg[k] = sg[k];
      sums.sgx[k] = sgz[k] - zMean[k] * sg[k];
    }
  } else {
    if (relu6) {
      // The same mask as the large path: 0 < y < 6.
      const yv = valuesOf(args.backend, y);
      for (let i = 0; i < size; i++) dz[i] = yv[i] > 0 && yv[i] < 6 ? dyv[i] : 0;
      g = dz;
    }
    const sg = new Float64Array(c), sgx = new Float64Array(c);
    for (let o = 0; o < size; o += c) {
      for (let j = 0; j < c; j++) {
        const v = g[o + j];
        sg[j] += v;
        sgx[j] += v * (zv[o + j] - zMean[j]);
      }
    }
    sums = { sg, sgx };
  }
  const dscale = new Float32Array(c), doffset = new Float32Array(c);
  const k = loops.bnBackwardCoefficients(gamma, zMean, vv, eps, rows, sums, dscale, doffset);
  if (size >= ONEDNN_APPLY_MIN && k.k1.every((v) => v !== 0)) {
    // dz = k1·((k2/k1)·z + g) + k3; g may live in dz, which the primitive reads before writing.
    const ratio = k.k2.map((v, i) => v / k.k1[i]);
    const out = g === dz ? alloc(args.backend, size) : dz;
    affineBackward(d).run(
      new Map<number, ArrayBufferView>([
        [D.arg.src, zv],
        [D.arg.src1, ratio],
        [postOpSrc1(0), g],
        [postOpSrc1(1), k.k1],
        [postOpSrc1(2), k.k3],
        [D.arg.dst, out],
      ]),
    );
    if (out !== dz) {
      (args.backend as { pool?: { release(a: Float32Array): void } }).pool?.release(dz);
    }
    return [
      output(args.backend, z.shape, out),
      output(args.backend, [c], dscale),
      output(args.backend, [c], doffset),
    ];
  }
  loops.bnBackwardApply(zv, g, k, dz);
  return [
    output(args.backend, z.shape, dz),
    output(args.backend, [c], dscale),
    output(args.backend, [c], doffset),
  ];
}

let gradRegistered = false;

/** Register the gradient of {@linkcode CONV_BN_TRAIN} (global, once; it only runs on `native`). */
export function registerConvBNGradient(): void {
  if (gradRegistered) return;
  gradRegistered = true;
  tf.registerGradient({
    kernelName: CONV_BN_TRAIN,
    inputsToSave: ["x", "filter", "scale", "offset", "shift"],
    outputsToSave: [true, false, true, true, true],
    gradFunc: (dys: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs?: tf.NamedAttrMap) => {
      // The shift (a variable updated right after the forward) is not read again: the kernel
      // saved the mean of z itself.
      const [x, filter, scale, , shift, y, variance, z, zMean] = saved;
      const dy = Array.isArray(dys) ? dys[0] : dys;
      const a = attrs as unknown as ConvBNTrainAttrs;
      const [dz, dscale, doffset] = tf.engine().runKernel(
        CONV_BN_TRAIN_GRAD,
        { z, scale, zMean, variance, dy, y },
        attrs ?? {},
      ) as tf.Tensor[];
      const conv = { ...convAttrs(a), dimRoundingMode: undefined };
      const names = a.depthwise
        ? ["DepthwiseConv2dNativeBackpropInput", "DepthwiseConv2dNativeBackpropFilter"]
        : ["Conv2DBackpropInput", "Conv2DBackpropFilter"];
      return {
        x: () =>
          tf.engine().runKernel(
            names[0],
            { dy: dz, filter },
            { ...conv, inputShape: x.shape } as unknown as tf.NamedAttrMap,
          ) as tf.Tensor,
        filter: () =>
          tf.engine().runKernel(
            names[1],
            { x, dy: dz },
            { ...conv, filterShape: filter.shape } as unknown as tf.NamedAttrMap,
          ) as tf.Tensor,
        scale: () => dscale,
        offset: () => doffset,
        shift: () => tf.zerosLike(shift),
      };
    },
  });
}

/** The fused conv + batch-norm kernels registered on the native backend. */
export function convBNKernels(): NativeKernel[] {
  registerConvBNGradient();
  return [
    { name: CONV_BN_TRAIN, fn: convBNTrain },
    { name: CONV_BN_TRAIN_GRAD, fn: convBNTrainGrad },
  ];
}
