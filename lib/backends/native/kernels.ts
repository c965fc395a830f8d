/**
 * oneDNN-backed tfjs kernels for the `native` backend. Each kernel reads and writes the cpu
 * backend's typed arrays in place (NHWC activations, HWIO / HWIGO filters, exactly tfjs's
 * layouts), and falls back to the `cpu` kernel for cases it does not cover (non-float32,
 * dilation, NCHW).
 * @module
 */
import * as tf from "../../tf.ts";
import type { MathBackendCPU } from "@tensorflow/tfjs-backend-cpu";
import {
  cached,
  checkInit,
  ctx,
  D,
  denseStrides,
  md,
  mdStrides,
  opDesc,
  Primitive,
  Reorder,
  sgemm,
} from "./dnnl.ts";
import type { BufferPool } from "./pool.ts";

type KernelArgs = {
  inputs: tf.NamedTensorInfoMap;
  backend: tf.KernelBackend;
  attrs?: tf.NamedAttrMap;
};
type KernelFn = (args: KernelArgs) => tf.TensorInfo | tf.TensorInfo[];

/** Typed array of a tensor held by the native (cpu-derived) backend. */
export function valuesOf(backend: tf.KernelBackend, t: tf.TensorInfo): Float32Array {
  return (backend as MathBackendCPU).data.get(t.dataId).values as Float32Array;
}

/**
 * An output buffer of `n` floats for a kernel on `backend`: recycled (contents arbitrary) on the
 * native backend, whose kernels overwrite every element; a fresh zeroed array elsewhere.
 */
export function alloc(backend: tf.KernelBackend, n: number): Float32Array {
  const pool = (backend as { pool?: BufferPool }).pool;
  if (!pool) return new Float32Array(n);
  const a = pool.alloc(n);
  if (poison) a.fill(NaN);
  return a;
}

/** `KD_NATIVE_POOL_POISON=1` fills every output buffer with NaN first (tests: nothing reads it). */
const poison = Deno.env.get("KD_NATIVE_POOL_POISON") === "1";

/** Wrap `values` as an output tensor of the native backend. */
export function output(
  backend: tf.KernelBackend,
  shape: number[],
  values: Float32Array,
): tf.TensorInfo {
  return (backend as MathBackendCPU).makeTensorInfo(shape, "float32", values);
}

const cpuKernel = (name: string): KernelFn => {
  const k = tf.getKernel(name, "cpu");
  if (!k) throw new Error(`tfjs cpu backend has no ${name} kernel`);
  return k.kernelFunc as KernelFn;
};

/** A convolution's sizes, strides and padding (oneDNN's view of tfjs's Conv2DInfo). */
export interface ConvGeometry {
  n: number;
  ih: number;
  iw: number;
  ic: number;
  oh: number;
  ow: number;
  oc: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  pt: number;
  pl: number;
  pb: number;
  pr: number;
  /** 1 for regular convolution, C for depthwise. */
  groups: number;
}

/** The geometry of a tfjs conv, or null for what the oneDNN kernels do not cover (dilation, NCHW). */
export function geometry(
  info: tf.backend_util.Conv2DInfo,
  depthwise: boolean,
): ConvGeometry | null {
  if (info.dilationHeight !== 1 || info.dilationWidth !== 1) return null;
  if (info.dataFormat !== "channelsLast") return null;
  const p = info.padInfo;
  return {
    n: info.batchSize,
    ih: info.inHeight,
    iw: info.inWidth,
    ic: info.inChannels,
    oh: info.outHeight,
    ow: info.outWidth,
    oc: info.outChannels,
    kh: info.filterHeight,
    kw: info.filterWidth,
    sh: info.strideHeight,
    sw: info.strideWidth,
    pt: p.top,
    pl: p.left,
    pb: p.bottom,
    pr: p.right,
    groups: depthwise ? info.inChannels : 1,
  };
}

/** A cache key for `g`. */
export function geometryKey(g: ConvGeometry): string {
  return [
    g.n,
    g.ih,
    g.iw,
    g.ic,
    g.oh,
    g.ow,
    g.oc,
    g.kh,
    g.kw,
    g.sh,
    g.sw,
    g.pt,
    g.pl,
    g.pb,
    g.pr,
    g.groups,
  ]
    .join(",");
}

