/**
 * Where the tests find their data: the fixtures committed under `tests/fixtures/` (what a fresh
 * clone has), and the full beans splits where a machine has them (`KD_TEST_DATA`, else beans in
 * the Hugging Face cache). Nothing here points outside the repository by default.
 * @module
 */
import { ALL_GRANTED, setting, test } from "./permissions.ts";
import { findParquet } from "../lib/data/resolve.ts";
import { cachedCommit, snapshotPath } from "../lib/net/hf_cache.ts";
import { beansRef } from "../lib/net/beans.ts";

/** The committed fixtures folder, or `KD_FIXTURES` (a folder laid out like it). */
export const FIXTURES: string = (setting("KD_FIXTURES") ??
  new URL("./fixtures", import.meta.url).pathname).replace(/\/+$/, "");

/** A committed fixture file or folder (always the repository's copy, whatever `KD_FIXTURES` says). */
export function committedFixture(name: string): string {
  return new URL(`./fixtures/${name}`, import.meta.url).pathname;
}

/**
 * The small real beans subset committed with the tests (24 train + 12 validation JPEGs in the
 * HF parquet schema): what every test that trains, evaluates or decodes real images reads.
 */
export const BEANS_MINI: string = committedFixture("beans");

/** Rows of the committed subset per split (tests/fixtures/README.md). */
export const BEANS_MINI_ROWS = { train: 24, validation: 15 } as const;
/** Validation rows of the committed subset per class (angular_leaf_spot, bean_rust, healthy). */
export const BEANS_MINI_VALIDATION_PER_CLASS = [4, 5, 6];

function hasFullSplits(dir: string): boolean {
  try {
    return ["train", "validation"].every((s) => findParquet(dir, s).length > 0);
  } catch {
    return false;
  }
}

/** The full beans splits from the Hugging Face cache, if a download left them there. */
function cachedBeans(): string | undefined {
  try {
    const ref = beansRef();
    const commit = cachedCommit(ref);
    const dir = commit ? snapshotPath(ref, commit, "") : undefined;
    return dir && hasFullSplits(dir) ? dir : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A folder with the full beans train and validation splits (`KD_TEST_DATA`, else the Hugging
 * Face cache), or undefined: the tests of full-split facts (row and class counts, the
 * 133-image preprocessing check) are then ignored, saying so in their names.
 */
export const FULL_BEANS: string | undefined = ALL_GRANTED
  ? (setting("KD_TEST_DATA")?.replace(/\/+$/, "") ?? cachedBeans())
  : undefined;

/** The name suffix of a full-beans test that cannot run here. */
export const NEEDS_FULL_BEANS =
  "[ignored: needs the full beans splits: set KD_TEST_DATA=DIR or have beans in the HF cache]";

/**
 * `Deno.test` for a test of the full beans splits: ignored, with the reason in its name, where
 * neither `KD_TEST_DATA` nor the Hugging Face cache has them. `fn` gets the folder.
 */
export function fullBeansTest(name: string, fn: (dir: string) => void | Promise<void>): void {
  const dir = FULL_BEANS;
  if (!ALL_GRANTED) test(name, () => {});
  else if (dir) Deno.test(name, () => fn(dir));
  else Deno.test({ name: `${name} ${NEEDS_FULL_BEANS}`, ignore: true, fn() {} });
}
