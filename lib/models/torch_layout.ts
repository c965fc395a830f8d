/**
 * Moving Hugging Face (PyTorch-layout) tensors into this toolkit's tfjs layouts and back: conv
 * OIHW ↔ HWIO, depthwise `[C,1,kh,kw]` ↔ `[kh,kw,C,1]`, linear `[out,in]` ↔ `[in,out]`.
 * @module
 */
import * as tf from "../tf.ts";
import { assertDtype, assertFinite, FLOAT_DTYPES } from "./safetensors.ts";
import type { TensorStore } from "./tensor_store.ts";

/** How a variable is laid out in PyTorch relative to tfjs. */
export type TorchLayout = "conv" | "depthwise" | "linear" | "same";

/** Default layout guess from rank: 4 → conv, 2 → linear, else unchanged. */
export function layoutOf(v: tf.Tensor): TorchLayout {
  return v.rank === 4 ? "conv" : v.rank === 2 ? "linear" : "same";
}

/** The PyTorch shape of a tfjs-layout shape. */
export function torchShape(s: number[], layout: TorchLayout): number[] {
  if (layout === "conv") return [s[3], s[2], s[0], s[1]];
  if (layout === "depthwise") return [s[2], 1, s[0], s[1]];
  if (layout === "linear") return [s[1], s[0]];
  return s;
}

/** Convert a PyTorch-layout tensor to the tfjs layout. */
export function fromTorch(t: tf.Tensor, layout: TorchLayout): tf.Tensor {
  if (layout === "conv") return tf.transpose(t, [2, 3, 1, 0]);
  if (layout === "depthwise") return tf.transpose(t, [2, 3, 0, 1]);
  if (layout === "linear") return tf.transpose(t);
  return tf.clone(t);
}

/** Convert a tfjs-layout tensor to the PyTorch layout (the inverse of {@linkcode fromTorch}). */
export function toTorch(t: tf.Tensor, layout: TorchLayout): tf.Tensor {
  if (layout === "conv") return tf.transpose(t, [3, 2, 0, 1]);
  if (layout === "depthwise") return tf.transpose(t, [2, 3, 0, 1]);
  if (layout === "linear") return tf.transpose(t);
  return tf.clone(t);
}

/**
 * Decode `names` (name → layout) from `file`, checking each PyTorch shape against the variable's;
 * missing tensors, shape mismatches, non-float element types and non-finite values throw a
 * UserError naming the tensor.
 * Nothing leaks on error.
 */
export function loadTorchTensors(
  file: TensorStore,
  vars: Map<string, tf.Variable>,
  names: Map<string, TorchLayout>,
  rename: (name: string) => string = (n) => n,
): Map<string, tf.Tensor> {
  const out = new Map<string, tf.Tensor>();
  try {
    for (const [name, layout] of names) {
      const v = vars.get(name)!;
      const raw = file.get(rename(name), torchShape(v.shape, layout));
      assertDtype(raw, FLOAT_DTYPES, `${file.path}: tensor "${rename(name)}"`);
      const floats = raw.data instanceof Float32Array
        ? raw.data
        : Float32Array.from(raw.data, Number);
      assertFinite(floats, `${file.path}: tensor "${rename(name)}"`);
      out.set(name, tf.tidy(() => fromTorch(tf.tensor(floats, raw.shape, "float32"), layout)));
    }
  } catch (e) {
    tf.dispose([...out.values()]);
    throw e;
  }
  return out;
}

/** Assign every tensor of `values` to the same-named variable and dispose the tensors. */
export function assignAll(vars: Map<string, tf.Variable>, values: Map<string, tf.Tensor>): void {
  for (const [name, t] of values) {
    vars.get(name)!.assign(t);
    t.dispose();
  }
}
