/**
 * Batched inference over a whole split, returning logits as one flat array.
 * @module
 */
import * as tf from "./tf.ts";
import type { Classifier } from "./models/model.ts";
import { type ImageSplit, toTensor } from "./data/dataset.ts";
import { Progress } from "./progress.ts";

/**
 * Logits `[split.n × numLabels]` (row-major) of `model` in inference mode.
 *
 * @example Logits of the tiny ViT fixture on the validation images
 * ```ts
 * import { createModel, predictLogits } from "@kd/vision/models";
 * import { loadSplit } from "@kd/vision/data";
 * import { argmaxRows } from "@kd/vision/metrics";
 * import { assertEquals } from "@std/assert";
 *
 * const teacher = await createModel("hf-dir:tests/fixtures/vit_tiny", { numLabels: 3 });
 * const val = await loadSplit({ data: "tests/fixtures/beans", split: "validation", preprocess: teacher.input, quiet: true });
 * const logits = await predictLogits(teacher, val, { quiet: true });
 * assertEquals(argmaxRows(logits, 3).length, 15);
 * teacher.dispose();
 * ```
 */
export async function predictLogits(
  model: Classifier,
  split: ImageSplit,
  opts: { batchSize?: number; label?: string; quiet?: boolean } = {},
): Promise<Float32Array> {
  const k = model.config.numLabels;
  const bs = opts.batchSize ?? 32;
  const out = new Float32Array(split.n * k);
  const progress = new Progress(opts.label ?? "predict", split.n, { quiet: opts.quiet });
  for (let start = 0; start < split.n; start += bs) {
    const idx = Int32Array.from({ length: Math.min(bs, split.n - start) }, (_, i) => start + i);
    const logits = tf.tidy(() =>
      model.apply(toTensor(split, idx, model.input), { training: false })
    );
    out.set(await logits.data() as Float32Array, start * k);
    logits.dispose();
    progress.update(start + idx.length);
  }
  progress.finish();
  return out;
}
