/**
 * Row subsets of a loaded split (smoke runs, teacher logits for only the samples needed).
 * @module
 */
import type { ImageSplit } from "./dataset.ts";

/** Rows `indices` of a split as a new split (pixels copied; all rows in order: the split itself). */
export function subsetSplit(split: ImageSplit, indices: ArrayLike<number>): ImageSplit {
  // Whole-split "subsets" are the common case (no --train-limit): skip copying every image.
  if (indices.length === split.n && Array.prototype.every.call(indices, (r, i) => r === i)) {
    return split;
  }
  const px = split.size * split.size * 3;
  const pixels = new Uint8Array(indices.length * px);
  const ids: string[] = [];
  const labels = new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const r = indices[i];
    pixels.set(split.pixels.subarray(r * px, (r + 1) * px), i * px);
    ids.push(split.ids[r]);
    labels[i] = split.labels[r];
  }
  return { ...split, n: indices.length, ids, labels, pixels };
}

/** `limit` evenly spaced row indices of `n` (all rows when limit is 0 or ≥ n); keeps class balance on sorted data. */
export function evenlySpaced(n: number, limit: number): Int32Array {
  if (!limit || limit >= n) return Int32Array.from({ length: n }, (_, i) => i);
  return Int32Array.from({ length: limit }, (_, i) => Math.floor((i * n) / limit));
}

/** Row indices of `split` holding the sample ids `ids` (error names the first unknown id). */
export function rowsOfIds(split: ImageSplit, ids: string[]): Int32Array {
  const at = new Map(split.ids.map((id, i) => [id, i]));
  return Int32Array.from(ids, (id) => {
    const r = at.get(id);
    if (r === undefined) {
      throw new Error(`sample "${id}" is not in split ${split.name} (${split.source})`);
    }
    return r;
  });
}
