/**
 * Teacher logits, computed once and reused by every run and every epoch. Entries are keyed by
 * (teacher identity + weights checksum, dataset file checksum, split, preprocessing) and store
 * logits by **sample id** (`image_file_path` or row index), never by batch position, so any
 * shuffling, subsetting or reordering of the split reads the right rows.
 *
 * Augmentation and the cache: this cache holds logits of un-augmented images only. With
 * `--augment`, the trainer would need the teacher's view of each random crop; we chose
 * consistent teaching (teacher and student see the same augmented batch), which cannot be
 * cached, so augmented distillation runs the teacher online (`train/targets.ts`), unless the
 * views are fixed in advance: `teacher_views.ts` caches the teacher's logits on K views per image.
 * @module
 */
import { sha256Hex } from "./core/hash.ts";
import { join } from "node:path";
import type { Classifier } from "./models/model.ts";
import { weightsChecksum } from "./models/checkpoint.ts";
import type { ImageSplit } from "./data/dataset.ts";
import { encodeSafetensors, getRaw, parseSafetensors } from "./models/safetensors.ts";
import { predictLogits } from "./predict.ts";
import { writeFileAtomic } from "./core/fs.ts";
import { defaultCacheDir } from "./core/project.ts";
import { rowsOfIds, subsetSplit } from "./data/subset.ts";

/** Default cache folder (`KD_CACHE_DIR` overrides). */
export function cacheDir(): string {
  return defaultCacheDir();
}

/** The cache key of a teacher's logits on a split: a sha256 over everything that changes them. */
export async function teacherCacheKey(
  teacher: Classifier,
  teacherSpec: string,
  split: ImageSplit,
): Promise<string> {
  const key = JSON.stringify({
    teacher: teacherSpec,
    weights: await weightsChecksum(teacher),
    data: split.checksum,
    split: split.name,
    input: teacher.input,
    numLabels: teacher.config.numLabels,
  });
  return sha256Hex(key);
}

/** Read a cached logit table as id → row; null when absent or unreadable (then recomputed). */
async function readCache(path: string): Promise<Map<string, Float32Array> | null> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch {
    return null;
  }
  try {
    const file = parseSafetensors(bytes, path);
    const ids = JSON.parse(file.metadata.ids) as string[];
    const raw = getRaw(file, "logits");
    const k = raw.shape[1];
    const data = raw.data as Float32Array;
    if (raw.shape[0] !== ids.length || raw.shape.length !== 2) return null;
    return new Map(ids.map((id, i) => [id, data.subarray(i * k, (i + 1) * k)]));
  } catch {
    return null;
  }
}

/**
 * Logits of `teacher` for the samples `ids` (default: all of `split`, in split order), as a
 * flat `[ids.length × numLabels]` array. Only samples missing from the on-disk cache are run
 * through the teacher; they are then merged into the cache entry.
 */
export async function teacherLogits(
  teacher: Classifier,
  teacherSpec: string,
  split: ImageSplit,
  opts: { ids?: string[]; quiet?: boolean; dir?: string } = {},
): Promise<Float32Array> {
  const ids = opts.ids ?? split.ids;
  const k = teacher.config.numLabels;
  const key = await teacherCacheKey(teacher, teacherSpec, split);
  const path = join(opts.dir ?? cacheDir(), "teacher-logits", `${key}.safetensors`);
  const table = (await readCache(path)) ?? new Map<string, Float32Array>();
  const missing = [...new Set(ids.filter((id) => !table.has(id)))];
  if (missing.length) {
    const part = subsetSplit(split, rowsOfIds(split, missing));
    const logits = await predictLogits(teacher, part, {
      label: `teacher logits (${split.name})`,
      quiet: opts.quiet,
    });
    missing.forEach((id, i) => table.set(id, logits.slice(i * k, (i + 1) * k)));
    const allIds = [...table.keys()];
    const all = new Float32Array(allIds.length * k);
    allIds.forEach((id, i) => all.set(table.get(id)!, i * k));
    await writeFileAtomic(
      path,
      encodeSafetensors(
        { logits: { shape: [allIds.length, k], data: all } },
        { ids: JSON.stringify(allIds), teacher: teacherSpec, split: split.name },
      ),
    );
  }
  const out = new Float32Array(ids.length * k);
  ids.forEach((id, i) => out.set(table.get(id)!, i * k));
  return out;
}
