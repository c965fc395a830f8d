/**
 * Per-channel sums over all pixels of NHWC tensors in one multi-threaded oneDNN pass: the weight
 * and bias gradients of a 1×1 depthwise convolution with input `a` and output gradient `b` are
 * exactly `Σ a·b` and `Σ b`. Batch-norm statistics (`a = b = x`) and batch-norm backward sums
 * (`a = x`, `b = dy`) both take this form; oneDNN 2.6 has no fast reduction primitive for them
 * (its `reduction` is a reference loop, its batch norm slower than this plus a binary pass).
 * Sums accumulate in float32, so callers centre `a` first (see `conv_bn.ts`).
 * @module
 */
import { cached, checkInit, ctx, D, md, opDesc, Primitive } from "./dnnl.ts";

function sumsPrimitive(d: number[]): Primitive {
  return cached(`channel_sums|${d}`, () => {
    const data = md(d, D.tag.nhwc);
    const c = d[1];
    const w = md([c, 1, 1, 1, 1], D.tag.hwigo), wAny = md([c, 1, 1, 1, 1], D.tag.any);
    const bias = md([c], D.tag.a);
    const one = new BigInt64Array(12), zero = new BigInt64Array(12);
    one[0] = 1n;
    one[1] = 1n;
    const { lib } = ctx();
    const fwdOp = opDesc();
    checkInit(
      lib.dnnl_convolution_forward_desc_init(
        fwdOp,
        D.prop.fwdTraining,
        D.alg.convDirect,
        data,
        wAny,
        Deno.UnsafePointer.of(bias),
        data,
        one,
        zero,
        zero,
      ),
      "convolution_forward_desc_init",
    );
    const fwd = new Primitive(
      fwdOp,
      new Map([[D.arg.src, data], [D.arg.weights, w], [D.arg.bias, bias], [D.arg.dst, data]]),
      new Set([D.arg.dst]),
    );
    const op = opDesc();
    checkInit(
      lib.dnnl_convolution_backward_weights_desc_init(
        op,
        D.alg.convDirect,
        data,
        wAny,
        Deno.UnsafePointer.of(bias),
        data,
        one,
        zero,
        zero,
      ),
      "convolution_backward_weights_desc_init",
    );
    return new Primitive(
      op,
      new Map([
        [D.arg.src, data],
        [D.arg.diffDst, data],
        [D.arg.diffWeights, w],
        [D.arg.diffBias, bias],
      ]),
      new Set([D.arg.diffWeights, D.arg.diffBias]),
      fwd,
    );
  });
}

/** `sab[c] = Σ a·b` and `sb[c] = Σ b` over the pixels of NHWC `a`, `b` (oneDNN dims {N, C, H, W}). */
export function channelSums(
  d: number[],
  a: Float32Array,
  b: Float32Array,
  sab: Float32Array,
  sb: Float32Array,
): void {
  sumsPrimitive(d).run(
    new Map<number, ArrayBufferView>([
      [D.arg.src, a],
      [D.arg.diffDst, b],
      [D.arg.diffWeights, sab],
      [D.arg.diffBias, sb],
    ]),
  );
}
