/**
 * Convolutions on the `native` backend: the six tfjs conv kernels (regular and depthwise;
 * forward, data and filter gradients) as one factory over the three oneDNN directions, and the
 * per-channel sums batch norm needs, which are a 1×1 depthwise convolution's filter gradient.
 * Activations are NHWC and filters HWIO / HWIGO, exactly tfjs's layouts; a 1×1 stride-1 conv is
 * a plain GEMM. Cases the primitives do not cover (dilation, NCHW, non-float32) fall back to cpu.
 * @module
 */
import * as tf from "../../tf.ts";
import { cached, D, md, Primitive, sgemm } from "./dnnl.ts";
import { alloc, cpuKernel, type KernelFn, type NativeKernel, output, valuesOf } from "./kernels.ts";

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

/** tfjs's Conv2DInfo from a kernel's shapes and attributes. */
export function convInfo(
  xShape: number[],
  filterShape: number[],
  attrs: Record<string, unknown>,
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

/** A direction of a convolution: forward, data gradient, filter gradient. */
export type ConvOp = "conv" | "convBwdData" | "convBwdWeights";

/**
 * The cached primitive computing `op` for `g` on NHWC data and HWIO / HWIGO filters (the
 * primitive's own filter layout behind a reorder); with `bias`, the forward adds a per-channel
 * bias and the filter gradient also sums the output gradient per channel.
 */
export function convPrimitive(op: ConvOp, g: ConvGeometry, bias = false): Primitive {
  return cached(`${op}${bias ? "+bias" : ""}|${Object.values(g)}`, () => {
    const wDims = g.groups === 1
      ? [g.oc, g.ic, g.kh, g.kw]
      : [g.groups, g.oc / g.groups, g.ic / g.groups, g.kh, g.kw];
    const wUser = md(wDims, g.groups === 1 ? D.tag.hwio : D.tag.hwigo);
    return new Primitive({
      op,
      src: md([g.n, g.ic, g.ih, g.iw], D.tag.nhwc),
      weights: md(wDims, D.tag.any),
      bias: bias ? md([g.oc], D.tag.a) : undefined,
      dst: md([g.n, g.oc, g.oh, g.ow], D.tag.nhwc),
      strides: [g.sh, g.sw],
      padL: [g.pt, g.pl],
      padR: [g.pb, g.pr],
    }, {
      user: { [D.arg.weights]: wUser, [D.arg.diffWeights]: wUser },
      hint: op === "conv" ? null : convPrimitive("conv", g, bias),
    });
  });
}

/**
 * Per op: the kernel's two inputs and their oneDNN arguments, the output's argument, and the
 * GEMM a pointwise conv reduces to (`[transA, transB]` and `m, n, k` over pixels `p`).
 */
const OPS = {
  conv: {
    inputs: [["x", D.arg.src], ["filter", D.arg.weights]],
    out: D.arg.dst,
    gemm: (g: ConvGeometry, p: number) => [false, false, p, g.oc, g.ic] as const,
  },
  convBwdData: {
    inputs: [["dy", D.arg.diffDst], ["filter", D.arg.weights]],
    out: D.arg.diffSrc,
    gemm: (g: ConvGeometry, p: number) => [false, true, p, g.ic, g.oc] as const,
  },
  convBwdWeights: {
    inputs: [["x", D.arg.src], ["dy", D.arg.diffDst]],
    out: D.arg.diffWeights,
    gemm: (g: ConvGeometry, p: number) => [true, false, g.ic, g.oc, p] as const,
  },
} as const;

/** A 1×1, stride-1, unpadded regular convolution in NHWC is exactly a GEMM over pixels. */
function isPointwise(g: ConvGeometry): boolean {
  return g.groups === 1 && g.kh === 1 && g.kw === 1 && g.sh === 1 && g.sw === 1 &&
    g.pt + g.pl + g.pb + g.pr === 0;
}

/**
 * Run direction `op` of `g`: `out = op(a, b)` with the kernel's operands (`x`/`dy`/`filter` as
 * in {@linkcode OPS}), or `out += op(a, b)` with `accumulate` (a gradient summed over two
 * consumers). A pointwise conv is one `dnnl_sgemm`, which accumulates for free.
 */
export function convCompute(
  op: ConvOp,
  g: ConvGeometry,
  a: Float32Array,
  b: Float32Array,
  out: Float32Array,
  accumulate = false,
): void {
  if (isPointwise(g)) {
    const [ta, tb, m, n, k] = OPS[op].gemm(g, g.n * g.oh * g.ow);
    sgemm(ta, tb, m, n, k, a, b, out, accumulate ? 1 : 0);
    return;
  }
  const { inputs: [[, argA], [, argB]], out: argOut } = OPS[op];
  const dst = accumulate ? new Float32Array(out.length) : out;
  convPrimitive(op, g).run({ [argA]: a, [argB]: b, [argOut]: dst });
  if (accumulate) { for (let i = 0; i < out.length; i++) out[i] += dst[i]; }
}

function convKernel(name: string, op: ConvOp, depthwise: boolean): NativeKernel {
  const fallback = cpuKernel(name);
  const [a, b] = OPS[op].inputs.map(([n]) => n);
  const fn: KernelFn = (args) => {
    const ins = args.inputs as Record<string, tf.TensorInfo>;
    const attrs = args.attrs as Record<string, unknown>;
    const xShape = op === "convBwdData" ? attrs.inputShape as number[] : ins.x.shape;
    const filterShape = op === "convBwdWeights" ? attrs.filterShape as number[] : ins.filter.shape;
    const g = ins[a].dtype === "float32" && ins[b].dtype === "float32" &&
      geometry(convInfo(xShape, filterShape, attrs, depthwise), depthwise);
    if (!g) return fallback(args);
    const shape = op === "conv"
      ? [g.n, g.oh, g.ow, g.oc]
      : op === "convBwdData"
      ? xShape
      : filterShape;
    const out = alloc(args.backend, tf.util.sizeFromShape(shape));
    convCompute(op, g, valuesOf(args.backend, ins[a]), valuesOf(args.backend, ins[b]), out);
    return output(args.backend, shape, out);
  };
  return { name, fn };
}

/** The six tfjs convolution kernels on oneDNN. */
export function convKernels(): NativeKernel[] {
  return [
    convKernel("Conv2D", "conv", false),
    convKernel("Conv2DBackpropInput", "convBwdData", false),
    convKernel("Conv2DBackpropFilter", "convBwdWeights", false),
    convKernel("DepthwiseConv2dNative", "conv", true),
    convKernel("DepthwiseConv2dNativeBackpropInput", "convBwdData", true),
    convKernel("DepthwiseConv2dNativeBackpropFilter", "convBwdWeights", true),
  ];
}

/**
 * `sab[c] = Σ a·b` and `sb[c] = Σ b` over the pixels of NHWC `a`, `b` (oneDNN dims
 * `[N, C, H, W]`) in one multi-threaded pass: the filter and bias gradients of a 1×1 depthwise
 * convolution with input `a` and output gradient `b`. oneDNN 2.6 has no fast reduction
 * primitive (its `reduction` is a reference loop). Sums accumulate in float32, so callers
 * centre `a` first (see `conv_bn.ts`).
 */
export function channelSums(
  d: number[],
  a: Float32Array,
  b: Float32Array,
  sab: Float32Array,
  sb: Float32Array,
): void {
  const [n, c, h, w] = d;
  const g = { n, ih: h, iw: w, ic: c, oh: h, ow: w, oc: c, kh: 1, kw: 1, sh: 1, sw: 1 };
  const p = convPrimitive("convBwdWeights", { ...g, pt: 0, pl: 0, pb: 0, pr: 0, groups: c }, true);
  p.run({ [D.arg.src]: a, [D.arg.diffDst]: b, [D.arg.diffWeights]: sab, [D.arg.diffBias]: sb });
}
