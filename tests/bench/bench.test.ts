import { test } from "../permissions.ts";
import { assert, assertEquals } from "@std/assert";
import { join } from "node:path";
import * as tf from "../../lib/tf.ts";
import { initBackend } from "../../lib/backend.ts";
import {
  benchTrain,
  medianRound,
  recordResult,
  type TrainBenchResult,
} from "../../lib/bench/train.ts";
import { benchModels, MODEL_BENCH_KEYS } from "../../lib/bench/models.ts";
import { torchAvailable, torchRun } from "../../lib/bench/torch.ts";

const quiet = () => {};

test("bench train times the trainer's step in every mode (tiny configuration)", async () => {
  const backend = await initBackend(undefined, { quiet: true });
  const r = await benchTrain({
    backend: backend.name,
    imageSize: 32,
    batchSize: 4,
    width: 0.35,
    steps: 1,
    warmup: 0,
    modes: ["scratch", "cached", "online"],
    teacher: "mobilenet_v2@0.35",
    log: quiet,
  });
  for (const m of ["scratch", "cached", "online"] as const) {
    assert(r.modes[m]! > 0, `${m}: ${r.modes[m]}`);
  }
  assertEquals(r.img_per_s, r.modes.cached);
  assertEquals(r.teacher, "mobilenet_v2@0.35");
});

test("bench train --kernel-times times kernels and restores them afterwards", async () => {
  const backend = await initBackend(undefined, { quiet: true });
  const before = tf.getKernel("Conv2D", tf.getBackend())!.kernelFunc;
  const r = await benchTrain({
    backend: backend.name,
    imageSize: 32,
    batchSize: 2,
    width: 0.35,
    steps: 1,
    warmup: 0,
    profile: true,
    log: quiet,
  });
  const kernels = Object.keys(r.kernels_ms_per_step ?? {});
  assert(kernels.length > 5, kernels.join(", "));
  assertEquals(tf.getKernel("Conv2D", tf.getBackend())!.kernelFunc, before);
});

test("bench train rows in BENCHMARKS.md are replaced per configuration", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = new URL(`file://${join(dir, "BENCHMARKS.md")}`);
    await Deno.writeTextFile(file, "# Benchmarks\n\nintro\n");
    const row = (img: number): TrainBenchResult => ({
      backend: "native",
      size: 96,
      batch: 32,
      width: 1,
      img_per_s: img,
      modes: { cached: img },
      torch: {
        best: { model: "torchvision", wait_policy: "active", img_per_s: 100 },
        runs: [{ model: "torchvision", wait_policy: "active", img_per_s: 100 }],
        torch: "1.13",
      },
      torch_img_per_s: 100,
      ratio_vs_torch: img / 100,
    });
    await recordResult(row(50), file);
    await recordResult(row(120), file);
    const text = await Deno.readTextFile(file);
    assert(text.startsWith("# Benchmarks\n\nintro\n"));
    const rows = text.split("\n").filter((l) => l.startsWith("| 2"));
    assertEquals(rows.length, 1, text);
    assert(rows[0].includes("120.0") && rows[0].includes("1.20×"), rows[0]);
    assert(rows[0].includes("torchvision active; hf –/–, torchvision –/100.0"), rows[0]);
    // Several rounds: the reported ratio and the range of all of them.
    await recordResult({ ...row(95), ratio_rounds: [0.92, 0.95, 1.02] }, file);
    const again = (await Deno.readTextFile(file)).split("\n").filter((l) => l.startsWith("| 2"));
    assertEquals(again.length, 1);
    assert(again[0].includes("0.95× (median of 3: 0.92–1.02)"), again[0]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

test("bench train --rounds reports the round with the median ratio", () => {
  const r = (ratio: number) => ({ ratio });
  assertEquals(medianRound([r(1.02), r(0.92), r(0.97)]).ratio, 0.97);
  assertEquals(medianRound([r(1.1), r(0.9)]).ratio, 0.9);
  assertEquals(medianRound([r(0.8)]).ratio, 0.8);
});

test("bench models reports every key (tiny batch, no ViT)", async () => {
  const backend = await initBackend(undefined, { quiet: true });
  const r = await benchModels({
    backend: backend.name,
    batchSize: 2,
    vitBatchSize: 1,
    iters: 1,
    noVit: true,
    teacher: "mobilenet_v2@0.35",
    log: quiet,
  });
  assertEquals(Object.keys(r.img_per_s).sort(), [...MODEL_BENCH_KEYS].sort());
  for (const k of MODEL_BENCH_KEYS) {
    if (k === "vit_b16_224") assertEquals(r.img_per_s[k], null);
    else assert(r.img_per_s[k]! > 0, `${k}: ${r.img_per_s[k]}`);
  }
  assertEquals(r.torch_img_per_s, undefined);
});

Deno.test({
  name: "the PyTorch reference runs one task (when PyTorch is installed)",
  ignore: !(await torchAvailable(quiet, { install: false })),
  fn: async () => {
    const r = await torchRun(
      { task: "infer", size: 32, batch: 2, width: 0.35, steps: 1, warmup: 0 },
      "hf",
      "passive",
    );
    assert(r && r.img_per_s > 0, JSON.stringify(r));
  },
});
