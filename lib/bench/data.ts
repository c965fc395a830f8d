/**
 * Data pipeline throughput: decode+preprocess with a cold cache (a fresh temporary cache folder)
 * and a warm one, and turning cached images into normalised batches (with and without
 * augmentation), in images/s.
 * @module
 */
import { batchIndices, loadSplit, mulberry32, toTensor } from "../data/dataset.ts";
import { preprocessOptions } from "../data/preprocess.ts";

/** Settings of {@linkcode benchData}. */
export interface DataBenchOptions {
  /** Dataset folder (the loader's default when absent). */
  data?: string;
  split: string;
  batchSize: number;
  /** Batch image size (the preprocessing default when absent). */
  imageSize?: number;
  log?: (message: string) => void;
}

/** The JSON result. */
export interface DataBenchResult {
  bench: "data";
  split: string;
  images: number;
  cold_img_per_s: number;
  warm_img_per_s: number;
  batch_img_per_s: number;
  batch_augment_img_per_s: number;
}

/** Run the data benchmark (see the module doc). */
export async function benchData(o: DataBenchOptions): Promise<DataBenchResult> {
  const log = o.log ?? ((m: string) => console.error(m));
  const cacheDir = await Deno.makeTempDir({ prefix: "kd-bench-data-" });
  const preprocess = o.imageSize ? { size: o.imageSize } : undefined;
  try {
    let t0 = performance.now();
    const cold = await loadSplit({ data: o.data, split: o.split, cacheDir, preprocess });
    const coldS = (performance.now() - t0) / 1000;
    log(`cold  ${o.split}: ${cold.n} images in ${coldS.toFixed(2)}s`);
    t0 = performance.now();
    const warm = await loadSplit({ data: o.data, split: o.split, cacheDir, preprocess });
    const warmS = (performance.now() - t0) / 1000;
    if (!warm.fromCache) throw new Error("second load did not hit the cache");
    log(`warm  ${o.split}: ${warm.n} images in ${warmS.toFixed(2)}s`);
    const pre = preprocessOptions(preprocess);
    const batchRate = (augment: boolean) => {
      const rng = mulberry32(1);
      const t = performance.now();
      let n = 0;
      const order = { batchSize: o.batchSize, shuffle: true, seed: 1, epoch: 0 };
      for (const idx of batchIndices(warm.n, order)) {
        toTensor(warm, idx, pre, augment ? { crop: true, flip: true, rng } : undefined).dispose();
        n += idx.length;
      }
      return n / ((performance.now() - t) / 1000);
    };
    const plain = batchRate(false);
    const aug = batchRate(true);
    log(`batches: ${plain.toFixed(0)} img/s plain, ${aug.toFixed(0)} img/s with crop+flip`);
    return {
      bench: "data",
      split: o.split,
      images: cold.n,
      cold_img_per_s: cold.n / coldS,
      warm_img_per_s: warm.n / warmS,
      batch_img_per_s: plain,
      batch_augment_img_per_s: aug,
    };
  } finally {
    await Deno.remove(cacheDir, { recursive: true });
  }
}
