/**
 * The random view of one training batch, sampled once from (seed, epoch, step) and then shown to
 * every model that looks at the batch: the student at its size, an online teacher at its own
 * (same crop boxes and flips, same mixup partners and weight). Nothing in it depends on whether
 * there is a teacher, so the distilled and scratch arms of a seed train on the same views, and a
 * resumed run replays them exactly.
 * @module
 */
import * as tf from "../tf.ts";
import { mixSeed, mulberry32 } from "../core/rng.ts";
import { type AugmentOptions, sampleView, type View } from "../data/augment.ts";
import { type ImageSplit, toTensor } from "../data/dataset.ts";
import type { PreprocessOptions } from "../data/preprocess.ts";
import { type Mix, mixBatch, mixLabels, sampleMix } from "../data/mixup.ts";

/** What one batch looks like: a view per image (null: the images as they are) and a mixup. */
export interface BatchView {
  views: View[] | null;
  mix: Mix | null;
}

/** Where the crop boxes and flips of a batch come from, when not sampled afresh per batch. */
export type ViewSource = (idx: Int32Array, rng: () => number) => View[];

/**
 * Sample the view of the batch `idx` at optimizer step `step` (0-based, counted over the run):
 * boxes on the student's `size` pixel grid (or drawn from `source`), then the mixup.
 */
export function sampleBatchView(
  idx: Int32Array,
  augment: AugmentOptions,
  at: { seed: number; epoch: number; step: number; size: number },
  source?: ViewSource,
): BatchView {
  const rng = mulberry32(mixSeed(at.seed, at.epoch, at.step, 0xa46));
  const views = source
    ? source(idx, rng)
    : augment.crop || augment.flip
    ? Array.from(idx, () => sampleView(augment, rng, at.size))
    : null;
  const mix = augment.mixup ? sampleMix(idx.length, augment.mixup, rng) : null;
  return { views, mix };
}

/** The normalised input of the batch `idx` of `split` under `view` (views applied, then mixed). */
export function viewInput(
  split: ImageSplit,
  idx: Int32Array,
  pre: PreprocessOptions,
  view: BatchView,
): tf.Tensor4D {
  const x = toTensor(split, idx, pre, view.views ?? undefined);
  if (!view.mix) return x;
  const mixed = mixBatch(x, view.mix);
  x.dispose();
  return mixed;
}

/** Labels of the batch: integers, or the mixed one-hot rows under mixup. */
export function viewLabels(
  labels: Int32Array,
  k: number,
  view: BatchView,
): tf.Tensor1D | tf.Tensor2D {
  return view.mix ? mixLabels(labels, k, view.mix) : tf.tensor1d(labels, "int32");
}
