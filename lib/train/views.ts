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
  /** With fixed views per image: which of its views each image shows (else null). */
  picks: Int32Array | null;
}

/** Where the views of a batch come from when they are fixed in advance: one of K per image. */
export type ViewSource = (idx: Int32Array, rng: () => number) => {
  views: View[];
  picks: Int32Array;
};

/** 32-bit FNV-1a of a sample id: views follow the image, not its row in a subset. */
function hashId(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/**
 * The K fixed views of the image `id` (`--teacher-views K`), sampled on the student's `size`
 * grid from (seed, id, view number): the same for every run of the seed, whatever its teacher.
 */
export function imageViews(
  id: string,
  augment: AugmentOptions,
  k: number,
  at: { seed: number; size: number },
): View[] {
  return Array.from(
    { length: k },
    (_, v) => sampleView(augment, mulberry32(mixSeed(at.seed, hashId(id), v, 0x71e)), at.size),
  );
}

/** A {@linkcode ViewSource} over `ids` (row order): each batch draws one of K views per image. */
export function fixedViews(
  ids: string[],
  augment: AugmentOptions,
  k: number,
  at: { seed: number; size: number },
): ViewSource {
  const all = ids.map((id) => imageViews(id, augment, k, at));
  return (idx, rng) => {
    const picks = Int32Array.from(idx, () => Math.floor(rng() * k));
    return { views: Array.from(idx, (row, i) => all[row][picks[i]]), picks };
  };
}

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
  if (source) return { ...source(idx, rng), mix: null };
  const views = augment.crop || augment.flip
    ? Array.from(idx, () => sampleView(augment, rng, at.size))
    : null;
  const mix = augment.mixup ? sampleMix(idx.length, augment.mixup, rng) : null;
  return { views, mix, picks: null };
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
