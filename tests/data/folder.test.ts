import { test } from "../permissions.ts";
import { assertEquals, assertRejects, assertThrows } from "@std/assert";
import { UserError } from "../../lib/core/errors.ts";
import { hasFolderSplit, openFolderSplit } from "../../lib/data/folder.ts";
import { loadSplit } from "../../lib/data/dataset.ts";
import { preprocessImage } from "../../lib/data/preprocess.ts";
import { validationRows } from "./helpers.ts";

async function makeFolder(dir: string) {
  const rows = await validationRows(0, 3);
  // Created out of order on purpose: classes must come back sorted by name.
  for (const [cls, files] of [["zebra", ["b.jpg", "a.JPEG"]], ["apple", ["x.jpg"]]] as const) {
    await Deno.mkdir(`${dir}/train/${cls}`, { recursive: true });
    for (const [i, f] of files.entries()) {
      await Deno.writeFile(`${dir}/train/${cls}/${f}`, rows[i].bytes);
    }
  }
  await Deno.writeTextFile(`${dir}/train/zebra/notes.txt`, "not an image");
  return rows;
}

test("image folder: classes sorted by name, files sorted, non-images ignored", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const rows = await makeFolder(dir);
    assertEquals(hasFolderSplit(dir, "train"), true);
    assertEquals(hasFolderSplit(dir, "test"), false);
    const s = openFolderSplit(dir, "train");
    assertEquals(s.classNames, ["apple", "zebra"]);
    assertEquals(s.ids, ["train/apple/x.jpg", "train/zebra/a.JPEG", "train/zebra/b.jpg"]);
    assertEquals([...s.labels], [0, 1, 1]);
    const images = await s.images();
    assertEquals(images[1], rows[1].bytes);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

test("image folder: explicit class list, unknown class folder, empty split", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await makeFolder(dir);
    assertEquals([...openFolderSplit(dir, "train", { labels: ["zebra", "apple"] }).labels], [
      1,
      0,
      0,
    ]);
    assertThrows(
      () => openFolderSplit(dir, "train", { labels: ["zebra"] }),
      UserError,
      `${dir}/train/apple`,
    );
    await Deno.mkdir(`${dir}/empty/cls`, { recursive: true });
    assertThrows(() => openFolderSplit(dir, "empty"), UserError, "no images found");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

test("image folder: loads and preprocesses; an undecodable file is named", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const rows = await makeFolder(dir);
    const split = await loadSplit({
      data: dir,
      split: "train",
      cacheDir: `${dir}/cache`,
      quiet: true,
      preprocess: { size: 32 },
    });
    assertEquals(split.n, 3);
    assertEquals(split.pixels.subarray(0, 32 * 32 * 3), await preprocessImage(rows[0].bytes, 32));
    await Deno.writeFile(`${dir}/train/apple/y.jpg`, rows[0].bytes.subarray(0, 300));
    const err = await assertRejects(
      () =>
        loadSplit({
          data: dir,
          split: "train",
          cacheDir: `${dir}/cache`,
          quiet: true,
          preprocess: { size: 32 },
        }),
      UserError,
    );
    assertEquals(
      err.message.includes("train/apple/y.jpg") && err.message.includes("do not decode"),
      true,
      err.message,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

test("image folder: images in nested folders belong to the top-level class folder", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const rows = await validationRows(0, 5);
    const put = async (rel: string, i: number) => {
      await Deno.mkdir(`${dir}/train/${rel.split("/").slice(0, -1).join("/")}`, {
        recursive: true,
      });
      await Deno.writeFile(`${dir}/train/${rel}`, rows[i].bytes);
    };
    await put("healthy/a.jpg", 0);
    await put("healthy/batch2/b.jpg", 1);
    await put("healthy/batch2/deeper/c.png", 2);
    await put("rust/batch1/d.jpg", 3); // a class whose images are all nested
    await put("rust/.ipynb_checkpoints/e.jpg", 4); // hidden: skipped
    await Deno.symlink(`${dir}/train/healthy`, `${dir}/train/healthy/batch2/loop`);
    const s = openFolderSplit(dir, "train");
    assertEquals(s.classNames, ["healthy", "rust"]);
    assertEquals(s.ids, [
      "train/healthy/a.jpg",
      "train/healthy/batch2/b.jpg",
      "train/healthy/batch2/deeper/c.png",
      "train/rust/batch1/d.jpg",
    ]);
    assertEquals([...s.labels], [0, 0, 0, 1]);
    const images = await s.images();
    assertEquals(images[2], rows[2].bytes);
    const loaded = await loadSplit({
      data: dir,
      split: "train",
      preprocess: { size: 16 },
      cacheDir: `${dir}/cache`,
      quiet: true,
    });
    assertEquals(loaded.n, 4);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
