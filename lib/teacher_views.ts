/**
 * Cached views (`--teacher-views K`): the teacher's logits on K seeded augmented views of every
 * training image, computed once and stored with the views themselves (crop box as fractions of
 * the side, flip), so a run draws one of an image's K views each epoch and never needs the
 * teacher while it trains. Entries are keyed like `teacher_cache.ts` (teacher identity and
 * weights, data checksum, split, teacher input) plus the view recipe (augmentation, K, the
 * student's grid) and the seed, and hold rows by sample id: `[id × view]`.
 *
 * Mixup has no cached form: a mixed image depends on its batch partner, so it needs the online
 * teacher.
 * @module
 */
import { join } from "node:path";
import * as tf from "./tf.ts";
import { sha256Hex } from "./core/hash.ts";
import { writeFileAtomic } from "./core/fs.ts";
import type { Classifier } from "./models/model.ts";
import { weightsChecksum } from "./models/checkpoint.ts";
import type { ImageSplit } from "./data/dataset.ts";
import type { View } from "./data/augment.ts";
import { encodeSafetensors, getRaw, parseSafetensors } from "./models/safetensors.ts";
import { cacheDir } from "./teacher_cache.ts";
import { rowsOfIds } from "./data/subset.ts";
import { viewInput } from "./train/views.ts";
import { Progress } from "./progress.ts";

/** How the K views of each image are made (part of the cache key). */
export interface ViewRecipe {
  /** The `--augment` spec the views are sampled from (crop and flip). */
  augment: string;
  /** Views per image. */
  k: number;
  /** Side of the grid the boxes are sampled on (the student's image size). */
  size: number;
  seed: number;
}

async function readEntry(path: string): Promise<Map<string, Float32Array> | null> {
  try {
    const file = parseSafetensors(await Deno.readFile(path), path);
    const ids = JSON.parse(file.metadata.ids) as string[];
    const raw = getRaw(file, "logits");
    const per = raw.data.length / ids.length;
    const data = raw.data as Float32Array;
    return new Map(ids.map((id, i) => [id, data.subarray(i * per, (i + 1) * per)]));
  } catch {
    return null;
  }
}

/**
 * The teacher's logits `[ids.length × K × numLabels]` (image-major) on `views(id)` of each image
 * of `split` (at the teacher's input size), from the cache where present.
 */
export async function teacherViewLogits(
  teacher: Classifier,
  teacherSpec: string,
  split: ImageSplit,
  ids: string[],
  recipe: ViewRecipe,
  views: (id: string) => View[],
  opts: { quiet?: boolean; dir?: string } = {},
): Promise<Float32Array> {
  const nl = teacher.config.numLabels, per = recipe.k * nl;
  const key = sha256Hex(JSON.stringify({
    teacher: teacherSpec,
    weights: await weightsChecksum(teacher),
    data: split.checksum,
    split: split.name,
    input: teacher.input,
    numLabels: nl,
    views: recipe,
  }));
  const path = join(opts.dir ?? cacheDir(), "teacher-views", `${key}.safetensors`);
  const table = (await readEntry(path)) ?? new Map<string, Float32Array>();
  const missing = [...new Set(ids.filter((id) => table.get(id)?.length !== per))];
  if (missing.length) {
    const rows = rowsOfIds(split, missing);
    const progress = new Progress(
      `teacher logits on ${recipe.k} views (${split.name})`,
      missing.length,
      {
        quiet: opts.quiet,
      },
    );
    for (let i = 0; i < missing.length; i++) {
      const vs = views(missing[i]);
      const idx = new Int32Array(recipe.k).fill(rows[i]);
      const x = viewInput(split, idx, teacher.input, { views: vs, mix: null, picks: null });
      const logits = tf.tidy(() => teacher.apply(x, { training: false }));
      table.set(missing[i], Float32Array.from(await logits.data()));
      tf.dispose([x, logits]);
      progress.tick();
    }
    progress.finish();
    const allIds = [...table.keys()];
    const all = new Float32Array(allIds.length * per);
    allIds.forEach((id, i) => all.set(table.get(id)!, i * per));
    await writeFileAtomic(
      path,
      encodeSafetensors({ logits: { shape: [allIds.length * recipe.k, nl], data: all } }, {
        ids: JSON.stringify(allIds),
        views: JSON.stringify(Object.fromEntries(allIds.map((id) => [id, views(id)]))),
        teacher: teacherSpec,
        split: split.name,
      }),
    );
  }
  const out = new Float32Array(ids.length * per);
  ids.forEach((id, i) => out.set(table.get(id)!, i * per));
  return out;
}
