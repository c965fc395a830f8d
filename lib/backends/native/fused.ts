/**
 * Fused training kernels for the `native` backend: batch norm with batch statistics (optionally
 * followed by ReLU6) as ONE kernel with ONE gradient kernel. tfjs's own autodiff of
 * `moments`/`batchNorm`/`relu6` walks every activation tensor about a dozen times; these take
 * two passes forward and two backward. The default runs the loops of `bn_loops.ts`; with
 * `KD_NATIVE_BN=onednn` it runs oneDNN batch normalization + eltwise clip primitives instead
 * (slower with oneDNN 2.6 channels-last, kept for comparison on other versions).
 * @module
 */
import * as tf from "../../tf.ts";
import { cached, checkInit, ctx, D, md, opDesc, Primitive } from "./dnnl.ts";
import { output, valuesOf } from "./kernels.ts";
import type { NativeKernel } from "./kernels.ts";
import * as loops from "./bn_loops.ts";

/** `KD_NATIVE_BN=onednn` selects oneDNN's batch norm instead of the JS loops (for comparison). */
const useOneDnn = () => Deno.env.get("KD_NATIVE_BN") === "onednn";

/** Kernel: inputs {x, scale, shift}, attrs {eps, relu6}; outputs [y, mean, variance]. */
export const BN_TRAIN = "NativeBatchNormTrain";
/** Kernel: inputs {x, scale, shift, mean, variance, dy, y}, attrs {eps, relu6}; outputs [dx, dscale, dshift]. */
export const BN_TRAIN_GRAD = "NativeBatchNormTrainGrad";

interface BNAttrs {
  eps: number;
  relu6: boolean;
}

/** oneDNN dims {N, C, H, W} (nhwc) for an NHWC tensor, or {rows, C, 1, 1} for any other rank. */
function bnDims(shape: number[]): number[] {
  const c = shape[shape.length - 1];
  if (shape.length === 4) return [shape[0], c, shape[1], shape[2]];
  return [shape.slice(0, -1).reduce((a, b) => a * b, 1), c, 1, 1];
}

const FLAGS = D.bn.useScale | D.bn.useShift;

function bnForward(d: number[], eps: number): Primitive {
  return cached(`bn_fwd|${d}|${eps}`, () => {
    const data = md(d, D.tag.nhwc);
    const ch = md([d[1]], D.tag.a);
    const op = opDesc();
    checkInit(
      ctx().lib.dnnl_batch_normalization_forward_desc_init(
        op,
        D.prop.fwdTraining,
        data,
        eps,
        FLAGS,
      ),
      "batch_normalization_forward_desc_init",
    );
    return new Primitive(
      op,
      new Map([
        [D.arg.src, data],
        [D.arg.scale, ch],
        [D.arg.shift, ch],
        [D.arg.dst, data],
        [D.arg.mean, ch],
        [D.arg.variance, ch],
      ]),
      new Set([D.arg.dst, D.arg.mean, D.arg.variance]),
    );
  });
}

function bnBackward(d: number[], eps: number): Primitive {
  return cached(`bn_bwd|${d}|${eps}`, () => {
    const data = md(d, D.tag.nhwc);
    const ch = md([d[1]], D.tag.a);
    const op = opDesc();
    checkInit(
      ctx().lib.dnnl_batch_normalization_backward_desc_init(op, D.prop.bwd, data, data, eps, FLAGS),
      "batch_normalization_backward_desc_init",
    );
    return new Primitive(
      op,
      new Map([
        [D.arg.src, data],
        [D.arg.mean, ch],
        [D.arg.variance, ch],
        [D.arg.diffDst, data],
        [D.arg.scale, ch],
        [D.arg.shift, ch],
        [D.arg.diffSrc, data],
        [D.arg.diffScale, ch],
        [D.arg.diffShift, ch],
      ]),
      new Set([D.arg.diffSrc, D.arg.diffScale, D.arg.diffShift]),
      bnForward(d, eps),
    );
  });
}

function clipForward(size: number): Primitive {
  return cached(`clip_fwd|${size}`, () => {
    const data = md([size], D.tag.a);
    const op = opDesc();
    checkInit(
      ctx().lib.dnnl_eltwise_forward_desc_init(
        op,
        D.prop.fwdTraining,
        D.alg.clipV2UseDst,
        data,
        0,
        6,
      ),
      "eltwise_forward_desc_init",
    );
    return new Primitive(op, new Map([[D.arg.src, data], [D.arg.dst, data]]), new Set([D.arg.dst]));
  });
}

function clipBackward(size: number): Primitive {
  return cached(`clip_bwd|${size}`, () => {
    const data = md([size], D.tag.a);
    const op = opDesc();
    checkInit(
      ctx().lib.dnnl_eltwise_backward_desc_init(op, D.alg.clipV2UseDst, data, data, 0, 6),
      "eltwise_backward_desc_init",
    );
    return new Primitive(
      op,
      new Map([[D.arg.dst, data], [D.arg.diffDst, data], [D.arg.diffSrc, data]]),
      new Set([D.arg.diffSrc]),
      clipForward(size),
    );
  });
}

