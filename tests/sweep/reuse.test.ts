import { test } from "../permissions.ts";
import { assertEquals, assertRejects } from "@std/assert";
import { join } from "node:path";
import { copyFinishedRun, finishedTwin, REUSED_FROM_FILE } from "../../lib/sweep/reuse.ts";
import type { RunEntry } from "../../lib/sweep/types.ts";
import type { TrainConfig } from "../../lib/train.ts";

const run = (id: string, kind: "scratch" | "distill", config: Partial<TrainConfig>): RunEntry => ({
  id,
  stage: "screen",
  kind,
  teacher: kind === "distill" ? "t" : null,
  temperature: kind === "distill" ? 5 : null,
  lambda: kind === "distill" ? 0.5 : null,
  seed: config.seed ?? 0,
  config: config as TrainConfig,
});

test("finishedTwin: a finished scratch run with the same config, keys in any order", async () => {
  const a = run("scratch-today-s0", "scratch", { seed: 0, lr: 2e-3, epochs: 10 });
  const b = run("scratch-dkd-s0", "scratch", { epochs: 10, lr: 2e-3, seed: 0 });
  const otherSeed = run("scratch-dkd-s1", "scratch", { seed: 1, lr: 2e-3, epochs: 10 });
  const augmented = run("scratch-views-s0", "scratch", {
    seed: 0,
    lr: 2e-3,
    epochs: 10,
    augment: "flip",
  });
  const done = () => Promise.resolve(true);
  assertEquals((await finishedTwin(b, [a, b], done))?.id, a.id);
  assertEquals(await finishedTwin(b, [a, b], (r) => Promise.resolve(r.id !== a.id)), undefined);
  assertEquals(await finishedTwin(otherSeed, [a, otherSeed], done), undefined);
  assertEquals(await finishedTwin(augmented, [a, augmented], done), undefined);
  // Distilled runs are never copied, even from an identical config.
  const d = run("kd-t-today-T5-l0.5-s0", "distill", { seed: 0, lr: 2e-3, epochs: 10 });
  assertEquals(await finishedTwin(d, [a, d], done), undefined);
});

test("copyFinishedRun: the whole folder, its source recorded, never over an existing one", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const src = join(dir, "runs", "a");
    await Deno.mkdir(join(src, "checkpoint"), { recursive: true });
    await Deno.writeTextFile(join(src, "final.json"), '{"x":1}');
    await Deno.writeTextFile(join(src, "checkpoint", "trainer.json"), "{}");
    const out = join(dir, "runs", "b");
    await copyFinishedRun(src, out, "a", dir);
    assertEquals(await Deno.readTextFile(join(out, "final.json")), '{"x":1}');
    assertEquals(await Deno.readTextFile(join(out, "checkpoint", "trainer.json")), "{}");
    assertEquals(JSON.parse(await Deno.readTextFile(join(out, REUSED_FROM_FILE))).run, "a");
    // Nothing left beside the runs.
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), ["runs"]);
    await assertRejects(() => copyFinishedRun(src, out, "a", dir), Error, "exists");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
