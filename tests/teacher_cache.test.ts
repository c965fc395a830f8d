import { test } from "./permissions.ts";
import * as tf from "../lib/tf.ts";
import { assert, assertEquals } from "@std/assert";
import { teacherLogits } from "../lib/teacher_cache.ts";
import type { Classifier } from "../lib/models/model.ts";
import type { ImageSplit } from "../lib/data/dataset.ts";
import { subsetSplit } from "../lib/data/subset.ts";
import { mulberry32, shuffleInPlace } from "../lib/core/rng.ts";
import { initBackend } from "../lib/backend.ts";

await initBackend("cpu", { quiet: true });

/** A teacher whose logits are the per-channel mean pixel times `scale`: checkable by hand. */
function meanTeacher(scale: number): Classifier & { calls: number } {
  const w = tf.variable(tf.scalar(scale));
  const t = {
    calls: 0,
    config: { kind: "test-mean", numLabels: 3 },
    input: {
      size: 4,
      mean: [0, 0, 0] as [number, number, number],
      std: [1, 1, 1] as [number, number, number],
    },
    trainableVariables: () => new Map([["w", w]]),
    stateVariables: () => new Map([["w", w]]),
    apply(x: tf.Tensor4D) {
      t.calls += x.shape[0];
      return tf.mul(tf.mean(x, [1, 2]), w) as tf.Tensor2D;
    },
    dispose: () => w.dispose(),
  };
  return t;
}

function syntheticSplit(n: number): ImageSplit {
  const rng = mulberry32(42);
  const pixels = Uint8Array.from({ length: n * 4 * 4 * 3 }, () => Math.floor(rng() * 256));
  return {
    name: "train",
    source: "synthetic",
    checksum: `synthetic-${n}`,
    classNames: ["a", "b", "c"],
    size: 4,
    n,
    ids: Array.from({ length: n }, (_, i) => `img-${i}.jpg`),
    labels: Int32Array.from({ length: n }, (_, i) => i % 3),
    pixels,
    fromCache: false,
    skipped: 0,
  };
}

function expectedRow(split: ImageSplit, row: number, scale: number): number[] {
  const per = 4 * 4 * 3;
  const sums = [0, 0, 0];
  for (let p = 0; p < 16; p++) {
    for (let c = 0; c < 3; c++) sums[c] += split.pixels[row * per + p * 3 + c];
  }
  return sums.map((s) => (s / 16 / 255) * scale);
}

test("teacher logits stay aligned with sample ids under shuffling, subsetting and reordering", async () => {
  const dir = await Deno.makeTempDir();
  const split = syntheticSplit(20);
  const teacher = meanTeacher(2);
  const all = await teacherLogits(teacher, "mean", split, { dir, quiet: true });
  assertEquals(teacher.calls, 20);

  // Shuffled id order: every row must still be the logits of that id's image.
  const order = shuffleInPlace(Array.from({ length: 20 }, (_, i) => i), mulberry32(7));
  const ids = order.map((i) => split.ids[i]);
  const shuffled = await teacherLogits(teacher, "mean", split, { ids, dir, quiet: true });
  assertEquals(teacher.calls, 20, "served from the cache, no new teacher calls");
  order.forEach((row, i) => {
    const exp = expectedRow(split, row, 2);
    for (let c = 0; c < 3; c++) {
      assert(Math.abs(shuffled[i * 3 + c] - exp[c]) < 1e-5, `id ${ids[i]}`);
    }
    for (let c = 0; c < 3; c++) assertEquals(shuffled[i * 3 + c], all[row * 3 + c]);
  });

  // The same data in another row order (same checksum): still keyed by id, not position.
  const reversed = subsetSplit(split, Int32Array.from({ length: 20 }, (_, i) => 19 - i));
  const rev = await teacherLogits(teacher, "mean", reversed, { dir, quiet: true });
  assertEquals(teacher.calls, 20);
  for (let i = 0; i < 20; i++) {
    const exp = expectedRow(split, 19 - i, 2);
    for (let c = 0; c < 3; c++) assert(Math.abs(rev[i * 3 + c] - exp[c]) < 1e-5);
  }
  teacher.dispose();
  await Deno.remove(dir, { recursive: true });
});

test("any key change (weights, data checksum) recomputes; only missing ids are computed", async () => {
  const dir = await Deno.makeTempDir();
  const split = syntheticSplit(10);
  const a = meanTeacher(1);
  await teacherLogits(a, "mean", split, { dir, quiet: true, ids: split.ids.slice(0, 4) });
  assertEquals(a.calls, 4);
  await teacherLogits(a, "mean", split, { dir, quiet: true });
  assertEquals(a.calls, 10, "only the 6 missing ids were computed");

  const b = meanTeacher(3); // different weights → different checksum → new entry
  const lb = await teacherLogits(b, "mean", split, { dir, quiet: true });
  assertEquals(b.calls, 10);
  assert(Math.abs(lb[0] - expectedRow(split, 0, 3)[0]) < 1e-5);

  const changed = { ...split, checksum: "other-file" };
  await teacherLogits(a, "mean", changed, { dir, quiet: true });
  assertEquals(a.calls, 20, "a different dataset checksum is a different entry");
  a.dispose();
  b.dispose();
  await Deno.remove(dir, { recursive: true });
});
