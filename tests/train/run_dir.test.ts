/** Nothing finished is lost: --force replaces a run only once the new one has started. */
import { test } from "../permissions.ts";
import { assert, assertEquals, assertRejects } from "@std/assert";
import { join } from "node:path";
import { UserError } from "../../lib/core/errors.ts";
import { presetRecipe } from "../../lib/presets.ts";
import { train, type TrainConfig } from "../../lib/train.ts";
import { TEST_DATA as DATA } from "../helpers.ts";

const exists = (p: string) => Deno.stat(p).then(() => true, () => false);

test("--force with a mistyped --data or --teacher keeps the finished run", async () => {
  const out = await Deno.makeTempDir();
  try {
    const config: TrainConfig = {
      ...presetRecipe("smoke"),
      maxImages: 16,
      batchSize: 8,
      epochs: 1,
      student: "mobilenet_v2@0.35",
      teacher: null,
      data: DATA,
      trainSplit: "train",
      valSplit: "validation",
      seed: 0,
    };
    await train(config, { out, quiet: true });
    const final = await Deno.readTextFile(join(out, "final.json"));
    await Deno.writeTextFile(join(out, "test_eval.json"), "{}");
    // Leftovers of a crash (disk full during a checkpoint) are cleaned on the next start.
    await Deno.mkdir(join(out, "checkpoint.dead.tmp"));

    for (const bad of [{ data: "/nonexistent/beans" }, { teacher: "dir:/nonexistent/teacher" }]) {
      await assertRejects(
        () => train({ ...config, ...bad }, { out, force: true, quiet: true }),
        UserError,
      );
      assertEquals(await Deno.readTextFile(join(out, "final.json")), final);
      assert(await exists(join(out, "best", "model.safetensors")));
      assert(await exists(join(out, "test_eval.json")));
    }
    // A failure after the new run started (here: NaN at its first step) restores the old run.
    await assertRejects(
      () => train(config, { out, force: true, quiet: true, nanAtStep: 1 }),
      UserError,
    );
    assertEquals(await Deno.readTextFile(join(out, "final.json")), final);
    assert(!(await exists(join(out, "checkpoint.dead.tmp"))));

    // A good --force run replaces it, and the old test record goes with the old run.
    await train({ ...config, seed: 1 }, { out, force: true, quiet: true });
    assert(await Deno.readTextFile(join(out, "final.json")) !== final);
    assert(!(await exists(join(out, "test_eval.json"))));
    assertEquals([...Deno.readDirSync(out)].filter((e) => e.name.includes(".tmp")), []);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
