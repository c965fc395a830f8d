/**
 * Bad data never trains: class lists are matched by name across splits, empty or degenerate
 * splits stop before any work, a file is never served as every split, duplicate sample ids get
 * distinct teacher logits.
 */
import { test } from "../permissions.ts";
import { assert, assertEquals, assertRejects } from "@std/assert";
import { join } from "node:path";
import { UserError } from "../../lib/core/errors.ts";
import { presetRecipe } from "../../lib/presets.ts";
import { train, type TrainConfig } from "../../lib/train.ts";
import { checkRunData, loadRunData } from "../../lib/train/data.ts";
import { resolveSplit } from "../../lib/data/resolve.ts";
import { BEANS_CLASSES, validationRows, writeImageParquet } from "../data/helpers.ts";

/** A config for data folder `dir` (nothing here trains unless a test says so). */
function config(dir: string, extra: Partial<TrainConfig> = {}): TrainConfig {
  return {
    ...presetRecipe("smoke"),
    student: "mobilenet_v2@0.35",
    teacher: null,
    data: dir,
    trainSplit: "train",
    valSplit: "validation",
    seed: 0,
    maxImages: 0,
    ...extra,
  };
}

/** 12 real rows: 4 per class, in beans' class order. */
async function rows() {
  const all = await validationRows(0, 133);
  return BEANS_CLASSES.flatMap((_, c) => all.filter((r) => r.label === c).slice(0, 4));
}

async function withDir(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

test("validation classes in another order are aligned to training by name", async () => {
  await withDir(async (dir) => {
    const r = await rows();
    writeImageParquet(join(dir, "train.parquet"), r, { classNames: BEANS_CLASSES });
    // Same images, class list reversed: label i now means reversed[i].
    const reversed = [...BEANS_CLASSES].reverse();
    const relabelled = r.map((x) => ({ ...x, label: 2 - x.label }));
    writeImageParquet(join(dir, "validation.parquet"), relabelled, { classNames: reversed });
    const { val } = await checkRunData(config(dir));
    assertEquals(val.classNames, BEANS_CLASSES);
    assertEquals([...val.labels], r.map((x) => x.label));
  });
});

test("a validation class unknown to training is refused, naming both lists", async () => {
  await withDir(async (dir) => {
    const r = await rows();
    writeImageParquet(join(dir, "train.parquet"), r, { classNames: BEANS_CLASSES });
    writeImageParquet(join(dir, "validation.parquet"), r, {
      classNames: ["angular_leaf_spot", "bean_rust", "mosaic"],
    });
    const e = await assertRejects(() => checkRunData(config(dir)), UserError);
    assert(e.message.includes("mosaic") && e.message.includes("healthy"), e.message);
  });
});

test("image folders: a class missing in validation does not shift its labels", async () => {
  await withDir(async (dir) => {
    const r = await rows();
    for (const [split, keep] of [["train", [0, 1, 2]], ["validation", [1, 2]]] as const) {
      for (const [i, x] of r.entries()) {
        if (!(keep as readonly number[]).includes(x.label)) continue;
        const folder = join(dir, split, BEANS_CLASSES[x.label]);
        await Deno.mkdir(folder, { recursive: true });
        await Deno.writeFile(join(folder, `${i}.jpg`), x.bytes);
      }
    }
    for (const emptyFolder of [false, true]) {
      // Missing, or present but empty, as a careless copy leaves it.
      if (emptyFolder) await Deno.mkdir(join(dir, "validation", BEANS_CLASSES[0]));
      const { val } = await checkRunData(config(dir));
      assertEquals(val.classNames, BEANS_CLASSES);
      assertEquals(new Set(val.labels), new Set([1, 2]));
    }
  });
});

test("empty splits and classes without training images stop before any work", async () => {
  await withDir(async (dir) => {
    const r = await rows();
    writeImageParquet(join(dir, "train.parquet"), r.filter((x) => x.label !== 2), {
      classNames: BEANS_CLASSES,
    });
    writeImageParquet(join(dir, "validation.parquet"), r, { classNames: BEANS_CLASSES });
    let e = await assertRejects(() => checkRunData(config(dir)), UserError);
    assert(e.message.includes("no training images") && e.message.includes("healthy"), e.message);

    writeImageParquet(join(dir, "train.parquet"), r, { classNames: BEANS_CLASSES });
    writeImageParquet(join(dir, "validation.parquet"), [], { classNames: BEANS_CLASSES });
    e = await assertRejects(() => checkRunData(config(dir)), UserError);
    assert(e.message.includes("validation split has no rows"), e.message);

    // Nothing was written for a run that could not start.
    const out = join(dir, "run");
    await assertRejects(() => train(config(dir), { out, quiet: true }), UserError);
    assertEquals(await Deno.stat(out).then(() => true, () => false), false);
  });
});

test("--data pointing at one file is refused instead of serving every split", async () => {
  await withDir(async (dir) => {
    const file = join(dir, "train.parquet");
    writeImageParquet(file, await rows(), { classNames: BEANS_CLASSES });
    for (const split of ["train", "validation", "test"]) {
      const e = await assertRejects(() => resolveSplit({ data: file, split }), UserError);
      assert(e.message.includes("a file, not a folder"), e.message);
    }
  });
});

test("duplicate image_file_path ids are made unique by row", async () => {
  await withDir(async (dir) => {
    const r = (await rows()).map((x) => ({ ...x, path: "same.jpg" }));
    writeImageParquet(join(dir, "train.parquet"), r, { classNames: BEANS_CLASSES });
    writeImageParquet(join(dir, "validation.parquet"), r, { classNames: BEANS_CLASSES });
    const data = await loadRunData(config(dir, { imageSize: 32 }), { quiet: true });
    assertEquals(new Set(data.train.ids).size, data.train.n);
  });
});
