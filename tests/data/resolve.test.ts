import { BEANS_MINI_ROWS } from "../fixture_paths.ts";
import { test } from "../permissions.ts";
import { assertEquals, assertRejects, assertThrows } from "@std/assert";
import { UserError } from "../../lib/core/errors.ts";
import {
  availableSplits,
  dataDir,
  DEFAULT_DATA,
  findParquet,
  hasSplit,
  resolveSplit,
  splitFiles,
} from "../../lib/data/resolve.ts";
import { VALIDATION } from "./helpers.ts";

test("resolves <split>.parquet and HF data/<split>-NNNNN-of-NNNNN.parquet names", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.symlink(VALIDATION, `${dir}/validation.parquet`);
    await Deno.mkdir(`${dir}/data`);
    await Deno.symlink(VALIDATION, `${dir}/data/train-00000-of-00001.parquet`);
    assertEquals(findParquet(dir, "validation"), [`${dir}/validation.parquet`]);
    assertEquals(findParquet(dir, "train"), [`${dir}/data/train-00000-of-00001.parquet`]);
    assertEquals(availableSplits(dir), ["train", "validation"]);
    const s = await resolveSplit({ data: dir, split: "train" });
    assertEquals(s.ids.length, BEANS_MINI_ROWS.validation);
    assertEquals(s.source, `${dir}/data/train-00000-of-00001.parquet`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

test("multiple HF shards form one split, in shard order", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/data`);
    await Deno.symlink(VALIDATION, `${dir}/data/train-00001-of-00002.parquet`);
    await Deno.symlink(VALIDATION, `${dir}/data/train-00000-of-00002.parquet`);
    const s = await resolveSplit({ data: dir, split: "train" });
    assertEquals(s.ids.length, 2 * BEANS_MINI_ROWS.validation);
    assertEquals(s.files.map((f) => f.split("/").pop()), [
      "train-00000-of-00002.parquet",
      "train-00001-of-00002.parquet",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

test("missing split or folder: one UserError naming the folder and what was looked for", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.symlink(VALIDATION, `${dir}/validation.parquet`);
    const e = await assertRejects(() => resolveSplit({ data: dir, split: "test" }), UserError);
    for (
      const part of [dir, "test.parquet", "data/test-", "test/<class>", "found splits: validation"]
    ) {
      assertEquals(e.message.includes(part), true, `"${part}" missing in: ${e.message}`);
    }
    await assertRejects(
      () => resolveSplit({ data: `${dir}/nope`, split: "train" }),
      UserError,
      `${dir}/nope: no such folder`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

test("data folder: option, then KD_DATA, then the default", () => {
  const old = Deno.env.get("KD_DATA");
  try {
    Deno.env.delete("KD_DATA");
    assertEquals(dataDir(), { dir: DEFAULT_DATA, isDefault: true });
    // The default is no folder beside the repository: beans from the Hugging Face cache.
    assertEquals(DEFAULT_DATA, "hf://datasets/AI-Lab-Makerere/beans");
    Deno.env.set("KD_DATA", "/x/y/");
    assertEquals(dataDir(), { dir: "/x/y", isDefault: false });
    assertEquals(dataDir("/a"), { dir: "/a", isDefault: false });
  } finally {
    if (old === undefined) Deno.env.delete("KD_DATA");
    else Deno.env.set("KD_DATA", old);
  }
});

test("a split is a plain name: paths are refused before anything is read or written", async () => {
  const outer = await Deno.makeTempDir();
  try {
    // A split file outside the data folder that a path-like name would reach.
    await Deno.mkdir(`${outer}/data`);
    await Deno.mkdir(`${outer}/elsewhere`);
    await Deno.symlink(VALIDATION, `${outer}/data/validation.parquet`);
    await Deno.symlink(VALIDATION, `${outer}/elsewhere/validation.parquet`);
    for (const split of ["../elsewhere/validation", "./validation", "/tmp/x", "a/b", ".."]) {
      const data = `${outer}/data`;
      await assertRejects(() => resolveSplit({ data, split }), UserError, `split "${split}"`);
      await assertRejects(() => splitFiles(data, split), UserError, `split "${split}"`);
      assertThrows(() => hasSplit(data, split), UserError, `split "${split}"`);
    }
    const ok = await resolveSplit({ data: `${outer}/data`, split: "validation" });
    assertEquals(ok.ids.length, BEANS_MINI_ROWS.validation);
  } finally {
    await Deno.remove(outer, { recursive: true });
  }
});
