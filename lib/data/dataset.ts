/**
 * Splits as the trainer sees them: resized uint8 RGB images in memory (decoded once, then cached
 * on disk), labels, stable ids; batches of normalised NHWC float32 tensors; deterministic batch
 * order from (seed, epoch).
 * @module
 */
import { loadSharp } from "./sharp.ts";
import * as tf from "../tf.ts";
import { type FlagHint, UserError } from "../core/errors.ts";
import { applyView, type AugmentOptions, sampleView, type View } from "./augment.ts";
import {
  cacheDir,
  cacheKey,
  readImageCache,
  type SkippedRow,
  writeImageCache,
} from "./image_cache.ts";
import {
  decodeRGB,
  normalizeInto,
  type PreprocessOptions,
  preprocessOptions,
  resizeRGB,
} from "./preprocess.ts";
import { Progress } from "../progress.ts";
import { resolveSplit } from "./resolve.ts";
import { mixSeed, mulberry32, shuffleInPlace } from "../core/rng.ts";
import { checksumFiles, type SplitSource } from "./source.ts";

export { mulberry32 } from "../core/rng.ts";
export type { AugmentOptions } from "./augment.ts";

/**
 * One split, decoded and resized, held in memory.
 *
 * @example Class counts and the first image's pixels
 * ```ts
 * import { type ImageSplit, imagePixels, loadSplit } from "@kd/vision/data";
 *
 * const train: ImageSplit = await loadSplit({
 *   data: "tests/fixtures/beans",
 *   split: "train",
 *   preprocess: { size: 32 },
 *   quiet: true,
 * });
 * const counts = train.classNames.map((_, c) => train.labels.filter((l) => l === c).length);
 * console.log(train.n, counts, train.ids[0], imagePixels(train, 0).length); // 24 [ 8, 8, 8 ] … 3072
 * ```
 */
export interface ImageSplit {
  /** Split name, e.g. "train". */
  name: string;
  /** The Parquet file(s) or folder it was read from. */
  source: string;
  /** sha256 of the source file(s). */
  checksum: string;
  /** Class names in label order: label `i` is `classNames[i]`. */
  classNames: string[];
  /** Side of the square images. */
  size: number;
  /** Number of images. */
  n: number;
  /** `image_file_path`, or `row:<i>` when absent: stable sample ids. */
  ids: string[];
  /** Label (class index) of each image, in row order. */
  labels: Int32Array;
  /** `n*size*size*3` resized RGB uint8, HWC per image. */
  pixels: Uint8Array;
  /** Whether the images came from the on-disk cache (no decoding). */
  fromCache: boolean;
  /** Rows left out because their image did not decode (only with `skipBadImages`). */
  skipped: number;
}

/**
 * Options for {@linkcode loadSplit}.
 *
 * @example A split with the class order given, and any undecodable image skipped
 * ```ts
 * import { loadSplit, type LoadSplitOptions } from "@kd/vision/data";
 *
 * const opts: LoadSplitOptions = {
 *   data: "tests/fixtures/beans",
 *   split: "validation",
 *   preprocess: { size: 32 },
 *   classNames: ["healthy", "angular_leaf_spot", "bean_rust"],
 *   skipBadImages: true,
 *   cacheDir: await Deno.makeTempDir(),
 *   quiet: true,
 * };
 * const val = await loadSplit(opts);
 * console.log(val.classNames, val.skipped, val.fromCache); // [ "healthy", … ] 0 false
 * ```
 */
export interface LoadSplitOptions {
  /** Dataset folder (default env `KD_DATA`, else beans from the Hugging Face cache). */
  data?: string;
  /** Split to load: a Parquet file's or sub-folder's name, e.g. "train", "validation". */
  split: string;
  /** Size, mean and std of the images (defaults: `VIT_PREPROCESS`'s). */
  preprocess?: Partial<PreprocessOptions>;
  /**
   * Class names in label order for data without them (or an image folder's order); a Parquet
   * file's own names are never overridden: different ones are an error.
   */
  labels?: string[];
  /** Renumber labels to this class list by name (see `resolveSplit`). */
  classNames?: string[];
  /** Turn row-level decode failures into a counted warning instead of an error. */
  skipBadImages?: boolean;
  /** Cache folder (default env `KD_CACHE_DIR`, else `<repo>/data/cache`). */
  cacheDir?: string;
  /**
   * Fail when the decoded images cannot be written to the cache (`deno task data prepare`,
   * whose whole job that is); by default it is a warning and the split is used uncached.
   */
  requireCache?: boolean;
  /** Print no progress (decoding, downloading the default dataset). */
  quiet?: boolean;
}