function bnTrain(
  args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs?: tf.NamedAttrMap },
): tf.TensorInfo[] {
  const { x, scale, shift } = args.inputs as Record<string, tf.TensorInfo>;
  const { eps, relu6 } = args.attrs as unknown as BNAttrs;
  const d = bnDims(x.shape);
  const c = d[1];
  const y = new Float32Array(x.shape.reduce((a, b) => a * b, 1));
  const mean = new Float32Array(c), variance = new Float32Array(c);
  if (!useOneDnn()) {
    loops.bnForward(
      valuesOf(args.backend, x),
      c,
      valuesOf(args.backend, scale),
      valuesOf(args.backend, shift),
      eps,
      relu6,
      y,
      mean,
      variance,
    );
    return [
      output(args.backend, x.shape, y),
      output(args.backend, [c], mean),
      output(args.backend, [c], variance),
    ];
  }
  bnForward(d, eps).run(
    new Map<number, ArrayBufferView>([
      [D.arg.src, valuesOf(args.backend, x)],
      [D.arg.scale, valuesOf(args.backend, scale)],
      [D.arg.shift, valuesOf(args.backend, shift)],
      [D.arg.dst, y],
      [D.arg.mean, mean],
      [D.arg.variance, variance],
    ]),
  );
  if (relu6) clipForward(y.length).run(new Map([[D.arg.src, y], [D.arg.dst, y]]));
  return [
    output(args.backend, x.shape, y),
    output(args.backend, [c], mean),
    output(args.backend, [c], variance),
  ];
}

function bnTrainGrad(
  args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs?: tf.NamedAttrMap },
): tf.TensorInfo[] {
  const { x, scale, shift, mean, variance, dy, y } = args.inputs as Record<string, tf.TensorInfo>;
  const { eps, relu6 } = args.attrs as unknown as BNAttrs;
  const d = bnDims(x.shape);
  const c = d[1];
  let dyv = valuesOf(args.backend, dy);
  const dx = new Float32Array(dyv.length);
  if (!useOneDnn()) {
    const dscale = new Float32Array(c), dshift = new Float32Array(c);
    loops.bnBackward(
      valuesOf(args.backend, x),
      c,
      valuesOf(args.backend, scale),
      valuesOf(args.backend, shift),
      valuesOf(args.backend, mean),
      valuesOf(args.backend, variance),
      eps,
      relu6,
      dyv,
      dx,
      dscale,
      dshift,
    );
    return [
      output(args.backend, x.shape, dx),
      output(args.backend, [c], dscale),
      output(args.backend, [c], dshift),
    ];
  }
  if (relu6) {
    // The pre-ReLU6 gradient goes into dx, and batch-norm backward then runs in place on it.
    clipBackward(dyv.length).run(
      new Map<number, ArrayBufferView>([
        [D.arg.dst, valuesOf(args.backend, y)],
        [D.arg.diffDst, dyv],
        [D.arg.diffSrc, dx],
      ]),
    );
    dyv = dx;
  }
  const dscale = new Float32Array(c), dshift = new Float32Array(c);
  bnBackward(d, eps).run(
    new Map<number, ArrayBufferView>([
      [D.arg.src, valuesOf(args.backend, x)],
      [D.arg.mean, valuesOf(args.backend, mean)],
      [D.arg.variance, valuesOf(args.backend, variance)],
      [D.arg.diffDst, dyv],
      [D.arg.scale, valuesOf(args.backend, scale)],
      // oneDNN 2.x validates that SHIFT is bound for use_shift backward but never reads it.
      [D.arg.shift, valuesOf(args.backend, scale)],
      [D.arg.diffSrc, dx],
      [D.arg.diffScale, dscale],
      [D.arg.diffShift, dshift],
    ]),
  );
  return [
    output(args.backend, x.shape, dx),
    output(args.backend, [c], dscale),
    output(args.backend, [c], dshift),
  ];
}

let gradRegistered = false;

/** Register the gradient of {@linkcode BN_TRAIN} (global, once; it only runs on `native`). */
export function registerFusedGradients(): void {
  if (gradRegistered) return;
  gradRegistered = true;
  tf.registerGradient({
    kernelName: BN_TRAIN,
    inputsToSave: ["x", "scale", "shift"],
    outputsToSave: [true, true, true],
    gradFunc: (dys: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs?: tf.NamedAttrMap) => {
      const [x, scale, shift, y, mean, variance] = saved;
      const dy = Array.isArray(dys) ? dys[0] : dys;
      const [dx, dscale, dshift] = tf.engine().runKernel(
        BN_TRAIN_GRAD,
        { x, scale, shift, mean, variance, dy, y },
        attrs ?? {},
      ) as tf.Tensor[];
      return { x: () => dx, scale: () => dscale, shift: () => dshift };
    },
  });
}

/** The fused kernels registered on the native backend. */
export function fusedKernels(): NativeKernel[] {
  registerFusedGradients();
  return [
    { name: BN_TRAIN, fn: bnTrain },
    { name: BN_TRAIN_GRAD, fn: bnTrainGrad },
  ];
}