/** Memory descriptors of a conv: NHWC data, HWIO/HWIGO user weights, the `weightsTag` weights. */
export function convMds(g: ConvGeometry, weightsTag: number) {
  const src = md([g.n, g.ic, g.ih, g.iw], D.tag.nhwc);
  const dst = md([g.n, g.oc, g.oh, g.ow], D.tag.nhwc);
  const wDims = g.groups === 1
    ? [g.oc, g.ic, g.kh, g.kw]
    : [g.groups, g.oc / g.groups, g.ic / g.groups, g.kh, g.kw];
  const wUser = md(wDims, g.groups === 1 ? D.tag.hwio : D.tag.hwigo);
  const wAny = md(wDims, weightsTag);
  const strides = new BigInt64Array(12);
  strides[0] = BigInt(g.sh);
  strides[1] = BigInt(g.sw);
  const padL = new BigInt64Array(12);
  padL[0] = BigInt(g.pt);
  padL[1] = BigInt(g.pl);
  const padR = new BigInt64Array(12);
  padR[0] = BigInt(g.pb);
  padR[1] = BigInt(g.pr);
  return { src, dst, wUser, wAny, strides, padL, padR };
}

function convForward(g: ConvGeometry): Primitive {
  return cached(`conv_fwd|${geometryKey(g)}`, () => {
    const m = convMds(g, D.tag.any);
    const op = opDesc();
    checkInit(
      ctx().lib.dnnl_convolution_forward_desc_init(
        op,
        D.prop.fwdTraining,
        D.alg.convDirect,
        m.src,
        m.wAny,
        null,
        m.dst,
        m.strides,
        m.padL,
        m.padR,
      ),
      "convolution_forward_desc_init",
    );
    return new Primitive(
      op,
      new Map([[D.arg.src, m.src], [D.arg.weights, m.wUser], [D.arg.dst, m.dst]]),
      new Set([D.arg.dst]),
    );
  });
}

function convBackwardData(g: ConvGeometry): Primitive {
  return cached(`conv_bwd_data|${geometryKey(g)}`, () => {
    const fwd = convForward(g);
    const m = convMds(g, D.tag.any);
    const op = opDesc();
    checkInit(
      ctx().lib.dnnl_convolution_backward_data_desc_init(
        op,
        D.alg.convDirect,
        m.src,
        m.wAny,
        m.dst,
        m.strides,
        m.padL,
        m.padR,
      ),
      "convolution_backward_data_desc_init",
    );
    return new Primitive(
      op,
      new Map([[D.arg.diffDst, m.dst], [D.arg.weights, m.wUser], [D.arg.diffSrc, m.src]]),
      new Set([D.arg.diffSrc]),
      fwd,
    );
  });
}

function convBackwardWeights(g: ConvGeometry): Primitive {
  return cached(`conv_bwd_weights|${geometryKey(g)}`, () => {
    const fwd = convForward(g);
    const m = convMds(g, D.tag.any);
    const op = opDesc();
    checkInit(
      ctx().lib.dnnl_convolution_backward_weights_desc_init(
        op,
        D.alg.convDirect,
        m.src,
        m.wAny,
        null,
        m.dst,
        m.strides,
        m.padL,
        m.padR,
      ),
      "convolution_backward_weights_desc_init",
    );
    return new Primitive(
      op,
      new Map([[D.arg.src, m.src], [D.arg.diffDst, m.dst], [D.arg.diffWeights, m.wUser]]),
      new Set([D.arg.diffWeights]),
      fwd,
    );
  });
}

/** Kernel attributes. */
export type Attrs = Record<string, unknown>;

/** A 1×1, stride-1, unpadded regular convolution in NHWC is exactly a GEMM over pixels. */
function isPointwise(g: ConvGeometry): boolean {
  return g.groups === 1 && g.kh === 1 && g.kw === 1 && g.sh === 1 && g.sw === 1 &&
    g.pt + g.pl + g.pb + g.pr === 0;
}

/** tfjs's Conv2DInfo from a kernel's shapes and attributes. */
export function convInfo(
  xShape: number[],
  filterShape: number[],
  attrs: Attrs,
  depthwise: boolean,
): tf.backend_util.Conv2DInfo {
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides as [number, number] | number,
    (attrs.dilations ?? 1) as [number, number] | number,
    attrs.pad as "same" | "valid" | number,
    attrs.dimRoundingMode as "floor" | "round" | "ceil" | undefined,
    depthwise,
    depthwise ? "channelsLast" : tf.backend_util.convertConv2DDataFormat(
      (attrs.dataFormat ?? "NHWC") as "NHWC" | "NCHW",
    ),
  );
}

const allF32 = (...ts: tf.TensorInfo[]) => ts.every((t) => t.dtype === "float32");

