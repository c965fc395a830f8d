/**
 * Where a split's data lives: `--data DIR` (or env `KD_DATA`) holding `<split>.parquet`,
 * Hugging Face shards `data/<split>-NNNNN-of-NNNNN.parquet`, or an image folder
 * `<split>/<class>/*.jpg`. Without either, beans from the Hugging Face cache (downloaded into it
 * on first use; see `lib/net/beans.ts`).
 * @module
 */
import { UserError } from "../core/errors.ts";
import { checkSplitName } from "../core/paths.ts";
import { BEANS_REPO, BEANS_SPLITS, beansSplitFiles } from "../net/beans.ts";
import { hasFolderSplit, openFolderSplit } from "./folder.ts";
import { openParquetSplit } from "./parquet.ts";
import { alignClasses, type SplitSource } from "./source.ts";

/** How the default dataset is named where a folder would be: beans on the hub, via the HF cache. */
export const DEFAULT_DATA = `hf://datasets/${BEANS_REPO}`;

/**
 * The data folder in effect: the option, else env `KD_DATA`, else the default
 * ({@linkcode DEFAULT_DATA}, which is no folder: its splits come from the Hugging Face cache).
 */
export function dataDir(data?: string): { dir: string; isDefault: boolean } {
  const dir = data ?? Deno.env.get("KD_DATA");
  return dir ? { dir: dir.replace(/\/+$/, "") || "/", isDefault: false } : {
    dir: DEFAULT_DATA,
    isDefault: true,
  };
}

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

function isDir(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

/** Parquet shards for `split` in `dir` (plain name first, then HF `<split>-NNNNN-of-NNNNN`). */
export function findParquet(dir: string, split: string): string[] {
  const plain = `${dir}/${split}.parquet`;
  if (isFile(plain)) return [plain];
  const shard = new RegExp(`^${split.replace(/[^\w]/g, "\\$&")}-\\d{5}-of-\\d{5}\\.parquet$`);
  for (const sub of [`${dir}/data`, dir]) {
    if (!isDir(sub)) continue;
    // stat, not the dir entry type, so symlinked files count.
    const found = [...Deno.readDirSync(sub)].filter((e) => shard.test(e.name))
      .map((e) => `${sub}/${e.name}`).filter(isFile).sort();
    if (found.length) return found;
  }
  return [];
}

/** Split names present in `dir` among `candidates`, without reading any data. */
export function availableSplits(
  dir: string,
  candidates = ["train", "validation", "test"],
): string[] {
  return candidates.filter((s) => findParquet(dir, s).length > 0 || hasFolderSplit(dir, s));
}

/** Whether the data has `split` (the default, beans on the hub, has train, validation and test). */
export function hasSplit(data: string | undefined, split: string): boolean {
  checkSplitName(split);
  const { dir, isDefault } = dataDir(data);
  if (isDefault) return (BEANS_SPLITS as readonly string[]).includes(split);
  return isDir(dir) && availableSplits(dir, [split]).length > 0;
}

/**
 * The files that define `split`, found without reading them (so a split can be fingerprinted
 * long before anything may look at its contents): Parquet shards, else null (an image folder,
 * which is indexed instead).
 */
export async function splitFiles(
  data: string | undefined,
  split: string,
  opts: { quiet?: boolean } = {},
): Promise<string[] | null> {
  checkSplitName(split);
  const { dir, isDefault } = dataDir(data);
  if (isDefault) return await beansSplitFiles(split, opts);
  const parquet = isDir(dir) ? findParquet(dir, split) : [];
  return parquet.length ? parquet : null;
}

/**
 * Locate and index `split` (no image decoding); the default is beans from the Hugging Face cache.
 * With `classNames`, labels are renumbered to that list by name (e.g. validation aligned to the
 * training split's classes); a class missing from it is an error naming both lists.
 *
 * @example Labels and class names without decoding any image
 * ```ts
 * import { resolveSplit } from "@kd/vision/data";
 * import { assertEquals } from "@std/assert";
 *
 * const src = await resolveSplit({ data: "tests/fixtures/beans", split: "train", quiet: true });
 * assertEquals(src.classNames, ["angular_leaf_spot", "bean_rust", "healthy"]);
 * assertEquals(src.labels.length, 24);
 * const bytes = await src.images(); // the encoded JPEGs, in row order
 * assertEquals(bytes.length, 24);
 * ```
 */
export async function resolveSplit(
  opts: { data?: string; split: string; labels?: string[]; classNames?: string[]; quiet?: boolean },
): Promise<SplitSource> {
  const src = await openSplit(opts);
  return opts.classNames ? alignClasses(src, opts.classNames) : src;
}

async function openSplit(
  opts: { data?: string; split: string; labels?: string[]; quiet?: boolean },
): Promise<SplitSource> {
  const { dir, isDefault } = dataDir(opts.data);
  const split = checkSplitName(opts.split);
  if (isDefault) {
    const files = await beansSplitFiles(split, { quiet: opts.quiet });
    return await openParquetSplit(split, files, { labels: opts.labels });
  }
  if (!isDir(dir)) {
    if (isFile(dir)) {
      // One file cannot tell its split: serving it as train, validation and test alike would
      // evaluate on training rows.
      throw new UserError(
        `--data ${dir}: a file, not a folder; put it in a folder as ${split}.parquet ` +
          `(one file per split: train.parquet, validation.parquet, test.parquet)`,
      );
    }
    throw new UserError(
      `--data ${dir}: no such folder (expected a folder with ${split}.parquet, ` +
        `data/${split}-00000-of-00001.parquet or ${split}/<class>/*.jpg)`,
    );
  }
  const parquet = findParquet(dir, split);
  if (parquet.length) return await openParquetSplit(split, parquet, { labels: opts.labels });
  if (hasFolderSplit(dir, split)) return openFolderSplit(dir, split, { labels: opts.labels });
  const present = availableSplits(dir);
  throw new UserError(
    `no "${split}" split in ${dir}: looked for ${split}.parquet, ` +
      `data/${split}-NNNNN-of-NNNNN.parquet and ${split}/<class>/*.{jpg,jpeg,png}` +
      (present.length ? ` (found splits: ${present.join(", ")})` : ""),
  );
}
