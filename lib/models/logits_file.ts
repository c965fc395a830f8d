/**
 * Logits for Hugging Face style `pixel_values` stored in a safetensors file (NCHW float32, as HF
 * image processors produce them), written to another safetensors file as `logits`: the parity
 * check between this toolkit and PyTorch for any checkpoint.
 * @module
 */
import * as tf from "../tf.ts";
import { UserError } from "../core/errors.ts";
import { canonicalPath, exists } from "../core/fs.ts";
import { createModel } from "./registry.ts";
import { getTensor, readSafetensors, writeSafetensors } from "./safetensors.ts";
import { nchwToNhwc } from "./vit.ts";

/** Options of {@linkcode writeLogitsFile}. */
export interface LogitsFileOptions {
  /** Model spec. */
  model: string;
  /** safetensors file holding the input. */
  input: string;
  /** safetensors file to write `logits` to. */
  out: string;
  /** Name of the input tensor (default `pixel_values`). */
  inputName?: string;
  batchSize?: number;
  /** Replace an existing `out` (never the input itself). */
  force?: boolean;
}

/** Refuse an `out` that exists (without `force`) or that is the input file. */
async function checkLogitsOut(o: LogitsFileOptions): Promise<void> {
  if (!(await exists(o.out))) return;
  if (await canonicalPath(o.out) === await canonicalPath(o.input)) {
    throw new UserError(`--out ${o.out} is the --input file; write the logits to another file`);
  }
  if (!o.force) throw new UserError(`--out ${o.out} exists; pass --force to replace it`);
}

/** Run the model on the input's pixel values and write the logits; returns their shape. */
export async function writeLogitsFile(o: LogitsFileOptions): Promise<number[]> {
  const batch = o.batchSize ?? 16;
  const name = o.inputName ?? "pixel_values";
  await checkLogitsOut(o);
  const file = await readSafetensors(o.input);
  const x = getTensor(file, name);
  if (x.rank !== 4 || x.shape[1] !== 3) {
    x.dispose();
    throw new UserError(`${o.input}: "${name}" has shape [${x.shape}], expected [batch, 3, H, W]`);
  }
  // NaN/Inf pixels give no meaningful logits, and backends disagree on them (the native one
  // wrote finite numbers where cpu wrote NaN): refuse them rather than write either.
  const values = x.dataSync();
  const bad = values.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) {
    x.dispose();
    throw new UserError(
      `${o.input}: "${name}" element ${bad} is ${values[bad]}; pixel values must be finite`,
    );
  }
  const model = await createModel(o.model, { quiet: true });
  try {
    if (x.shape[2] !== model.input.size || x.shape[3] !== model.input.size) {
      throw new UserError(
        `${o.input}: "${name}" is ${x.shape[2]}x${x.shape[3]}, the model expects ` +
          `${model.input.size}x${model.input.size}`,
      );
    }
    const parts: tf.Tensor[] = [];
    for (let s = 0; s < x.shape[0]; s += batch) {
      const n = Math.min(batch, x.shape[0] - s);
      parts.push(
        tf.tidy(() =>
          model.apply(nchwToNhwc(tf.slice(x, [s, 0, 0, 0], [n, -1, -1, -1]) as tf.Tensor4D))
        ),
      );
    }
    const logits = tf.concat(parts, 0);
    await writeSafetensors(o.out, { logits }, { model: o.model });
    const shape = logits.shape;
    tf.dispose([...parts, logits]);
    return shape;
  } finally {
    x.dispose();
    model.dispose();
  }
}