function makeConvForward(name: string, depthwise: boolean): KernelFn {
  const fallback = cpuKernel(name);
  return (args) => {
    const { x, filter } = args.inputs as { x: tf.TensorInfo; filter: tf.TensorInfo };
    const attrs = args.attrs as Attrs;
    const g = allF32(x, filter) &&
      geometry(convInfo(x.shape, filter.shape, attrs, depthwise), depthwise);
    if (!g) return fallback(args);
    const out = alloc(args.backend, g.n * g.oh * g.ow * g.oc);
    if (isPointwise(g)) {
      // Y[pixels, Co] = X[pixels, Ci] · W[Ci, Co]: one call, no weight reorder.
      const xv = valuesOf(args.backend, x), wv = valuesOf(args.backend, filter);
      sgemm(false, false, g.n * g.oh * g.ow, g.oc, g.ic, xv, wv, out);
      return output(args.backend, [g.n, g.oh, g.ow, g.oc], out);
    }
    convForward(g).run(
      new Map<number, ArrayBufferView>([
        [D.arg.src, valuesOf(args.backend, x)],
        [D.arg.weights, valuesOf(args.backend, filter)],
        [D.arg.dst, out],
      ]),
    );
    return output(args.backend, [g.n, g.oh, g.ow, g.oc], out);
  };
}

function makeConvBackpropInput(name: string, depthwise: boolean): KernelFn {
  const fallback = cpuKernel(name);
  return (args) => {
    const { dy, filter } = args.inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
    const attrs = args.attrs as Attrs;
    const inShape = attrs.inputShape as number[];
    const g = allF32(dy, filter) &&
      geometry(convInfo(inShape, filter.shape, attrs, depthwise), depthwise);
    if (!g) return fallback(args);
    const out = alloc(args.backend, g.n * g.ih * g.iw * g.ic);
    if (isPointwise(g)) {
      // dX[pixels, Ci] = dY[pixels, Co] · W[Ci, Co]ᵀ
      const dyv = valuesOf(args.backend, dy), wv = valuesOf(args.backend, filter);
      sgemm(false, true, g.n * g.ih * g.iw, g.ic, g.oc, dyv, wv, out);
      return output(args.backend, [g.n, g.ih, g.iw, g.ic], out);
    }
    convBackwardData(g).run(
      new Map<number, ArrayBufferView>([
        [D.arg.diffDst, valuesOf(args.backend, dy)],
        [D.arg.weights, valuesOf(args.backend, filter)],
        [D.arg.diffSrc, out],
      ]),
    );
    return output(args.backend, [g.n, g.ih, g.iw, g.ic], out);
  };
}

function makeConvBackpropFilter(name: string, depthwise: boolean): KernelFn {
  const fallback = cpuKernel(name);
  return (args) => {
    const { x, dy } = args.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
    const attrs = args.attrs as Attrs;
    const filterShape = attrs.filterShape as number[];
    const g = allF32(x, dy) &&
      geometry(convInfo(x.shape, filterShape, attrs, depthwise), depthwise);
    if (!g) return fallback(args);
    const out = alloc(args.backend, filterShape.reduce((a, b) => a * b, 1));
    if (isPointwise(g)) {
      // dW[Ci, Co] = X[pixels, Ci]ᵀ · dY[pixels, Co]
      const xv = valuesOf(args.backend, x), dyv = valuesOf(args.backend, dy);
      sgemm(true, false, g.ic, g.oc, g.n * g.oh * g.ow, xv, dyv, out);
      return output(args.backend, filterShape, out);
    }
    convBackwardWeights(g).run(
      new Map<number, ArrayBufferView>([
        [D.arg.src, valuesOf(args.backend, x)],
        [D.arg.diffDst, valuesOf(args.backend, dy)],
        [D.arg.diffWeights, out],
      ]),
    );
    return output(args.backend, filterShape, out);
  };
}

