/**
 * Named tensors from a checkpoint, whatever its file format: one safetensors file, a PyTorch
 * `pytorch_model.bin`, or several shards behind a `*.index.json`. Loaders read through this.
 * @module
 */
import { UserError } from "../core/errors.ts";
import { getRaw, type RawTensor, type SafetensorsFile } from "./safetensors.ts";

/** Tensors by name; `get` checks the shape when one is given (the error names both). */
export interface TensorStore {
  /** Where the tensors come from, for messages. */
  path: string;
  names(): string[];
  has(name: string): boolean;
  get(name: string, shape?: number[]): RawTensor;
}

/** A parsed safetensors file as a store. */
export function safetensorsStore(file: SafetensorsFile): TensorStore {
  return {
    path: file.path,
    names: () => [...file.tensors.keys()],
    has: (name) => file.tensors.has(name),
    get: (name, shape) => getRaw(file, name, shape),
  };
}

/** One store over shards (`owner` maps each tensor to its shard, as a `weight_map` does). */
export function shardedStore(
  path: string,
  shards: Map<string, TensorStore>,
  owner: Map<string, string>,
): TensorStore {
  const shardOf = (name: string) => {
    const s = shards.get(owner.get(name) ?? "");
    if (!s) throw new UserError(`${path}: missing tensor "${name}"`);
    return s;
  };
  return {
    path,
    names: () => [...owner.keys()],
    has: (name) => owner.has(name) && shards.get(owner.get(name)!)!.has(name),
    get: (name, shape) => shardOf(name).get(name, shape),
  };
}
