import { test } from "./permissions.ts";
import { assert, assertEquals, assertRejects, assertThrows } from "@std/assert";
import { join } from "node:path";
import { train, type TrainConfig } from "../lib/train.ts";
import { alignTeacherColumns } from "../lib/train/targets.ts";
import { presetRecipe } from "../lib/presets.ts";
import { initBackend } from "../lib/backend.ts";
import { UserError } from "../lib/core/errors.ts";

import {
  killAfterFirstEpoch,
  runMetrics,
  saveRandomStudent,
  TEST_DATA as DATA,
  tinyConfig,
} from "./helpers.ts";
const TRAIN_CLI = new URL("../lib/cli/train.ts", import.meta.url).pathname;

/** Flags of a tiny scratch run (MobileNetV2 x0.35 at 32 px on 48 images, 3 epochs). */
const TINY = [
  "--preset",
  "smoke",
  "--student",
  "mobilenet_v2@0.35",
  "--data",
  DATA,
  "--epochs",
  "3",
  "--batch-size",
  "8",
  "--seed",
  "3",
  "--quiet",
];

function runCli(args: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", TRAIN_CLI, ...args],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

async function finished(p: Deno.ChildProcess): Promise<string> {
  const o = await p.output();
  const text = new TextDecoder().decode(o.stdout) + new TextDecoder().decode(o.stderr);
  assert(o.success, `train failed:\n${text}`);
  return text;
}

test({
  name: "SIGKILL mid-epoch, then --resume, ends with the same metrics as an uninterrupted run",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const tmp = await Deno.makeTempDir({ prefix: "kd-resume-" });
    const whole = join(tmp, "whole"), killed = join(tmp, "killed");
    await finished(runCli([...TINY, "--out", whole]));

    const epochAtKill = await killAfterFirstEpoch(runCli([...TINY, "--out", killed]), killed);
    let exists = true;
    await Deno.stat(join(killed, "final.json")).catch(() => exists = false);
    assert(!exists, "killed run must not have final.json");
    assert(epochAtKill >= 1 && epochAtKill < 3, `killed after epoch ${epochAtKill}`);

    // Without --resume an interrupted run is refused (nothing is silently restarted).
    const refused = runCli([...TINY, "--out", killed]);
    const r = await refused.output();
    assert(!r.success);
    assert(new TextDecoder().decode(r.stderr).includes("--resume"));

    await finished(runCli([...TINY, "--out", killed, "--resume"]));
    assertEquals(await runMetrics(killed), await runMetrics(whole));
    const a = JSON.parse(await Deno.readTextFile(join(whole, "final.json")));
    const b = JSON.parse(await Deno.readTextFile(join(killed, "final.json")));
    assertEquals(b.validation, a.validation);
    assertEquals(b.best_epoch, a.best_epoch);

    // A finished run is never overwritten without --force.
    const again = await runCli([...TINY, "--out", whole]).output();
    assert(!again.success);
    assert(new TextDecoder().decode(again.stderr).includes("--force"));
    await Deno.remove(tmp, { recursive: true });
  },
});

test("invalid settings fail before any work", async () => {
  await initBackend("cpu", { quiet: true });
  const base: TrainConfig = {
    ...presetRecipe("smoke"),
    student: "mobilenet_v2@0.35",
    teacher: "dir:/nonexistent",
    data: DATA,
    trainSplit: "train",
    valSplit: "validation",
    seed: 0,
  };
  const out = await Deno.makeTempDir();
  await assertRejects(
    () => train({ ...base, temperature: 0 }, { out }),
    UserError,
    "--temperature",
  );
  await assertRejects(() => train({ ...base, lambda: 2 }, { out }), UserError, "--lambda");
  await assertRejects(() => train({ ...base, epochs: 0 }, { out }), UserError, "--epochs");
  await assertRejects(() => train({ ...base, valSplit: "test" }, { out }), UserError, "test split");
  await assertRejects(
    () => train({ ...base, student: "resnet50" }, { out }),
    UserError,
    "valid forms",
  );
  await assertRejects(
    () => train({ ...base, teacher: "hub:x/y" }, { out }),
    UserError,
    "valid forms",
  );
  await assertRejects(() => train({ ...base, valSplit: "val" }, { out }), UserError, '"val"');
  // Nothing was written for any of them.
  assertEquals([...Deno.readDirSync(out)], []);
  await Deno.remove(out, { recursive: true });
});