// Bump when the cached bytes would change for the same source and size.
const CACHE_VERSION = 1;
const DECODE_CONCURRENCY = 2;

// Commands that offer skipping say so; the others (e.g. teacher) only name the bad row.
const SKIP_BAD_IMAGES_HINT: FlagHint = {
  flag: "skip-bad-images",
  text: "use --skip-bad-images to leave such rows out",
};

function describeRow(src: SplitSource, row: number): string {
  const id = src.ids[row];
  return `${src.source}: row ${row}${id.startsWith("row:") ? "" : ` (image_file_path ${id})`}`;
}

async function decodeAll(
  src: SplitSource,
  size: number,
  opts: { skipBadImages?: boolean; quiet?: boolean },
): Promise<{ rows: Int32Array; skipped: SkippedRow[]; pixels: Uint8Array }> {
  const bytes = await src.images();
  const per = size * size * 3;
  const results: (Uint8Array | undefined)[] = new Array(bytes.length);
  const skipped: SkippedRow[] = [];
  const progress = new Progress(`decode ${src.name}`, bytes.length, { quiet: opts.quiet });
  let next = 0;
  let failure: UserError | undefined;
  const worker = async () => {
    // On a bad row every worker stops taking work, and the error is thrown only once no decode
    // is in flight: a sharp/libvips call left running past the rejection can crash the process.
    while (next < bytes.length && !failure) {
      const i = next++;
      const b = bytes[i];
      try {
        if (!b || b.length === 0) throw new Error("no image bytes");
        results[i] = resizeRGB(await decodeRGB(b), size);
      } catch (e) {
        const reason = `image bytes do not decode (${(e as Error).message.split("\n")[0]})`;
        if (!opts.skipBadImages) {
          failure ??= new UserError(
            `${describeRow(src, i)}: ${reason}; expected a JPEG/PNG image`,
            { hint: SKIP_BAD_IMAGES_HINT },
          );
          return;
        }
        skipped.push({ row: i, reason });
      }
      bytes[i] = undefined; // free encoded bytes as we go
      progress.tick();
    }
  };
  await Promise.all(Array.from({ length: DECODE_CONCURRENCY }, worker));
  if (failure) throw failure;
  progress.finish();
  skipped.sort((a, b) => a.row - b.row);
  const kept = results.flatMap((r, i) => (r ? [i] : []));
  const pixels = new Uint8Array(kept.length * per);
  kept.forEach((row, k) => pixels.set(results[row]!, k * per));
  return { rows: Int32Array.from(kept), skipped, pixels };
}

/**
 * Load a split: resolve its source, then take the resized images from the cache, or decode them
 * (2 at a time, progress on stderr) and cache them for next time.
 *
 * @example Two splits of the test fixture at 32 px, labels aligned by class name
 * ```ts
 * import { loadSplit } from "@kd/vision/data";
 * import { assertEquals } from "@std/assert";
 *
 * const train = await loadSplit({ data: "tests/fixtures/beans", split: "train", preprocess: { size: 32 }, quiet: true });
 * const val = await loadSplit({
 *   data: "tests/fixtures/beans",
 *   split: "validation",
 *   preprocess: { size: 32 },
 *   classNames: train.classNames,
 *   quiet: true,
 * });
 * assertEquals([train.n, val.n], [24, 15]);
 * assertEquals(val.pixels.length, 15 * 32 * 32 * 3);
 * ```
 */
