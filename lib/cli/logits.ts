/**
 * `deno task logits --model SPEC --input FILE.safetensors --out FILE.safetensors [--backend B]`:
 * runs a model on the input's `pixel_values` (NCHW float32, as HF image processors produce it)
 * and writes `logits` (float32), for cross-checking against PyTorch.
 * @module
 */
import { parseArgs } from "@std/cli";
import * as tf from "../tf.ts";
import { initBackend } from "../backend.ts";
import { UserError } from "../core/errors.ts";
import { runMain } from "./command.ts";
import { createModel, SPEC_FORMS } from "../models/registry.ts";
import { getTensor, readSafetensors, writeSafetensors } from "../models/safetensors.ts";
import { nchwToNhwc } from "../models/vit.ts";

const USAGE =
  "usage: deno task logits --model SPEC --input FILE.safetensors --out FILE.safetensors " +
  `[--backend NAME] [--batch-size N] [--input-name pixel_values]\n  SPEC: ${
    SPEC_FORMS.join(" | ")
  }`;

/** The command behind `deno task logits` (flags as on the command line). */
export async function runLogits(args: string[]): Promise<void> {
  let a;
  try {
    a = parseArgs(args, {
      string: ["model", "input", "out", "backend", "batch-size", "input-name"],
      boolean: ["help"],
      default: { "batch-size": "16", "input-name": "pixel_values" },
    });
  } catch (e) {
    throw new UserError(`${(e as Error).message}\n${USAGE}`);
  }
  if (a.help) {
    console.log(USAGE);
    return;
  }
  for (const f of ["model", "input", "out"]) {
    if (!a[f]) throw new UserError(`--${f} is required\n${USAGE}`);
  }
  const batch = Number(a["batch-size"]);
  if (!Number.isInteger(batch) || batch < 1) {
    throw new UserError(`--batch-size must be a positive integer, got "${a["batch-size"]}"`);
  }
  if (a.backend) await initBackend(String(a.backend));
  const file = await readSafetensors(String(a.input));
  const name = String(a["input-name"]);
  const x = getTensor(file, name);
  if (x.rank !== 4 || x.shape[1] !== 3) {
    x.dispose();
    throw new UserError(`${a.input}: "${name}" has shape [${x.shape}], expected [batch, 3, H, W]`);
  }
  const model = await createModel(String(a.model), { quiet: true });
  try {
    if (x.shape[2] !== model.input.size || x.shape[3] !== model.input.size) {
      throw new UserError(
        `${a.input}: "${name}" is ${x.shape[2]}x${
          x.shape[3]
        }, the model expects ${model.input.size}x${model.input.size}`,
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
    await writeSafetensors(String(a.out), { logits }, { model: String(a.model) });
    console.error(`wrote logits [${logits.shape}] to ${a.out}`);
    tf.dispose([...parts, logits]);
  } finally {
    x.dispose();
    model.dispose();
  }
}

if (import.meta.main) await runMain(() => runLogits(Deno.args));
