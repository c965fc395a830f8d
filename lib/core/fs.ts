/**
 * Crash-safe file writes: write beside the target, then rename, so readers never see a
 * half-written checkpoint, cache or results file.
 * @module
 */
import { dirname } from "node:path";

/** Write `data` to `path` atomically (temp file in the same folder + rename). */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  await Deno.mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  try {
    if (typeof data === "string") await Deno.writeTextFile(tmp, data);
    else await Deno.writeFile(tmp, data);
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
}

/** Write `value` as pretty JSON to `path` atomically. */
export function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  return writeFileAtomic(path, JSON.stringify(value, null, 2) + "\n");
}

/** Replace directory `dest` by `src` (built elsewhere in the same folder) with at most a brief window. */
export async function replaceDir(src: string, dest: string): Promise<void> {
  const old = `${dest}.old`;
  await Deno.remove(old, { recursive: true }).catch(() => {});
  const hadDest = await exists(dest);
  if (hadDest) await Deno.rename(dest, old);
  await Deno.rename(src, dest);
  if (hadDest) await Deno.remove(old, { recursive: true });
}

/** Whether `path` exists. */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** Read and parse a JSON file; errors name the file. */
export async function readJson<T>(path: string): Promise<T> {
  const text = await Deno.readTextFile(path);
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new Error(`${path}: not valid JSON (${(e as Error).message})`);
  }
}
