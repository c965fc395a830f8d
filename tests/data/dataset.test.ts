import { test } from "../permissions.ts";
import { assert, assertEquals, assertNotEquals, assertRejects, assertThrows } from "@std/assert";
import { UserError } from "../../lib/core/errors.ts";
import {
  batchIndices,
  imagePixels,
  loadSplit,
  mulberry32,
  toTensor,
} from "../../lib/data/dataset.ts";
import { writeImageCache } from "../../lib/data/image_cache.ts";
import { normalizeInto, preprocessImage, preprocessOptions } from "../../lib/data/preprocess.ts";
import { flipHorizontal } from "../../lib/data/augment.ts";
import { sha256File } from "../../lib/core/hash.ts";
import { BEANS_CLASSES, BEANS_DIR, validationRows, writeImageParquet } from "./helpers.ts";
import { runCommand } from "../commands.ts";
import { fullBeansTest } from "../fixture_paths.ts";
import { findParquet } from "../../lib/data/resolve.ts";
import { join } from "node:path";

const SIZE = 48; // small images keep these tests fast; the 224 path is covered by preprocess.test.ts

async function withTemp(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "kd-data-test-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function cacheFiles(dir: string): string[] {
  try {
    return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
  } catch {
    return [];
  }
}

fullBeansTest(
  "loadSplit on the full validation split: 133 images, pixels as preprocessImage",
  async (data) => {
    await withTemp(async (dir) => {
      const s = await loadSplit({ data, split: "validation", cacheDir: dir, quiet: true });
      assertEquals([s.n, s.size, s.pixels.length], [133, 224, 133 * 224 * 224 * 3]);
      assertEquals(s.classNames, BEANS_CLASSES);
      const [file] = findParquet(data, "validation");
      assertEquals(s.checksum, await sha256File(file));
      assertEquals(s.fromCache, false);
      const [row] = await validationRows(50, 51, file);
      assertEquals(s.ids[50], row.path);
      assertEquals(s.labels[50], row.label);
      assertEquals(imagePixels(s, 50), await preprocessImage(row.bytes, 224));
    });
  },
);

test("loadSplit on the committed validation subset: ids, labels, checksum, pixels as preprocessImage", async () => {
  await withTemp(async (dir) => {
    const s = await loadSplit({ data: BEANS_DIR, split: "validation", cacheDir: dir, quiet: true });
    assertEquals([s.n, s.size, s.pixels.length], [15, 224, 15 * 224 * 224 * 3]);
    assertEquals(s.classNames, BEANS_CLASSES);
    assertEquals(s.checksum, await sha256File(`${BEANS_DIR}/validation.parquet`));
    assertEquals(s.fromCache, false);
    const [row] = await validationRows(5, 6);
    assertEquals(s.ids[5], row.path);
    assertEquals(s.labels[5], row.label);
    assertEquals(imagePixels(s, 5), await preprocessImage(row.bytes, 224));
  });
});

test("second load comes from the cache; corrupted cache files are rebuilt", async () => {
  await withTemp(async (dir) => {
    const rows = await validationRows(0, 4);
    writeImageParquet(`${dir}/train.parquet`, rows, { classNames: BEANS_CLASSES });
    const opts = {
      data: dir,
      split: "train",
      cacheDir: `${dir}/cache`,
      preprocess: { size: SIZE },
      quiet: true,
    };
    const first = await loadSplit(opts);
    assertEquals(first.fromCache, false);
    const [file] = cacheFiles(`${dir}/cache`);
    assert(file, "a cache file was written");
    const second = await loadSplit(opts);
    assertEquals(second.fromCache, true);
    assertEquals(second.pixels, first.pixels);
    assertEquals(second.ids, first.ids);

    // Truncated (e.g. a partial copy): detected by length and rebuilt.
    const path = `${dir}/cache/${file}`;
    const full = await Deno.readFile(path);
    await Deno.writeFile(path, full.subarray(0, full.length - 1000));
    const third = await loadSplit(opts);
    assertEquals(third.fromCache, false);
    assertEquals(third.pixels, first.pixels);
    assertEquals((await Deno.readFile(path)).length, full.length);

    // Garbage with the right name.
    await Deno.writeTextFile(path, "garbage");
    assertEquals((await loadSplit(opts)).fromCache, false);

    // A different size is a different cache entry.
    const other = await loadSplit({ ...opts, preprocess: { size: SIZE + 8 } });
    assertEquals(other.fromCache, false);
    assertEquals(cacheFiles(`${dir}/cache`).length, 2);
  });
});

