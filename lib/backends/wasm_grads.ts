/**
 * Gradient kernels the tfjs `wasm` backend lacks (Conv2DBackpropFilter and both depthwise
 * backprops), composed from wasm ops so training runs on wasm at all. This is the portable
 * fallback; the `native` backend runs these through oneDNN instead.
 * @module
 */
import * as tf from "../tf.ts";

type Attrs = Record<string, unknown>;
type KernelArgs = {
  inputs: tf.NamedTensorInfoMap;
  backend: tf.KernelBackend;
  attrs?: tf.NamedAttrMap;
};

/** The kernels registered by {@linkcode registerWasmGradients}. */
export const WASM_GRADIENT_KERNELS = [
  "Conv2DBackpropFilter",
  "DepthwiseConv2dNativeBackpropInput",
  "DepthwiseConv2dNativeBackpropFilter",
] as const;

/**
 * Run `compute` (tf ops on the wasm backend) and hand its result to the engine as this kernel's
 * output: the extra backend reference keeps the buffer alive when the temporary tensor dies.
 */
function composite(args: KernelArgs, compute: (t: Record<string, tf.Tensor>) => tf.Tensor) {
  // The engine keeps no reference counts of its own: each temporary tensor view of a buffer
  // must hold a backend reference, or disposing the view would free the caller's data.
  const backend = args.backend as tf.KernelBackend & { incRef(id: object): void };
  const out = tf.tidy(() => {
    const t: Record<string, tf.Tensor> = {};
    for (const [k, v] of Object.entries(args.inputs)) {
      backend.incRef((v as tf.TensorInfo).dataId);
      t[k] = tf.engine().makeTensorFromTensorInfo(v as tf.TensorInfo);
    }
    return compute(t);
  });
  backend.incRef(out.dataId);
  const info: tf.TensorInfo = { dataId: out.dataId, shape: out.shape, dtype: out.dtype };
  out.dispose();
  return info;
}

function info(xShape: number[], filterShape: number[], attrs: Attrs, depthwise: boolean) {
  const dilations = attrs.dilations ?? 1;
  if (!(dilations === 1 || (Array.isArray(dilations) && dilations.every((d) => d === 1)))) {
    throw new Error("wasm gradient kernels support dilation 1 only");
  }
  if ((attrs.dataFormat ?? "NHWC") !== "NHWC") {
    throw new Error("wasm gradient kernels support NHWC only");
  }
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides as [number, number] | number,
    1,
    attrs.pad as "same" | "valid" | number,
    attrs.dimRoundingMode as "floor" | "round" | "ceil" | undefined,
    depthwise,
  );
}

/** x padded like the forward pass, then for each filter tap the strided window it met. */
function taps(x: tf.Tensor, c: tf.backend_util.Conv2DInfo): tf.Tensor4D[] {
  const p = c.padInfo;
  const xp = tf.pad(x, [[0, 0], [p.top, p.bottom], [p.left, p.right], [0, 0]]);
  const out: tf.Tensor4D[] = [];
  for (let kh = 0; kh < c.filterHeight; kh++) {
    for (let kw = 0; kw < c.filterWidth; kw++) {
      out.push(tf.stridedSlice(
        xp,
        [0, kh, kw, 0],
        [
          c.batchSize,
          kh + (c.outHeight - 1) * c.strideHeight + 1,
          kw + (c.outWidth - 1) * c.strideWidth + 1,
          c.inChannels,
        ],
        [1, c.strideHeight, c.strideWidth, 1],
      ) as tf.Tensor4D);
    }
  }
  return out;
}

function conv2DBackpropFilter(args: KernelArgs) {
  const attrs = args.attrs as Attrs;
  const filterShape = attrs.filterShape as number[];
  return composite(args, ({ x, dy }) => {
    const c = info(x.shape, filterShape, attrs, false);
    const rows = c.batchSize * c.outHeight * c.outWidth;
    // im2col: one [rows, kh·kw·Ci]ᵀ × [rows, Co] product gives the whole filter gradient.
    const cols = tf.concat(taps(x, c), 3).reshape([rows, -1]);
    const dw = tf.matMul(cols, dy.reshape([rows, c.outChannels]), true, false);
    return dw.reshape(filterShape);
  });
}

