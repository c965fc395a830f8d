/** Runs with DKD and DIST: recorded in config.json, resumed to the same result. */
import { test } from "../permissions.ts";
import { assert, assertEquals, assertNotEquals, assertRejects } from "@std/assert";
import { join } from "node:path";
import { train, type TrainConfig } from "../../lib/train.ts";
import { presetRecipe } from "../../lib/presets.ts";
import { UserError } from "../../lib/core/errors.ts";
import { runMetrics, saveRandomStudent, TEST_DATA } from "../helpers.ts";

test("DKD (with warm-up) and DIST runs record their method and resume to the same metrics", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kd-methods-" });
  Deno.env.set("KD_CACHE_DIR", join(dir, "cache"));
  try {
    const teacher = await saveRandomStudent(dir, "teacher");
    const base: TrainConfig = {
      ...presetRecipe("smoke"),
      maxImages: 16,
      batchSize: 8,
      epochs: 2,
      student: "mobilenet_v2@0.35",
      teacher: `dir:${teacher}`,
      data: TEST_DATA,
      trainSplit: "train",
      valSplit: "validation",
      seed: 4,
    };
    const arms: Partial<TrainConfig>[] = [
      { method: "dkd", dkdAlpha: 1, dkdBeta: 8, dkdWarmup: 2, lambda: 0.5 },
      { method: "dist", distBeta: 1, distGamma: 2, lambda: 1, temperature: 1 },
    ];
    const kdLosses: number[] = [];
    for (const arm of arms) {
      const config = { ...base, ...arm };
      const whole = join(dir, `${arm.method}-whole`), cut = join(dir, `${arm.method}-cut`);
      await train(config, { out: whole, quiet: true });
      const saved = JSON.parse(await Deno.readTextFile(join(whole, "config.json"))).train;
      assertEquals(saved.method, arm.method);
      if (arm.method === "dkd") assertEquals([saved.dkd_beta, saved.dkd_warmup], [8, 2]);
      else assertEquals([saved.dist_beta, saved.dist_gamma], [1, 2]);
      // 2 steps per epoch: a NaN at step 3 stops after epoch 1's checkpoint.
      await assertRejects(() => train(config, { out: cut, quiet: true, nanAtStep: 3 }), UserError);
      // Resuming with another method is refused, naming it.
      const other = arm.method === "dkd" ? { method: "kd" as const } : { distGamma: 1 };
      await assertRejects(
        () => train({ ...config, ...other }, { out: cut, quiet: true, resume: true }),
        UserError,
        arm.method === "dkd" ? "method" : "distGamma",
      );
      await train(config, { out: cut, quiet: true, resume: true });
      const m = await runMetrics(cut);
      assertEquals(m, await runMetrics(whole));
      kdLosses.push((m[0] as { train_kd: number }).train_kd);
      assert(m.every((r) => Number.isFinite((r as { train_loss: number }).train_loss)));
    }
    // The methods' terms differ: neither silently fell back to the KL term.
    assertNotEquals(kdLosses[0], kdLosses[1]);
  } finally {
    Deno.env.delete("KD_CACHE_DIR");
    await Deno.remove(dir, { recursive: true });
  }
});