test("a crash while writing the cache leaves no file under the real name", async () => {
  await withTemp(async (dir) => {
    const path = `${dir}/c/x.kdimg`;
    class Exploding extends Uint8Array {
      override subarray(): Uint8Array<ArrayBuffer> {
        throw new Error("disk on fire");
      }
    }
    await assertRejects(
      () =>
        writeImageCache(path, {
          key: "k",
          size: 1,
          rows: Int32Array.from([0]),
          skipped: [],
          pixels: new Exploding(3),
        }),
      Error,
      "disk on fire",
    );
    assertEquals(cacheFiles(`${dir}/c`), []);
  });
});

test("undecodable image: UserError names file, row and image_file_path; --skip-bad-images skips", async () => {
  await withTemp(async (dir) => {
    const rows = await validationRows(0, 4);
    rows[2] = { ...rows[2], bytes: rows[2].bytes.subarray(0, 200) }; // truncated JPEG
    writeImageParquet(`${dir}/train.parquet`, rows, { classNames: BEANS_CLASSES });
    const opts = {
      data: dir,
      split: "train",
      cacheDir: `${dir}/cache`,
      preprocess: { size: SIZE },
      quiet: true,
    };
    const e = await assertRejects(() => loadSplit(opts), UserError);
    for (
      const part of [
        `${dir}/train.parquet`,
        "row 2",
        rows[2].path,
        "do not decode",
      ]
    ) {
      assert(e.message.includes(part), `"${part}" missing in: ${e.message}`);
    }
    // The flag is named by the commands that have it (tests/cli/contract.test.ts).
    assertEquals((e as UserError).hint?.flag, "skip-bad-images");
    assertEquals(cacheFiles(`${dir}/cache`), []);

    const s = await loadSplit({ ...opts, skipBadImages: true });
    assertEquals([s.n, s.skipped], [3, 1]);
    assertEquals(s.ids, [rows[0].path, rows[1].path, rows[3].path]);
    assertEquals(imagePixels(s, 2), await preprocessImage(rows[3].bytes, SIZE));
    // The cache remembers the bad row: without the flag it still fails, with it it still skips.
    await assertRejects(() => loadSplit(opts), UserError, "row 2");
    const again = await loadSplit({ ...opts, skipBadImages: true });
    assertEquals([again.fromCache, again.n], [true, 3]);
  });
});

