/** Splitting a safetensors checkpoint into two shards with an index, as `save_pretrained` does. */
import { encodeSafetensors, getRaw, readSafetensors } from "../../lib/models/safetensors.ts";

/** `model-0000{1,2}-of-00002.safetensors` + `model.safetensors.index.json` from one file. */
export async function shardSafetensors(path: string): Promise<Record<string, Uint8Array>> {
  const file = await readSafetensors(path);
  const names = [...file.tensors.keys()].sort();
  const half = Math.ceil(names.length / 2);
  const out: Record<string, Uint8Array> = {};
  const weightMap: Record<string, string> = {};
  for (const [i, part] of [names.slice(0, half), names.slice(half)].entries()) {
    const shard = `model-0000${i + 1}-of-00002.safetensors`;
    const tensors = Object.fromEntries(part.map((n) => {
      const raw = getRaw(file, n);
      weightMap[n] = shard;
      return [n, { shape: raw.shape, data: raw.data as Float32Array }];
    }));
    out[shard] = encodeSafetensors(tensors, { format: "pt" });
  }
  out["model.safetensors.index.json"] = new TextEncoder().encode(
    JSON.stringify({ metadata: {}, weight_map: weightMap }),
  );
  return out;
}
