/**
 * Cached views (`--teacher-views K`): the same result as the online teacher on the same views,
 * no teacher during training, and an exact resume after SIGKILL.
 */
import { test } from "./permissions.ts";
import { assert, assertAlmostEquals, assertEquals } from "@std/assert";
import { join } from "node:path";
import { train, type TrainConfig } from "../lib/train.ts";
import { presetRecipe } from "../lib/presets.ts";
import { loadRunData } from "../lib/train/data.ts";
import { makeTargets } from "../lib/train/targets.ts";
import { fixedViews, sampleBatchView } from "../lib/train/views.ts";
import { parseAugment } from "../lib/data/augment.ts";
import { parseSafetensors } from "../lib/models/safetensors.ts";
import { killAfterFirstEpoch, runMetrics, saveRandomStudent, TEST_DATA } from "./helpers.ts";

const TRAIN_CLI = new URL("../lib/cli/train.ts", import.meta.url).pathname;

test("a cached-view run equals an online run on the same views, without the teacher while training", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kd-views-cache-" });
  Deno.env.set("KD_CACHE_DIR", join(dir, "cache"));
  try {
    const teacherDir = await saveRandomStudent(dir, "teacher", 64);
    const config: TrainConfig = {
      ...presetRecipe("smoke"),
      maxImages: 16,
      batchSize: 8,
      epochs: 2,
      augment: "crop=0.3-1,flip",
      teacherViews: 3,
      student: "mobilenet_v2@0.35",
      teacher: `dir:${teacherDir}`,
      data: TEST_DATA,
      trainSplit: "train",
      valSplit: "validation",
      seed: 2,
    };
    const online: number[] = [], cached: number[] = [];
    await train(config, {
      out: join(dir, "online"),
      quiet: true,
      teacherOnline: true,
      onStep: (_s, l) => online.push(l.kd),
    });
    await train(config, {
      out: join(dir, "cached"),
      quiet: true,
      onStep: (_s, l) => cached.push(l.kd),
    });
    assertEquals(cached.length, 4);
    cached.forEach((v, i) => assertAlmostEquals(v, online[i], 1e-5, `step ${i + 1}`));

    // The cache holds K rows per image, with the view (box, flip) of each.
    const entries = [...Deno.readDirSync(join(dir, "cache", "teacher-views"))];
    assertEquals(entries.length, 1);
    const file = parseSafetensors(
      await Deno.readFile(join(dir, "cache", "teacher-views", entries[0].name)),
      "views",
    );
    const ids = JSON.parse(file.metadata.ids) as string[];
    const views = JSON.parse(file.metadata.views) as Record<string, { box: number[] }[]>;
    assertEquals(ids.length, 16);
    assertEquals(views[ids[0]].length, 3);
    assertEquals(file.tensors.get("logits")!.shape, [48, 3]);

    // The targets need no teacher once made: its files can go, every batch is still served.
    const data = await loadRunData(config, { quiet: true });
    const targets = await makeTargets(config, data, { online: false, quiet: true });
    assertEquals(targets.online, false);
    await Deno.remove(teacherDir, { recursive: true });
    const source = fixedViews(data.train.ids, parseAugment(config.augment), 3, {
      seed: 2,
      size: 32,
    });
    const idx = Int32Array.from([0, 5, 9, 15]);
    const view = sampleBatchView(idx, parseAugment(config.augment), {
      seed: 2,
      epoch: 1,
      step: 0,
      size: 32,
    }, source);
    const t = await targets.batch(idx, view);
    assertEquals(t.shape, [4, 3]);
    assert(t.dataSync().every(Number.isFinite));
    t.dispose();
  } finally {
    Deno.env.delete("KD_CACHE_DIR");
    await Deno.remove(dir, { recursive: true });
  }
});

function runCli(args: string[], env: Record<string, string>): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", TRAIN_CLI, ...args],
    env,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

async function finished(p: Deno.ChildProcess): Promise<void> {
  const o = await p.output();
  assert(o.success, new TextDecoder().decode(o.stderr));
}

test({
  name: "SIGKILL mid-run with augmentation and cached views, then --resume: the same metrics",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const tmp = await Deno.makeTempDir({ prefix: "kd-views-resume-" });
    const env = { KD_CACHE_DIR: join(tmp, "cache") };
    try {
      const teacher = await saveRandomStudent(tmp, "teacher", 64);
      const flags = [
        ...["--preset", "smoke", "--student", "mobilenet_v2@0.35", "--data", TEST_DATA],
        ...["--teacher", `dir:${teacher}`, "--augment", "crop,flip", "--teacher-views", "2"],
        ...["--epochs", "3", "--batch-size", "8", "--seed", "3", "--quiet"],
      ];
      const whole = join(tmp, "whole"), killed = join(tmp, "killed");
      await finished(runCli([...flags, "--out", whole], env));
      const epochAtKill = await killAfterFirstEpoch(
        runCli([...flags, "--out", killed], env),
        killed,
      );
      assert(epochAtKill >= 1 && epochAtKill < 3, `killed after epoch ${epochAtKill}`);
      await finished(runCli([...flags, "--out", killed, "--resume"], env));
      assertEquals(await runMetrics(killed), await runMetrics(whole));
      const final = (d: string) => JSON.parse(Deno.readTextFileSync(join(d, "final.json")));
      assertEquals(final(killed).validation, final(whole).validation);
      const saved = JSON.parse(await Deno.readTextFile(join(whole, "config.json"))).train;
      assertEquals([saved.augment, saved.teacher_views], ["crop,flip", 2]);
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});
