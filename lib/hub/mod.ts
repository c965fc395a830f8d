/**
 * The Hugging Face hub: the cache shared with Python's `huggingface_hub` (`HF_HUB_CACHE`,
 * `HF_HOME`), offline mode (`HF_HUB_OFFLINE=1`), and fetching a model into it (`deno task fetch beans` fetches
 * the dataset; `loadSplit` without `data` does so on first use).
 *
 * @example Where models and datasets are cached
 * ```ts
 * import { hubCacheDir, hubOffline } from "@kd/vision/hub";
 *
 * console.log(hubCacheDir(), hubOffline());
 * ```
 * @module
 */
export { hubCacheDir } from "../net/hf_cache.ts";
export { hubOffline } from "../net/hub.ts";
export { fetchHFModel, type HubModel } from "../models/hub.ts";
