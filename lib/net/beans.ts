/**
 * The beans dataset on the Hugging Face hub (`AI-Lab-Makerere/beans`), fetched into
 * `data/beans/` as `<split>.parquet`.
 * @module
 */
import { UserError } from "../core/errors.ts";
import { DownloadError, downloadFile, errorText, probe } from "./download.ts";
import { hubEndpoint, hubFileUrl } from "./hub.ts";

/** Hub dataset id. */
export const BEANS_REPO = "AI-Lab-Makerere/beans";
/** Splits the hub has for beans. */
export const BEANS_SPLITS = ["train", "validation", "test"] as const;

/** URL of one beans split's Parquet file on the hub. */
export function beansUrl(split: string): string {
  return hubFileUrl(BEANS_REPO, `data/${split}-00000-of-00001.parquet`, { type: "dataset" });
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Make sure `dir/<split>.parquet` exists for each beans split in `splits` (default all three),
 * downloading what is missing. Unknown split names are left for the caller to report.
 */
export async function ensureBeans(
  dir: string,
  splits: readonly string[] = BEANS_SPLITS,
  opts: { quiet?: boolean; retries?: number; force?: boolean } = {},
): Promise<string[]> {
  const wanted = splits.filter((s) => (BEANS_SPLITS as readonly string[]).includes(s));
  const todo = wanted.filter((s) => opts.force || !exists(`${dir}/${s}.parquet`));
  if (todo.length === 0) return wanted.map((s) => `${dir}/${s}.parquet`);
  const hint = `pass --data DIR (or set KD_DATA) pointing at a folder with train.parquet and ` +
    `validation.parquet, e.g. --data ../shared/datasets/beans`;
  try {
    // Fail fast when offline instead of waiting through the download retries.
    await probe(beansUrl(todo[0]));
  } catch (e) {
    throw new UserError(
      `cannot reach the Hugging Face hub at ${hubEndpoint()} to download beans ` +
        `(${errorText(e)}); ${hint}`,
    );
  }
  if (!opts.quiet) {
    console.error(`downloading beans (${todo.join(", ")}) from ${hubEndpoint()} into ${dir}/`);
  }
  const out: string[] = [];
  for (const split of wanted) {
    const dest = `${dir}/${split}.parquet`;
    if (todo.includes(split)) {
      if (opts.force) await Deno.remove(dest).catch(() => {});
      try {
        await downloadFile(beansUrl(split), dest, {
          label: `beans ${split}`,
          quiet: opts.quiet,
          retries: opts.retries,
        });
      } catch (e) {
        if (e instanceof DownloadError && e.kind !== "checksum") {
          throw new UserError(`${e.message}; ${hint}`);
        }
        throw e;
      }
    }
    out.push(dest);
  }
  return out;
}
