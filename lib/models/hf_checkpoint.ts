/**
 * Which weight files a Hugging Face checkpoint has, and one {@linkcode TensorStore} over them:
 * `model.safetensors` (preferred), sharded safetensors behind `model.safetensors.index.json`,
 * PyTorch's `pytorch_model.bin` (older Trainer uploads), or its shards behind
 * `pytorch_model.bin.index.json`, in that order, as transformers prefers them.
 * @module
 */
import { join } from "node:path";
import { UserError } from "../core/errors.ts";
import { readSafetensors } from "./safetensors.ts";
import { readTorchCheckpoint } from "./torch_pickle.ts";
import { safetensorsStore, shardedStore, type TensorStore } from "./tensor_store.ts";

/** Weight files in order of preference. */
export const WEIGHT_FILES = [
  "model.safetensors",
  "model.safetensors.index.json",
  "pytorch_model.bin",
  "pytorch_model.bin.index.json",
] as const;

/** The preferred weight file among `files` (names relative to the checkpoint), or undefined. */
export function pickWeightFile(files: readonly string[]): string | undefined {
  return WEIGHT_FILES.find((w) => files.includes(w));
}

/** Shard file names an index lists (its `weight_map` values), in first-use order. */
export function indexShards(
  index: unknown,
  path: string,
): { owner: Map<string, string>; shards: string[] } {
  const map = (index as { weight_map?: unknown })?.weight_map;
  if (!map || typeof map !== "object" || Array.isArray(map)) {
    throw new UserError(`${path}: no "weight_map" object (not a checkpoint index)`);
  }
  const owner = new Map<string, string>();
  for (const [name, file] of Object.entries(map as Record<string, unknown>)) {
    if (typeof file !== "string" || file.includes("..") || file.startsWith("/")) {
      throw new UserError(`${path}: bad shard name for "${name}": ${JSON.stringify(file)}`);
    }
    owner.set(name, file);
  }
  return { owner, shards: [...new Set(owner.values())] };
}

/** Read and validate an index file. */
export async function readIndex(path: string): Promise<ReturnType<typeof indexShards>> {
  let json: unknown;
  try {
    json = JSON.parse(await Deno.readTextFile(path));
  } catch (e) {
    throw new UserError(`${path}: cannot read checkpoint index (${(e as Error).message})`);
  }
  return indexShards(json, path);
}

function existing(dir: string): string[] {
  return WEIGHT_FILES.filter((w) => {
    try {
      return Deno.statSync(join(dir, w)).isFile;
    } catch {
      return false;
    }
  });
}

async function openFile(path: string): Promise<TensorStore> {
  return path.endsWith(".safetensors")
    ? safetensorsStore(await readSafetensors(path))
    : await readTorchCheckpoint(path);
}

/** The weights of the HF checkpoint folder `dir`, whichever supported form it holds. */
export async function openHFWeights(dir: string): Promise<TensorStore> {
  const file = pickWeightFile(existing(dir));
  if (!file) {
    throw new UserError(`${dir}: no weights found (looked for ${WEIGHT_FILES.join(", ")})`);
  }
  const path = join(dir, file);
  if (!file.endsWith(".index.json")) return await openFile(path);
  const { owner, shards } = await readIndex(path);
  const stores = new Map<string, TensorStore>();
  for (const s of shards) stores.set(s, await openFile(join(dir, s)));
  return shardedStore(path, stores, owner);
}
