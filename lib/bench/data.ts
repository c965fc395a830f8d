/**
 * `deno task bench data [--data DIR] [--split train] [--batch 32]`: decode+preprocess throughput
 * (images/s) with a cold cache (fresh temporary cache folder) and a warm one, plus the cost of
 * turning cached images into normalised batches (with and without augmentation).
 * @module
 */
import { parseArgs } from "@std/cli";
import { batchIndices, loadSplit, mulberry32, toTensor } from "../data/dataset.ts";
import { preprocessOptions } from "../data/preprocess.ts";

/** Run the benchmark; the last stdout line is a JSON summary. */
export async function main(args: string[]): Promise<void> {
  const a = parseArgs(args, {
    string: ["data", "split", "batch"],
    default: { split: "train", batch: "32" },
  });
  // Default: env KD_DATA, else beans from the Hugging Face cache.
  const data = a.data as string | undefined;
  const split = a.split as string;
  const cacheDir = await Deno.makeTempDir({ prefix: "kd-bench-data-" });
  try {
    let t0 = performance.now();
    const cold = await loadSplit({ data, split, cacheDir });
    const coldS = (performance.now() - t0) / 1000;
    console.log(
      `cold  ${split}: ${cold.n} images in ${coldS.toFixed(2)}s = ${
        (cold.n / coldS).toFixed(0)
      } img/s`,
    );
    t0 = performance.now();
    const warm = await loadSplit({ data, split, cacheDir });
    const warmS = (performance.now() - t0) / 1000;
    if (!warm.fromCache) throw new Error("second load did not hit the cache");
    console.log(
      `warm  ${split}: ${warm.n} images in ${warmS.toFixed(2)}s = ${
        (warm.n / warmS).toFixed(0)
      } img/s`,
    );
    const pre = preprocessOptions();
    const batchRate = (augment: boolean) => {
      const rng = mulberry32(1);
      const t = performance.now();
      let n = 0;
      for (
        const idx of batchIndices(warm.n, {
          batchSize: Number(a.batch),
          shuffle: true,
          seed: 1,
          epoch: 0,
        })
      ) {
        toTensor(warm, idx, pre, augment ? { crop: true, flip: true, rng } : undefined).dispose();
        n += idx.length;
      }
      return n / ((performance.now() - t) / 1000);
    };
    const plain = batchRate(false);
    const aug = batchRate(true);
    console.log(`batches: ${plain.toFixed(0)} img/s plain, ${aug.toFixed(0)} img/s with crop+flip`);
    console.log(JSON.stringify({
      bench: "data",
      split,
      images: cold.n,
      cold_img_per_s: cold.n / coldS,
      warm_img_per_s: warm.n / warmS,
      batch_img_per_s: plain,
      batch_augment_img_per_s: aug,
    }));
  } finally {
    await Deno.remove(cacheDir, { recursive: true });
  }
}