test("an image size out of range is refused, and zero usable images is an error naming the flag", async () => {
  await withTemp(async (dir) => {
    const rows = await validationRows(0, 3);
    writeImageParquet(`${dir}/train.parquet`, rows, { classNames: BEANS_CLASSES });
    const opts = { data: dir, split: "train", cacheDir: `${dir}/cache`, quiet: true };
    for (const size of [100000, 1025, 0, 2.5]) {
      for (const skipBadImages of [false, true]) {
        await assertRejects(
          () => loadSplit({ ...opts, preprocess: { size }, skipBadImages }),
          UserError,
          `image size must be an integer in [1, 1024] px, got ${size}`,
        );
      }
    }
    assertThrows(() => preprocessOptions({ size: 1e7 }), UserError, "[1, 1024]");
    assertEquals(cacheFiles(`${dir}/cache`), []);

    // Every image bad: --skip-bad-images does not turn that into a run on 0 images.
    const bad = rows.map((r) => ({ ...r, bytes: r.bytes.subarray(0, 100) }));
    writeImageParquet(`${dir}/train.parquet`, bad, { classNames: BEANS_CLASSES });
    await assertRejects(
      () => loadSplit({ ...opts, preprocess: { size: SIZE }, skipBadImages: true }),
      UserError,
      "--skip-bad-images left no usable image: all 3 row(s) of the train split failed (first:",
    );
  });

  // The command: one line naming --image-size, exit 2, before any image is decoded.
  for (const extra of [["--skip-bad-images"], []]) {
    const out = await Deno.makeTempDir({ prefix: "kd-size-cli-" });
    try {
      const { code, lines } = await runCommand(
        "train",
        ["--data", BEANS_DIR, "--out", `${out}/run`, "--image-size", "100000", ...extra],
      );
      assertEquals([code, lines], [
        2,
        ["error: --image-size must be an integer in [32, 1024], got 100000"],
      ]);
      assertEquals(cacheFiles(out), []);
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  }
});

test("toTensor: NHWC float32 normalised, indices select images, size must match", async () => {
  await withTemp(async (dir) => {
    writeImageParquet(`${dir}/train.parquet`, await validationRows(0, 3), {
      classNames: BEANS_CLASSES,
    });
    const s = await loadSplit({
      data: dir,
      split: "train",
      cacheDir: dir,
      preprocess: { size: SIZE },
      quiet: true,
    });
    const pre = preprocessOptions({ size: SIZE, mean: [0.4, 0.5, 0.6], std: [0.2, 0.3, 0.4] });
    const t = toTensor(s, [2, 0], pre);
    assertEquals(t.shape, [2, SIZE, SIZE, 3]);
    const got = t.dataSync();
    t.dispose();
    const want = new Float32Array(2 * SIZE * SIZE * 3);
    normalizeInto(imagePixels(s, 2), want, 0, pre);
    normalizeInto(imagePixels(s, 0), want, SIZE * SIZE * 3, pre);
    assertEquals(got, want);
    assertEquals(Math.abs(got[0] - (imagePixels(s, 2)[0] / 255 - 0.4) / 0.2) < 1e-5, true);
    assertThrows(() => toTensor(s, [0], preprocessOptions({ size: 224 })), Error, "48px");
    assertThrows(() => toTensor(s, [3], pre), RangeError);
  });
});

test("toTensor with augmentation: seeded, and flip-only mirrors the image", async () => {
  await withTemp(async (dir) => {
    writeImageParquet(`${dir}/train.parquet`, await validationRows(0, 2), {
      classNames: BEANS_CLASSES,
    });
    const s = await loadSplit({
      data: dir,
      split: "train",
      cacheDir: dir,
      preprocess: { size: SIZE },
      quiet: true,
    });
    const pre = preprocessOptions({ size: SIZE });
    const run = (seed: number) => {
      const t = toTensor(s, [0, 1, 0, 1], pre, { crop: true, flip: true, rng: mulberry32(seed) });
      const d = t.dataSync().slice();
      t.dispose();
      return d;
    };
    assertEquals(run(7), run(7));
    assertNotEquals(run(7), run(8));
    // rng() = 0 always flips (flip happens when rng() < 0.5).
    const flipped = toTensor(s, [1], pre, { flip: true, rng: () => 0 });
    const want = new Float32Array(SIZE * SIZE * 3);
    normalizeInto(flipHorizontal(imagePixels(s, 1), SIZE), want, 0, pre);
    assertEquals(flipped.dataSync(), want);
    flipped.dispose();
  });
});

test("batchIndices: a permutation per epoch, deterministic from (seed, epoch)", () => {
  const collect = (o: { shuffle: boolean; seed: number; epoch: number; dropLast?: boolean }) =>
    [...batchIndices(10, { batchSize: 4, ...o })].map((b) => [...b]);
  const a = collect({ shuffle: true, seed: 1, epoch: 0 });
  assertEquals(a.map((b) => b.length), [4, 4, 2]);
  assertEquals(a.flat().sort((x, y) => x - y), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assertEquals(collect({ shuffle: true, seed: 1, epoch: 0 }), a);
  assertNotEquals(collect({ shuffle: true, seed: 1, epoch: 1 }), a);
  assertNotEquals(collect({ shuffle: true, seed: 2, epoch: 0 }), a);
  assertEquals(collect({ shuffle: false, seed: 1, epoch: 3 }).flat(), [
    0,
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    8,
    9,
  ]);
  assertEquals(collect({ shuffle: true, seed: 1, epoch: 0, dropLast: true }).map((b) => b.length), [
    4,
    4,
  ]);
  assertThrows(
    () => [...batchIndices(3, { batchSize: 0, shuffle: false, seed: 0, epoch: 0 })],
    RangeError,
  );
});

test("an image cache that cannot be written fails data prepare's loads, only warns otherwise", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // A cache folder under a file: no mkdir can make it, whoever runs the test (root too).
    await Deno.writeTextFile(join(dir, "file"), "");
    const cacheDir = join(dir, "file", "cache");
    const opts = { data: BEANS_DIR, split: "validation", preprocess: { size: 24 }, cacheDir };
    const ok = await loadSplit({ ...opts, quiet: true });
    assertEquals(ok.fromCache, false);
    await assertRejects(
      () => loadSplit({ ...opts, quiet: true, requireCache: true }),
      UserError,
      `cannot write the image cache ${cacheDir}/`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