test("a run's --out may not be, or hold, the teacher, student or data folder it reads", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const teacher = await saveRandomStudent(dir, "best");
    const before = await Deno.readTextFile(join(teacher, "config.json"));
    const base = tinyConfig({ teacher: `dir:${teacher}` });
    // --force replaces a run's files (config.json, best/): a saved teacher is such files.
    for (
      const [config, out, words] of [
        [base, teacher, "is the --teacher folder"],
        [base, dir, "contains the --teacher folder"],
        [{ ...base, teacher: null, student: `dir:${teacher}` }, teacher, "--student folder"],
        [{ ...base, teacher: null }, DATA, "is the --data folder"],
      ] as const
    ) {
      await assertRejects(() => train(config, { out, force: true }), UserError, words);
    }
    assertEquals(await Deno.readTextFile(join(teacher, "config.json")), before);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

test("a NaN loss stops the run naming epoch and step, keeping the last good checkpoint", async () => {
  await initBackend(undefined, { quiet: true });
  const out = await Deno.makeTempDir();
  const config = tinyConfig();
  // 2 steps per epoch: step 3 is the first step of epoch 2.
  const err = await assertRejects(
    () => train(config, { out, quiet: true, nanAtStep: 3 }),
    UserError,
  );
  assert(err.message.includes("epoch 2, step 3"), err.message);
  assert(err.message.includes("epoch 1"), err.message);
  const state = JSON.parse(await Deno.readTextFile(join(out, "checkpoint", "trainer.json")));
  assertEquals(state.epoch, 1);
  let final = true;
  await Deno.stat(join(out, "final.json")).catch(() => final = false);
  assert(!final);
  await Deno.remove(out, { recursive: true });
});

test("teacher and dataset label sets must match unless mapped explicitly", () => {
  const logits = Float32Array.from([1, 2, 3, 4, 5, 6]); // two samples, teacher order [x, y, z]
  const ds = ["a", "b", "c"];
  // Generic HF names (class_0...) only need the same count.
  assertEquals(
    alignTeacherColumns(logits, ["class_0", "class_1", "class_2"], ds, undefined, "t"),
    logits,
  );
  assertThrows(
    () => alignTeacherColumns(logits, ["class_0", "class_1"], ds, undefined, "t"),
    UserError,
    "2 classes",
  );
  // Same names in the same order: unchanged.
  assertEquals(alignTeacherColumns(logits, ds, ds, undefined, "t"), logits);
  // Different names: refused without a map, reordered with one.
  assertThrows(
    () => alignTeacherColumns(logits, ["x", "y", "z"], ds, undefined, "t"),
    UserError,
    "--label-map",
  );
  const mapped = alignTeacherColumns(logits, ["x", "y", "z"], ds, { x: "c", y: "a", z: "b" }, "t");
  assertEquals([...mapped], [2, 3, 1, 5, 6, 4]);
  // A key naming no teacher class is a typo, not a no-op (it was ignored, yet recorded).
  assertThrows(
    () => alignTeacherColumns(logits, ds, ds, { foo: "bar" }, "t"),
    UserError,
    "--label-map: foo is not among teacher t's classes [a, b, c]",
  );
  assertThrows(
    () => alignTeacherColumns(logits, ["x", "y", "z"], ds, { x: "c", y: "a", w: "b" }, "t"),
    UserError,
    "w is not among",
  );
});

test("augmented distillation runs the teacher online on the same views (consistent teaching)", async () => {
  const dir = await Deno.makeTempDir();
  const teacher = await saveRandomStudent(dir, "teacher");
  const cache = join(dir, "cache");
  Deno.env.set("KD_CACHE_DIR", cache);
  try {
    const summary = await train({
      ...presetRecipe("smoke"),
      maxImages: 16,
      batchSize: 8,
      epochs: 1,
      augment: "crop,flip",
      student: "mobilenet_v2@0.35",
      teacher: `dir:${teacher}`,
      data: DATA,
      trainSplit: "train",
      valSplit: "validation",
      seed: 0,
    }, { out: join(dir, "run"), quiet: true });
    assert(summary.validation.agreement !== null);
    // Only the validation logits were cached: training views are random, so never cached.
    const entries = [...Deno.readDirSync(join(cache, "teacher-logits"))];
    assertEquals(entries.length, 1);
  } finally {
    Deno.env.delete("KD_CACHE_DIR");
    await Deno.remove(dir, { recursive: true });
  }
});
