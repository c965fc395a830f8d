/**
 * Batched inference over a whole split, returning logits as one flat array.
 * @module
 */
import * as tf from "./tf.ts";
import type { Classifier } from "./models/model.ts";
import { type ImageSplit, toTensor } from "./data/dataset.ts";
import { Progress } from "./progress.ts";

/** Logits `[split.n × numLabels]` (row-major) of `model` in inference mode. */
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
