import { test } from "../permissions.ts";
import { assertEquals, assertRejects } from "@std/assert";
import { UserError } from "../../lib/core/errors.ts";
import { openParquetSplit, toBytes } from "../../lib/data/parquet.ts";
import { BEANS_CLASSES, VALIDATION, validationRows, writeImageParquet } from "./helpers.ts";
import { parquetWriteBuffer } from "hyparquet-writer";
import { findParquet } from "../../lib/data/resolve.ts";
import { fullBeansTest } from "../fixture_paths.ts";

fullBeansTest(
  "full validation split: 133 rows, class names from HF metadata, 44/45/44",
  async (dir) => {
    const files = findParquet(dir, "validation");
    const s = await openParquetSplit("validation", files);
    assertEquals(s.classNames, BEANS_CLASSES);
    assertEquals(s.ids.length, 133);
    // Per-class counts from the dataset card (HF beans: validation 44/45/44).
    assertEquals([0, 1, 2].map((c) => s.labels.filter((l) => l === c).length), [44, 45, 44]);
    assertEquals(s.ids[0], "validation/angular_leaf_spot/angular_leaf_spot_val.0.jpg");
    assertEquals(s.files, files);
  },
);

test("committed validation subset: 15 rows, class names from HF metadata, 4/5/6", async () => {
  const s = await openParquetSplit("validation", [VALIDATION]);
  assertEquals(s.classNames, BEANS_CLASSES);
  assertEquals(s.ids.length, 15);
  assertEquals([0, 1, 2].map((c) => s.labels.filter((l) => l === c).length), [4, 5, 6]);
  assertEquals(s.ids[0], "validation/angular_leaf_spot/angular_leaf_spot_val.0.jpg");
  assertEquals(s.files, [VALIDATION]);
});

test("image bytes come back as Uint8Array JPEGs", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const rows = await validationRows(0, 2);
    writeImageParquet(`${dir}/v.parquet`, rows, { classNames: BEANS_CLASSES });
    const images = await (await openParquetSplit("v", [`${dir}/v.parquet`])).images();
    assertEquals(images.length, 2);
    assertEquals(images[1], rows[1].bytes);
    assertEquals([...images[0]!.subarray(0, 2)], [0xff, 0xd8]); // JPEG SOI marker
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

test("toBytes accepts the shapes hyparquet may return", () => {
  assertEquals(toBytes(new Uint8Array([1, 2])), new Uint8Array([1, 2]));
  assertEquals(toBytes([3, 4]), new Uint8Array([3, 4]));
  assertEquals(toBytes(new Uint16Array([0x0201]).buffer), new Uint8Array([1, 2]));
  assertEquals(
    toBytes(new DataView(new Uint8Array([9, 8, 7]).buffer, 1, 2)),
    new Uint8Array([8, 7]),
  );
  assertEquals(toBytes("\xff\xd8"), new Uint8Array([0xff, 0xd8]));
  assertEquals(toBytes(null), undefined);
});

test("--labels names classes when the file has no metadata; ids fall back to row:<i>", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const p = `${dir}/plain.parquet`;
    writeImageParquet(p, await validationRows(0, 2), { withPaths: false });
    const e = await assertRejects(() => openParquetSplit("x", [p]), UserError, "no class names");
    assertEquals((e as UserError).hint?.flag, "labels"); // named by the commands that have --labels
    const s = await openParquetSplit("x", [p], { labels: ["a", "b", "c"] });
    assertEquals(s.classNames, ["a", "b", "c"]);
    assertEquals(s.ids, ["row:0", "row:1"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

test("--labels never overrides the file's class names: equal is fine, different is refused", async () => {
  // Same names: accepted as is.
  const same = await openParquetSplit("v", [VALIDATION], { labels: [...BEANS_CLASSES] });
  assertEquals(same.classNames, BEANS_CLASSES);
  // Other names, or the same names in another order, would relabel every row.
  for (const labels of [["a", "b", "c"], ["angular_leaf_spot", "healthy", "bean_rust"]]) {
    await assertRejects(
      () => openParquetSplit("v", [VALIDATION], { labels }),
      UserError,
      `${VALIDATION}: --labels [${labels.join(", ")}] differs from the class names ` +
        `[${BEANS_CLASSES.join(", ")}] in the file's metadata`,
    );
  }
});

test("duplicate class names in the metadata are refused, naming the file and the list", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const p = `${dir}/dup.parquet`;
    writeImageParquet(p, await validationRows(0, 3), { classNames: ["a", "a", "b"] });
    await assertRejects(
      () => openParquetSplit("x", [p]),
      UserError,
      `${p}: duplicate class names [a, a, b] in the Parquet metadata`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

test("bad input: missing, truncated, not Parquet, wrong columns, label out of range", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await assertRejects(
      () => openParquetSplit("x", [`${dir}/nope.parquet`]),
      UserError,
      `${dir}/nope.parquet`,
    );

    const full = await Deno.readFile(VALIDATION);
    const truncated = `${dir}/truncated.parquet`;
    await Deno.writeFile(truncated, full.subarray(0, Math.floor(full.length / 2)));
    await assertRejects(
      () => openParquetSplit("x", [truncated]),
      UserError,
      `${truncated} is not a readable Parquet file`,
    );

    const text = `${dir}/text.parquet`;
    await Deno.writeTextFile(text, "label,image\n0,abc\n");
    await assertRejects(() => openParquetSplit("x", [text]), UserError, text);

    const cols = `${dir}/columns.parquet`;
    await Deno.writeFile(
      cols,
      new Uint8Array(parquetWriteBuffer({
        columnData: [{ name: "pixels", data: [new Uint8Array([1])] }, {
          name: "target",
          data: [1],
          type: "INT32",
        }],
      })),
    );
    const err = await assertRejects(() => openParquetSplit("x", [cols]), UserError);
    assertEquals(
      err.message.includes(cols) && err.message.includes('"image"') &&
        err.message.includes('"pixels"'),
      true,
    );

    const rows = await validationRows(0, 3);
    rows[2].label = 7;
    const badLabel = `${dir}/label.parquet`;
    writeImageParquet(badLabel, rows, { classNames: BEANS_CLASSES });
    const e2 = await assertRejects(() => openParquetSplit("x", [badLabel]), UserError);
    for (const part of [badLabel, "row 2", rows[2].path, "label 7", "0..2"]) {
      assertEquals(e2.message.includes(part), true, `"${part}" missing in: ${e2.message}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
