/**
 * `FusedConv2D` / `FusedDepthwiseConv2D` for the `native` backend: the oneDNN convolution, then
 * bias and activation applied in place in one pass. Pretrained tfjs graphs (the ImageNet
 * MobileNetV2 teacher) run every conv through these kernels; without them the native backend
 * would fall back to the pure-JS cpu kernels (~1 img/s at 224 px).
 * @module
 */
import * as tf from "../../tf.ts";
import { convKernels } from "./conv.ts";
import { type KernelArgs, type NativeKernel, valuesOf } from "./kernels.ts";

type KernelFn = (args: KernelArgs) => tf.TensorInfo;

const SUPPORTED = new Set(["linear", "relu", "relu6", "elu", "sigmoid", "leakyrelu"]);

function makeFused(fusedName: string, convName: string): KernelFn {
  const conv = convKernels().find((k) => k.name === convName)!.fn as KernelFn;
  const cpu = tf.getKernel(fusedName, "cpu")!.kernelFunc as KernelFn;
  return (args) => {
    const { x, filter, bias, preluActivationWeights } = args.inputs as Record<
      string,
      tf.TensorInfo
    >;
    const attrs = (args.attrs ?? {}) as Record<string, unknown>;
    const activation = String(attrs.activation ?? "linear");
    const nhwc = (attrs.dataFormat ?? "NHWC") === "NHWC";
    if (!nhwc || preluActivationWeights || !SUPPORTED.has(activation) || x.dtype !== "float32") {
      return cpu(args);
    }
    const out = conv({ inputs: { x, filter }, backend: args.backend, attrs: args.attrs });
    const y = valuesOf(args.backend, out);
    const c = out.shape[out.shape.length - 1];
    const b = bias ? valuesOf(args.backend, bias) : null;
    if (b && b.length !== c && b.length !== 1) return cpu(args);
    const alpha = Number(attrs.leakyreluAlpha ?? 0.2);
    for (let i = 0; i < y.length; i++) {
      let v = y[i] + (b ? b[b.length === 1 ? 0 : i % c] : 0);
      switch (activation) {
        case "relu":
          v = v > 0 ? v : 0;
          break;
        case "relu6":
          v = v < 0 ? 0 : v > 6 ? 6 : v;
          break;
        case "elu":
          v = v >= 0 ? v : Math.exp(v) - 1;
          break;
        case "sigmoid":
          v = 1 / (1 + Math.exp(-v));
          break;
        case "leakyrelu":
          v = v >= 0 ? v : alpha * v;
          break;
      }
      y[i] = v;
    }
    return out;
  };
}

/** The fused conv kernels, composed from the native convolutions. */
export function fusedConvKernels(): NativeKernel[] {
  return [
    { name: "FusedConv2D", fn: makeFused("FusedConv2D", "Conv2D") },
    {
      name: "FusedDepthwiseConv2D",
      fn: makeFused("FusedDepthwiseConv2D", "DepthwiseConv2dNative"),
    },
  ];
}