export async function loadSplit(opts: LoadSplitOptions): Promise<ImageSplit> {
  const pre = preprocessOptions(opts.preprocess);
  const src = await resolveSplit({
    data: opts.data,
    split: opts.split,
    labels: opts.labels,
    classNames: opts.classNames,
    quiet: opts.quiet,
  });
  const checksum = await checksumFiles(src.files);
  const sharp = await loadSharp();
  const key = cacheKey({
    v: CACHE_VERSION,
    checksum,
    size: pre.size,
    resize: "pil-bilinear",
    decoder: `sharp ${sharp.versions.sharp} vips ${sharp.versions.vips}`,
  });
  const file = `${cacheDir(opts.cacheDir)}/${src.name}-${pre.size}px-${key}.kdimg`;
  let cached = await readImageCache(file, { key, size: pre.size }, { quiet: opts.quiet });
  const fromCache = cached !== undefined;
  if (!cached) {
    const d = await decodeAll(src, pre.size, opts);
    cached = { key, size: pre.size, ...d };
    try {
      await writeImageCache(file, cached);
    } catch (e) {
      if (opts.requireCache) {
        throw new UserError(`cannot write the image cache ${file}: ${(e as Error).message}`);
      }
      if (!opts.quiet) {
        console.error(`warning: could not write cache ${file}: ${(e as Error).message}`);
      }
    }
  }
  if (cached.skipped.length) {
    const first = cached.skipped[0];
    if (!opts.skipBadImages) {
      throw new UserError(
        `${describeRow(src, first.row)}: ${first.reason}; expected a JPEG/PNG image`,
        { hint: SKIP_BAD_IMAGES_HINT },
      );
    }
    if (cached.rows.length === 0) {
      // Leaving every row out is not "skipping bad images": no number computed on 0 images means
      // anything, and the common cause is a setting (e.g. the image size), not the data.
      throw new UserError(
        `--skip-bad-images left no usable image: all ${cached.skipped.length} row(s) of the ` +
          `${src.name} split failed (first: ${describeRow(src, first.row)}: ${first.reason})`,
      );
    }
    if (!opts.quiet) {
      console.error(
        `warning: ${src.name}: skipped ${cached.skipped.length} row(s) whose image does not decode ` +
          `(first: ${describeRow(src, first.row)})`,
      );
    }
  }
  const rows = cached.rows;
  return {
    name: src.name,
    source: src.source,
    checksum,
    classNames: src.classNames,
    size: pre.size,
    n: rows.length,
    ids: Array.from(rows, (r) => src.ids[r]),
    labels: Int32Array.from(rows, (r) => src.labels[r]),
    pixels: cached.pixels,
    fromCache,
    skipped: cached.skipped.length,
  };
}

/**
 * The uint8 HWC pixels of image `i` (a view, not a copy).
 *
 * @example The pixels of the first validation image
 * ```ts
 * import { imagePixels, loadSplit } from "@kd/vision/data";
 * import { assertEquals } from "@std/assert";
 *
 * const val = await loadSplit({ data: "tests/fixtures/beans", split: "validation", preprocess: { size: 32 }, quiet: true });
 * assertEquals(imagePixels(val, 0).length, 32 * 32 * 3);
 * ```
 */
export function imagePixels(split: ImageSplit, i: number): Uint8Array {
  const per = split.size * split.size * 3;
  return split.pixels.subarray(i * per, (i + 1) * per);
}

/**
 * Normalised NHWC float32 batch of the images at `indices`, optionally augmented: random views
 * seeded by `augment.rng`, or the given views, one per index (applied to the cached uint8
 * images at this split's size).
 */
export function toTensor(
  split: ImageSplit,
  indices: ArrayLike<number>,
  pre: PreprocessOptions,
  augment?: (AugmentOptions & { rng: () => number }) | readonly View[],
): tf.Tensor4D {
  const s = split.size;
  if (pre.size !== s) {
    throw new Error(
      `toTensor: split "${split.name}" holds ${s}px images, preprocessing asks for ${pre.size}px`,
    );
  }
  const per = s * s * 3;
  const out = new Float32Array(indices.length * per);
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k];
    if (!(i >= 0 && i < split.n)) {
      throw new RangeError(`toTensor: index ${i} outside 0..${split.n - 1}`);
    }
    let img = imagePixels(split, i);
    if (augment) {
      const view = isViewList(augment) ? augment[k] : sampleView(augment, augment.rng, s);
      img = applyView(img, s, view);
    }
    normalizeInto(img, out, k * per, pre);
  }
  return tf.tensor4d(out, [indices.length, s, s, 3]);
}

function isViewList(a: AugmentOptions | readonly View[]): a is readonly View[] {
  return Array.isArray(a);
}

/** Row order for one epoch (a permutation deterministic from (seed, epoch) when shuffling). */
export function epochOrder(
  n: number,
  opts: { shuffle: boolean; seed: number; epoch: number },
): Int32Array {
  const order = Int32Array.from({ length: n }, (_, i) => i);
  return opts.shuffle ? shuffleInPlace(order, mulberry32(mixSeed(opts.seed, opts.epoch))) : order;
}

/** Batches of row indices for one epoch; the last short batch is kept unless `dropLast`. */
export function* batchIndices(
  n: number,
  opts: { batchSize: number; shuffle: boolean; seed: number; epoch: number; dropLast?: boolean },
): Generator<Int32Array> {
  if (!(Number.isInteger(opts.batchSize) && opts.batchSize > 0)) {
    throw new RangeError(`batch size must be a positive integer, got ${opts.batchSize}`);
  }
  const order = epochOrder(n, opts);
  for (let start = 0; start < n; start += opts.batchSize) {
    const end = Math.min(n, start + opts.batchSize);
    if (opts.dropLast && end - start < opts.batchSize) break;
    yield order.slice(start, end);
  }
}
