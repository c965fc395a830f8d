/**
 * Row and per-class counts of a dataset's splits, from labels alone (no image decoding).
 * @module
 */
import { availableSplits, dataDir, resolveSplit } from "./resolve.ts";

/**
 * Counts for one split.
 *
 * @example Each split's size and source
 * ```ts
 * import { datasetInfo, type SplitInfo } from "@kd/vision/data";
 *
 * const { splits } = await datasetInfo({ data: "tests/fixtures/beans", quiet: true });
 * for (const [name, info] of Object.entries(splits) as [string, SplitInfo][]) {
 *   console.log(name, info.rows, info.classes, info.source);
 * }
 * ```
 */
export interface SplitInfo {
  /** Rows in the split (images, decodable or not). */
  rows: number;
  /** Rows per class name, in label order. */
  classes: Record<string, number>;
  /** The Parquet file(s) or folder the split is read from. */
  source: string;
}

/**
 * Per-split counts for `splits` (default: those present among train, validation, test).
 *
 * @example Rows per split and class
 * ```ts
 * import { datasetInfo } from "@kd/vision/data";
 * import { assertEquals } from "@std/assert";
 *
 * const info = await datasetInfo({ data: "tests/fixtures/beans", quiet: true });
 * assertEquals(info.splits.train.classes, { angular_leaf_spot: 8, bean_rust: 8, healthy: 8 });
 * ```
 */
export async function datasetInfo(
  opts: { data?: string; splits?: string[]; labels?: string[]; quiet?: boolean } = {},
): Promise<{ dir: string; splits: Record<string, SplitInfo> }> {
  const { dir, isDefault } = dataDir(opts.data);
  let splits = opts.splits;
  if (!splits) {
    const present = availableSplits(dir);
    // The default folder is filled on first use; elsewhere report what is there.
    splits = isDefault || present.length === 0
      ? (present.length ? present : ["train", "validation", "test"])
      : present;
  }
  const out: Record<string, SplitInfo> = {};
  for (const split of splits) {
    const src = await resolveSplit({
      data: opts.data,
      split,
      labels: opts.labels,
      quiet: opts.quiet,
    });
    const classes: Record<string, number> = Object.fromEntries(src.classNames.map((c) => [c, 0]));
    for (const l of src.labels) classes[src.classNames[l]]++;
    out[split] = { rows: src.labels.length, classes, source: src.source };
  }
  return { dir, splits: out };
}
