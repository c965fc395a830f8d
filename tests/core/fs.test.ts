/** lib/core/fs.ts: staging folders and folder swaps. */
import { assertEquals, assertNotEquals } from "@std/assert";
import { join } from "node:path";
import { test } from "../permissions.ts";
import { makeStagingDir, replaceDir } from "../../lib/core/fs.ts";
import { saveModel } from "../../lib/models/checkpoint.ts";
import { createModel } from "../../lib/models/registry.ts";

test("a staging folder, and what is swapped in from it, has a plain mkdir's mode", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "kd-fs-" });
  try {
    await Deno.mkdir(join(tmp, "plain"));
    const plain = (await Deno.stat(join(tmp, "plain"))).mode;
    const a = await makeStagingDir(tmp, ".x-", ".tmp");
    const b = await makeStagingDir(tmp, ".x-", ".tmp");
    assertNotEquals(a, b);
    assertEquals((await Deno.stat(a)).mode, plain);
    await replaceDir(a, join(tmp, "out"));
    assertEquals((await Deno.stat(join(tmp, "out"))).mode, plain);
    // A saved model (a run's best/) the same way.
    const m = await createModel("mobilenet_v2@0.35", { numLabels: 3, imageSize: 32, seed: 1 });
    await saveModel(m, join(tmp, "best"));
    m.dispose();
    assertEquals((await Deno.stat(join(tmp, "best"))).mode, plain);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
