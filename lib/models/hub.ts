/**
 * Hugging Face hub models: `hf:ORG/NAME[@REVISION]` is resolved through the shared Hugging Face
 * cache (see `lib/net/hub_files.ts`). Which weight files to fetch is discovered from the
 * repository's file list (safetensors, sharded safetensors, `pytorch_model.bin` or its shards);
 * `config.json` and, when the repository has one, `preprocessor_config.json` come along.
 * @module
 */
import { dirname, join } from "node:path";
import { type Hint, UserError } from "../core/errors.ts";
import { hubEndpoint, parseRepo, repoLabel } from "../net/hub.ts";
import { hubCacheDir } from "../net/hf_cache.ts";
import { hubFiles, hubRepoFiles } from "../net/hub_files.ts";
import { checkSnapshotDir } from "../net/cache_trust.ts";
import { pickWeightFile, readIndex, WEIGHT_FILES } from "./hf_checkpoint.ts";

/** What to tell a user whose model `target` is neither cached nor downloadable. */
export function modelHint(target: string): string {
  return `fetch it once with network access (deno task fetch hf:${target}, or Python's ` +
    `huggingface_hub) or point HF_HOME/HF_HUB_CACHE at a cache that has it`;
}

/**
 * A hub model in the local cache.
 *
 * @example Load a model from its snapshot folder once it is cached
 * ```ts
 * import { type HubModel } from "@kd/vision/hub";
 * import { createModel } from "@kd/vision/models";
 *
 * // What fetchHFModel returns; a fixture folder stands in for the cache's snapshot here.
 * const cached: HubModel = {
 *   dir: "tests/fixtures/vit_tiny",
 *   commit: "0".repeat(40),
 *   files: ["config.json", "model.safetensors"],
 * };
 * const model = await createModel(`hf-dir:${cached.dir}`, { numLabels: 3 });
 * console.log(cached.commit, model.config.kind);
 * model.dispose();
 * ```
 */
export interface HubModel {
  /** The snapshot folder holding its files. */
  dir: string;
  /** The commit (40 hex digits) of the repository the snapshot is at. */
  commit: string;
  /** The files fetched and verified, relative to `dir` (config, weights, shards). */
  files: string[];
}

const fetched = new Map<string, HubModel>();

/**
 * Make sure `ORG/NAME[@REV]`'s config, preprocessor config and weights are in the cache and
 * return their snapshot folder. `hint` is appended to "cannot get" errors.
 *
 * @example Offline, a model missing from the cache is one clear error
 * ```ts
 * import { fetchHFModel } from "@kd/vision/hub";
 * import { UserError } from "@kd/vision";
 * import { assertRejects } from "@std/assert";
 *
 * Deno.env.set("HF_HUB_OFFLINE", "1");
 * Deno.env.set("HF_HUB_CACHE", await Deno.makeTempDir());
 * await assertRejects(() => fetchHFModel("google/mobilenet_v2_1.0_224", { quiet: true }), UserError);
 * ```
 */
export async function fetchHFModel(
  target: string,
  opts: { quiet?: boolean; hint?: Hint } = {},
): Promise<HubModel> {
  const key = `${hubEndpoint()} ${hubCacheDir()} ${target}`;
  const known = fetched.get(key);
  if (known) return known;
  const ref = parseRepo(target, "model", `hf:${target}`);
  const hint = opts.hint ?? modelHint(target);
  const listing = await hubRepoFiles(ref, { quiet: opts.quiet, hint });
  const weights = pickWeightFile(listing.files);
  if (!listing.files.includes("config.json") || !weights) {
    throw new UserError(
      `hf:${target}: the repository has no ${
        !weights ? WEIGHT_FILES.join(" or ") : "config.json"
      }` +
        ` (files: ${listing.files.slice(0, 12).join(", ") || "none"})`,
    );
  }
  const want = ["config.json", weights];
  if (listing.files.includes("preprocessor_config.json")) want.push("preprocessor_config.json");
  if (!opts.quiet && !listing.fromCache) {
    console.error(
      `hf:${target}: ${repoLabel(ref)} at commit ${listing.commit.slice(0, 12)} (${weights})`,
    );
  }
  const files = await hubFiles(ref, listing.commit, want, { quiet: opts.quiet, hint });
  if (weights.endsWith(".index.json")) {
    const { shards } = await readIndex(files[1].path);
    const missing = shards.filter((s) => !listing.files.includes(s));
    if (missing.length) {
      throw new UserError(
        `hf:${target}: ${weights} names shards the repository lacks: ${missing.join(", ")}`,
      );
    }
    await hubFiles(ref, listing.commit, shards, { quiet: opts.quiet, hint });
    want.push(...shards);
  }
  const dir = dirname(join(files[0].path));
  // Loaders read the folder by name (e.g. the preferred weight file that exists): an entry
  // planted beside the fetched ones must not lead them outside the cache either.
  await checkSnapshotDir(ref, dir);
  const model = { dir, commit: listing.commit, files: want };
  fetched.set(key, model);
  return model;
}