function depthwiseBackpropFilter(args: KernelArgs) {
  const attrs = args.attrs as Attrs;
  const filterShape = attrs.filterShape as number[];
  return composite(args, ({ x, dy }) => {
    const c = info(x.shape, filterShape, attrs, true);
    const mult = filterShape[3];
    const dy5 = dy.reshape([c.batchSize, c.outHeight, c.outWidth, c.inChannels, mult]);
    const perTap = taps(x, c).map((t) => tf.sum(tf.mul(t.expandDims(4), dy5), [0, 1, 2]));
    return tf.stack(perTap).reshape(filterShape);
  });
}

function depthwiseBackpropInput(args: KernelArgs) {
  const attrs = args.attrs as Attrs;
  const inShape = attrs.inputShape as number[];
  return composite(args, ({ dy, filter }) => {
    const c = info(inShape, filter.shape, attrs, true);
    const [n, oh, ow] = dy.shape;
    const [kh, kw, ch, mult] = filter.shape;
    const sh = c.strideHeight, sw = c.strideWidth;
    // Spread dy back onto the stride grid (zeros between samples) ...
    let d = dy;
    if (sh > 1 || sw > 1) {
      d = tf.pad(dy.reshape([n, oh, 1, ow, 1, ch * mult]), [
        [0, 0],
        [0, 0],
        [0, sh - 1],
        [0, 0],
        [0, sw - 1],
        [0, 0],
      ]).reshape([n, oh * sh, ow * sw, ch * mult])
        .slice([0, 0, 0, 0], [n, (oh - 1) * sh + 1, (ow - 1) * sw + 1, ch * mult]);
    }
    // ... then a full correlation with the flipped filter lands each tap on its input pixel.
    const top = kh - 1 - c.padInfo.top, left = kw - 1 - c.padInfo.left;
    const bottom = c.inHeight + c.padInfo.top - ((oh - 1) * sh + 1);
    const right = c.inWidth + c.padInfo.left - ((ow - 1) * sw + 1);
    if (top < 0 || left < 0 || bottom < 0 || right < 0) {
      throw new Error(`unsupported depthwise padding ${JSON.stringify(c.padInfo)}`);
    }
    const dp = tf.pad(d, [[0, 0], [top, bottom], [left, right], [0, 0]]);
    const flipped = tf.reverse(filter, [0, 1]);
    if (mult === 1) {
      return tf.depthwiseConv2d(dp as tf.Tensor4D, flipped as tf.Tensor4D, 1, "valid");
    }
    const dp5 = dp.reshape([...dp.shape.slice(0, 3), ch, mult]);
    const parts = [];
    for (let j = 0; j < mult; j++) {
      const dj = dp5.slice([0, 0, 0, 0, j], [-1, -1, -1, -1, 1]).reshape(
        dp.shape.slice(0, 3).concat(ch),
      );
      const wj = flipped.slice([0, 0, 0, j], [kh, kw, ch, 1]);
      parts.push(tf.depthwiseConv2d(dj as tf.Tensor4D, wj as tf.Tensor4D, 1, "valid"));
    }
    return tf.addN(parts);
  });
}

let registered = false;

/** Register the missing gradient kernels on `wasm` (idempotent). */
export function registerWasmGradients(): void {
  if (registered) return;
  registered = true;
  const fns: Record<string, (a: KernelArgs) => tf.TensorInfo> = {
    Conv2DBackpropFilter: conv2DBackpropFilter,
    DepthwiseConv2dNativeBackpropInput: depthwiseBackpropInput,
    DepthwiseConv2dNativeBackpropFilter: depthwiseBackpropFilter,
  };
  for (const [kernelName, fn] of Object.entries(fns)) {
    if (tf.getKernel(kernelName, "wasm")) continue;
    tf.registerKernel({ kernelName, backendName: "wasm", kernelFunc: fn as tf.KernelFunc });
  }
}
