/**
 * The data a run trains and selects on: the training and validation splits at the student's
 * image size, validation labels aligned to the training split's classes by name, subsets taken
 * evenly (`maxImages`), and everything that would make the numbers meaningless refused before
 * any work: an empty split, a class with no training images.
 * @module
 */
import { UserError } from "../core/errors.ts";
import { type ImageSplit, loadSplit } from "../data/dataset.ts";
import type { PreprocessOptions } from "../data/preprocess.ts";
import { resolveSplit } from "../data/resolve.ts";
import type { SplitSource } from "../data/source.ts";
import { evenlySpaced, subsetSplit } from "../data/subset.ts";
import type { TrainConfig } from "./config.ts";

/** What {@linkcode loadRunData} returns. */
export interface RunData {
  /** The subsets trained and validated on. */
  train: ImageSplit;
  val: ImageSplit;
  /** The full splits they came from (sources and checksums for the run record). */
  trainFull: ImageSplit;
  valFull: ImageSplit;
  /** Class names in label order (the training split's). */
  classNames: string[];
}

/** Index both splits (no decoding) and refuse data that cannot give meaningful numbers. */
export async function checkRunData(
  config: TrainConfig,
  opts: { quiet?: boolean } = {},
): Promise<{ train: SplitSource; val: SplitSource }> {
  const train = await resolveSplit({
    data: config.data,
    split: config.trainSplit,
    labels: config.labels,
    ...opts,
  });
  const val = await resolveSplit({
    data: config.data,
    split: config.valSplit,
    labels: config.labels,
    classNames: train.classNames,
    ...opts,
  });
  for (const s of [train, val]) {
    if (s.labels.length === 0) throw new UserError(`${s.source}: the ${s.name} split has no rows`);
  }
  const counts = train.classNames.map((_, c) => train.labels.filter((l) => l === c).length);
  const empty = train.classNames.filter((_, c) => counts[c] === 0);
  if (empty.length) {
    throw new UserError(
      `${train.source}: no training images for class(es) ${empty.join(", ")} of [${
        train.classNames.join(", ")
      }]; every class needs training images`,
    );
  }
  return { train, val };
}

/** One split of the run's data at `preprocess` (the student's size, or a teacher's input). */
export function loadConfigSplit(
  config: TrainConfig,
  split: string,
  preprocess: Partial<PreprocessOptions>,
  opts: { classNames?: string[]; quiet?: boolean } = {},
): Promise<ImageSplit> {
  return loadSplit({
    data: config.data,
    split,
    labels: config.labels,
    classNames: opts.classNames,
    preprocess,
    skipBadImages: config.skipBadImages,
    quiet: opts.quiet,
  });
}

/** Load (decode or read from the cache) both splits and take the configured subsets. */
export async function loadRunData(
  config: TrainConfig,
  opts: { quiet?: boolean } = {},
): Promise<RunData> {
  const { train: trainIndex } = await checkRunData(config, opts);
  const load = (split: string, classNames?: string[]) =>
    loadConfigSplit(config, split, { size: config.imageSize }, { classNames, ...opts });
  const trainFull = await load(config.trainSplit);
  const valFull = await load(config.valSplit, trainIndex.classNames);
  // Labels given with --labels name the training split's order; validation follows by name.
  const train = subsetSplit(trainFull, evenlySpaced(trainFull.n, config.maxImages));
  const val = subsetSplit(valFull, evenlySpaced(valFull.n, config.maxImages));
  if (!opts.quiet && val.classNames.some((_, c) => !val.labels.includes(c))) {
    console.error(
      `warning: ${val.source}: validation has no images of some classes of [${
        val.classNames.join(", ")
      }]; per-class scores for them are undefined`,
    );
  }
  return { train, val, trainFull, valFull, classNames: train.classNames };
}