/** `[batch, m, n]` products via `dnnl_sgemm`; batch broadcast only when one side has batch 1. */
function batchMatMul(args: KernelArgs): tf.TensorInfo {
  const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
  const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
  const ra = a.shape.length, rb = b.shape.length;
  const batchA = a.shape.slice(0, -2).reduce((x, y) => x * y, 1);
  const batchB = b.shape.slice(0, -2).reduce((x, y) => x * y, 1);
  const m = transposeA ? a.shape[ra - 1] : a.shape[ra - 2];
  const k = transposeA ? a.shape[ra - 2] : a.shape[ra - 1];
  const n = transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
  const outBatchShape = (batchA >= batchB ? a : b).shape.slice(0, -2);
  if (!allF32(a, b) || (batchA !== batchB && batchA !== 1 && batchB !== 1)) {
    return cpuKernel("BatchMatMul")(args) as tf.TensorInfo;
  }
  const va = valuesOf(args.backend, a), vb = valuesOf(args.backend, b);
  const batch = Math.max(batchA, batchB);
  const out = alloc(args.backend, batch * m * n);
  if (batchB === 1 && !transposeA && batch > 1) {
    // One big GEMM: stack A's batches as rows.
    sgemm(false, transposeB, batch * m, n, k, va, vb, out);
  } else {
    for (let i = 0; i < batch; i++) {
      const sa = batchA === 1 ? va : va.subarray(i * m * k, (i + 1) * m * k);
      const sb = batchB === 1 ? vb : vb.subarray(i * k * n, (i + 1) * k * n);
      sgemm(transposeA, transposeB, m, n, k, sa, sb, out.subarray(i * m * n, (i + 1) * m * n));
    }
  }
  return output(args.backend, [...outBatchShape, m, n], out);
}

/** Below this many elements the cpu kernels are as fast as a oneDNN call. */
const SMALL = 4096;

const reorders = new Map<string, Reorder>();

/** Transpose as a oneDNN reorder: the source described with permuted strides, copied densely. */
function transpose(args: KernelArgs): tf.TensorInfo {
  const { x } = args.inputs as Record<string, tf.TensorInfo>;
  const { perm } = args.attrs as { perm: number[] };
  const size = tf.util.sizeFromShape(x.shape);
  if (x.dtype !== "float32" || size < SMALL || x.shape.length > 6) {
    return cpuKernel("Transpose")(args) as tf.TensorInfo;
  }
  const outShape = perm.map((p) => x.shape[p]);
  const key = `${x.shape}|${perm}`;
  let r = reorders.get(key);
  if (!r) {
    const inStrides = denseStrides(x.shape);
    r = new Reorder(
      mdStrides(outShape, perm.map((p) => inStrides[p])),
      mdStrides(outShape, denseStrides(outShape)),
    );
    reorders.set(key, r);
  }
  const out = alloc(args.backend, size);
  r.run(valuesOf(args.backend, x), out);
  return output(args.backend, outShape, out);
}

/** Softmax along `dim` with oneDNN's softmax primitive. */
function softmax(args: KernelArgs): tf.TensorInfo {
  const { logits } = args.inputs as Record<string, tf.TensorInfo>;
  const { dim } = args.attrs as { dim: number };
  const size = tf.util.sizeFromShape(logits.shape);
  if (logits.dtype !== "float32" || size < SMALL) {
    return cpuKernel("Softmax")(args) as tf.TensorInfo;
  }
  const axis = dim < 0 ? dim + logits.shape.length : dim;
  const p = cached(`softmax|${logits.shape}|${axis}`, () => {
    const data = mdStrides(logits.shape, denseStrides(logits.shape));
    const op = opDesc();
    checkInit(
      ctx().lib.dnnl_softmax_forward_desc_init(op, D.prop.fwdInference, data, axis),
      "softmax_forward_desc_init",
    );
    return new Primitive(op, new Map([[D.arg.src, data], [D.arg.dst, data]]), new Set([D.arg.dst]));
  });
  const out = alloc(args.backend, size);
  p.run(
    new Map<number, ArrayBufferView>([[D.arg.src, valuesOf(args.backend, logits)], [
      D.arg.dst,
      out,
    ]]),
  );
  return output(args.backend, logits.shape, out);
}

/** A kernel name and its oneDNN-backed implementation. */
export interface NativeKernel {
  name: string;
  fn: KernelFn;
}

/** The tfjs kernels the native backend overrides. */
export function nativeKernels(): NativeKernel[] {
  return [
    { name: "Conv2D", fn: makeConvForward("Conv2D", false) },
    { name: "Conv2DBackpropInput", fn: makeConvBackpropInput("Conv2DBackpropInput", false) },
    { name: "Conv2DBackpropFilter", fn: makeConvBackpropFilter("Conv2DBackpropFilter", false) },
    { name: "DepthwiseConv2dNative", fn: makeConvForward("DepthwiseConv2dNative", true) },
    {
      name: "DepthwiseConv2dNativeBackpropInput",
      fn: makeConvBackpropInput("DepthwiseConv2dNativeBackpropInput", true),
    },
    {
      name: "DepthwiseConv2dNativeBackpropFilter",
      fn: makeConvBackpropFilter("DepthwiseConv2dNativeBackpropFilter", true),
    },
    { name: "BatchMatMul", fn: batchMatMul },
    { name: "Transpose", fn: transpose },
    { name: "Softmax", fn: softmax },
  ];
}
