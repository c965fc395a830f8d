/**
 * The beans dataset on the Hugging Face hub (`AI-Lab-Makerere/beans`), read through the shared
 * Hugging Face cache (`datasets--AI-Lab-Makerere--beans`), so a copy Python's `datasets` or
 * `huggingface_hub` downloaded is used as is. Pin a revision with env `KD_BEANS_REVISION`.
 * @module
 */
import { type FlagHint, hintedError } from "../core/errors.ts";
import { checkSplitName } from "../core/paths.ts";
import { hubFiles, type HubOptions, hubRepoFiles } from "./hub_files.ts";
import { parseRepo, repoLabel, type RepoRef } from "./hub.ts";

/** Hub dataset id. */
export const BEANS_REPO = "AI-Lab-Makerere/beans";
/** Splits the hub has for beans. */
export const BEANS_SPLITS = ["train", "validation", "test"] as const;

const LOCAL_DATA =
  "naming a folder with train.parquet and validation.parquet (see README: Offline)";

/** What to do instead of the hub, for error messages (`--data` only where the command has it). */
export const DATA_HINT: FlagHint = {
  flag: "data",
  text: `pass --data DIR (or set KD_DATA) ${LOCAL_DATA}`,
  otherwise: `set KD_DATA ${LOCAL_DATA}`,
};

/** The beans repository at the revision in effect (env `KD_BEANS_REVISION`, else main). */
export function beansRef(): RepoRef {
  const rev = Deno.env.get("KD_BEANS_REVISION");
  return parseRepo(rev ? `${BEANS_REPO}@${rev}` : BEANS_REPO, "dataset", "KD_BEANS_REVISION");
}

/** Whether a repository path is a Parquet shard of `split` (`[data/]split-NNNNN-of-NNNNN.parquet`). */
export function isSplitShard(path: string, split: string): boolean {
  const name = split.replace(/[^\w]/g, "\\$&");
  return new RegExp(`^(?:data/)?${name}-\\d{5}-of-\\d{5}\\.parquet$`).test(path);
}

const announced = new Set<string>();

/**
 * Local paths of the Parquet shards of beans `split`, from the cache or downloaded into it.
 * A split the repository does not have is a UserError naming the ones it has.
 */
export async function beansSplitFiles(split: string, opts: HubOptions = {}): Promise<string[]> {
  checkSplitName(split);
  const ref = beansRef();
  const hint = opts.hint ?? DATA_HINT;
  const listing = await hubRepoFiles(ref, { ...opts, hint });
  const shards = listing.files.filter((f) => isSplitShard(f, split));
  if (!shards.length) {
    const have = BEANS_SPLITS.filter((s) => listing.files.some((f) => isSplitShard(f, s)));
    const where = listing.fromCache ? "the cached copy of " : "";
    throw hintedError(
      `${where}${repoLabel(ref)} has no "${split}" split` +
        (have.length ? ` (it has: ${have.join(", ")})` : ""),
      hint,
    );
  }
  if (!opts.quiet && !listing.fromCache && !announced.has(listing.commit)) {
    announced.add(listing.commit);
    console.error(`beans: ${repoLabel(ref)} at commit ${listing.commit.slice(0, 12)}`);
  }
  const files = await hubFiles(ref, listing.commit, shards, { ...opts, hint });
  return files.map((f) => f.path);
}
