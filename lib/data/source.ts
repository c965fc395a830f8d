/**
 * A split's rows before decoding: where they come from, their ids and labels, and a way to read
 * the encoded image bytes. Parquet files and image folders both produce this.
 * @module
 */
import { createHash } from "node:crypto";
import { sha256File } from "../core/hash.ts";
import { UserError } from "../core/errors.ts";

/**
 * One split of a dataset, indexed but not decoded.
 *
 * @example Labels and encoded bytes of a split, without decoding anything
 * ```ts
 * import { resolveSplit, type SplitSource } from "@kd/vision/data";
 *
 * const src: SplitSource = await resolveSplit({
 *   data: "tests/fixtures/beans",
 *   split: "train",
 *   quiet: true,
 * });
 * const bytes = await src.images();
 * console.log(src.classNames, src.labels.length, src.files, bytes[0]?.length);
 * ```
 */
export interface SplitSource {
  /** Split name, e.g. "train". */
  name: string;
  /** The Parquet file(s) or folder the rows come from, for messages. */
  source: string;
  /** Files whose bytes define the split (checksummed for the cache key). */
  files: string[];
  /** Class names in label order: label `i` is `classNames[i]`. */
  classNames: string[];
  /** Stable sample ids: `image_file_path`, the file's relative path, or `row:<i>`. */
  ids: string[];
  /** Label (class index) of each row, in row order. */
  labels: Int32Array;
  /** Encoded image bytes of every row, in row order; `undefined` where a row has none. */
  images(): Promise<(Uint8Array | undefined)[]>;
}

/** One sha256 for a list of files: of the single file, or over (name, sha256) pairs for many. */
export async function checksumFiles(files: string[]): Promise<string> {
  if (files.length === 1) return await sha256File(files[0]);
  const hash = createHash("sha256");
  for (const f of files) {
    hash.update(`${f.split("/").slice(-3).join("/")}\0${await sha256File(f)}\n`);
  }
  return hash.digest("hex");
}

/** Class names from a `--labels a,b,c` style value, or undefined when empty. */
export function parseLabelList(value: string | undefined): string[] | undefined {
  if (!value) return undefined;
  const names = value.split(",").map((s) => s.trim());
  // "," or "a,,b" is a typo (or an unset shell variable), not "no list given".
  if (names.some((s) => !s)) throw new UserError(`--labels: an empty class name in "${value}"`);
  if (new Set(names).size !== names.length) {
    throw new UserError(`--labels: duplicate class names in "${value}"`);
  }
  return names;
}

/** Throw a UserError unless every label indexes `classNames`; names the row and sample id. */
export function checkLabels(
  source: string,
  ids: string[],
  labels: Int32Array,
  classNames: string[],
) {
  for (let i = 0; i < labels.length; i++) {
    if (!(labels[i] >= 0 && labels[i] < classNames.length)) {
      throw new UserError(
        `${source}: row ${i} (${ids[i]}) has label ${
          labels[i]
        }, outside the ${classNames.length} ` +
          `classes [${classNames.join(", ")}]; expected 0..${classNames.length - 1}`,
      );
    }
  }
}

/**
 * `src` with its labels renumbered to `classNames` by name (same rows, ids and images). A class of
 * `src` missing from `classNames` is an error naming both lists: labels are never matched by
 * position alone.
 */
export function alignClasses(src: SplitSource, classNames: string[]): SplitSource {
  const same = src.classNames.length === classNames.length &&
    src.classNames.every((c, i) => c === classNames[i]);
  if (same) return src;
  const map = src.classNames.map((c) => classNames.indexOf(c));
  const used = new Set(src.labels);
  const unknown = src.classNames.filter((_, i) => map[i] < 0 && used.has(i));
  if (unknown.length) {
    throw new UserError(
      `${src.source}: classes [${src.classNames.join(", ")}] do not match [${
        classNames.join(", ")
      }] (${unknown.join(", ")} missing there); class lists must match by name`,
    );
  }
  return { ...src, classNames: [...classNames], labels: src.labels.map((l) => map[l]) };
}
