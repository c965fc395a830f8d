/** lib/net/copy_files.ts: `fetch --out` never replaces a user's file unasked. */
import { assertEquals, assertRejects } from "@std/assert";
import { join } from "node:path";
import { test } from "../permissions.ts";
import { copyFilesTo } from "../../lib/net/copy_files.ts";
import { UserError } from "../../lib/core/errors.ts";

test("copyFilesTo keeps identical files, refuses different ones without force, writes nothing then", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const src = join(dir, "src"), out = join(dir, "out");
    await Deno.mkdir(src);
    await Deno.mkdir(join(out, "data"), { recursive: true });
    await Deno.writeTextFile(join(src, "a"), "hub a");
    await Deno.writeTextFile(join(src, "b"), "hub b");
    const files: [string, string][] = [[join(src, "a"), "a.parquet"], [
      join(src, "b"),
      "validation.parquet",
    ]];
    await Deno.writeTextFile(join(out, "validation.parquet"), "my precious data");
    await assertRejects(
      () => copyFilesTo(files, out),
      UserError,
      "validation.parquet exists with other contents; pass --force",
    );
    // Checked before anything was written: not even the first file.
    assertEquals(await Deno.stat(join(out, "a.parquet")).then(() => true, () => false), false);
    assertEquals(await Deno.readTextFile(join(out, "validation.parquet")), "my precious data");
    // The same bytes are fine (a second fetch into the same folder).
    await Deno.writeTextFile(join(out, "validation.parquet"), "hub b");
    assertEquals(await copyFilesTo(files, out), [
      join(out, "a.parquet"),
      join(out, "validation.parquet"),
    ]);
    assertEquals(await Deno.readTextFile(join(out, "a.parquet")), "hub a");
    await Deno.writeTextFile(join(out, "a.parquet"), "mine");
    await copyFilesTo(files, out, true);
    assertEquals(await Deno.readTextFile(join(out, "a.parquet")), "hub a");
    await assertRejects(
      () => copyFilesTo([[join(src, "a"), "data"]], out, true),
      UserError,
      "data exists and is not a file",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
