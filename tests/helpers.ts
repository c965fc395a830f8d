/**
 * Test helpers: the beans folder the tests read, small saved models, a random tfjs backbone.
 * @module
 */
import { join } from "node:path";
import { initBackend } from "../lib/backend.ts";
import { createModel } from "../lib/models/registry.ts";
import { saveModel } from "../lib/models/checkpoint.ts";
import { BEANS_MINI, committedFixture } from "./fixture_paths.ts";
import { setting } from "./permissions.ts";
import { mulberry32 } from "../lib/core/rng.ts";
import { presetRecipe } from "../lib/presets.ts";
import type { TrainConfig } from "../lib/train.ts";

/** The beans data the tests train and evaluate on: the committed subset (`tests/fixtures/beans`). */
export const TEST_DATA: string = BEANS_MINI;

/** Save a random-weight beans MobileNetV2 (width 0.35, `size` px) under `dir/name`; returns its path. */
export async function saveRandomStudent(dir: string, name = "model", size = 32): Promise<string> {
  await initBackend(undefined, { quiet: true });
  const m = await createModel("mobilenet_v2@0.35", {
    numLabels: 3,
    labels: ["angular_leaf_spot", "bean_rust", "healthy"],
    imageSize: size,
    seed: 1,
  });
  await saveModel(m, join(dir, name));
  m.dispose();
  return join(dir, name);
}

let tfjsBackboneDir: Promise<string> | undefined;

/**
 * A tfjs LayersModel with the ImageNet MobileNetV2's topology (the committed
 * `tests/fixtures/mobilenet_v2_tfjs/model.json`) and seeded He-normal random weights, written
 * once per process to a temporary folder; `KD_PRETRAINED_DIR` (the real pretrained weights)
 * replaces it where set. The tests that use it check mechanisms (loading, shapes, costs,
 * features, saving), not ImageNet quality, so random weights exercise the same code.
 */
export function tfjsBackbone(): Promise<string> {
  const real = setting("KD_PRETRAINED_DIR");
  if (real) return Promise.resolve(real);
  return tfjsBackboneDir ??= (async () => {
    const src = committedFixture("mobilenet_v2_tfjs/model.json");
    const model = JSON.parse(await Deno.readTextFile(src));
    const specs: { name: string; shape: number[] }[] = model.weightsManifest[0].weights;
    const rng = mulberry32(7);
    const gauss = () => Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
    const parts = specs.map(({ name, shape }) => {
      const n = shape.reduce((a, b) => a * b, 1);
      const v = new Float32Array(n);
      if (!name.endsWith("/bias")) {
        // fan-in of a [kh, kw, in, out] kernel; a depthwise kernel sees one channel.
        const fanIn = name.endsWith("depthwise_kernel") ? shape[0] * shape[1] : n / shape[3];
        const std = Math.sqrt(2 / fanIn);
        for (let i = 0; i < n; i++) v[i] = gauss() * std;
      }
      return new Uint8Array(v.buffer);
    });
    const dir = await Deno.makeTempDir({ prefix: "kd-tfjs-mnv2-" });
    const bytes = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
    parts.reduce((off, p) => (bytes.set(p, off), off + p.length), 0);
    await Deno.writeFile(join(dir, model.weightsManifest[0].paths[0]), bytes);
    await Deno.writeTextFile(join(dir, "model.json"), JSON.stringify(model));
    return dir;
  })();
}

/**
 * A copy of the tfjs model folder `src` under `dir/model` whose `model.json` lists its weights
 * files by `listed(name)` (e.g. `../elsewhere/NAME`: the files themselves are copied to
 * `dir/elsewhere/`, so a reader that follows such paths loads the model); returns `dir/model`.
 */
export async function tfjsWithWeightsAt(
  src: string,
  dir: string,
  listed: (name: string) => string,
): Promise<string> {
  const model = JSON.parse(await Deno.readTextFile(join(src, "model.json")));
  await Deno.mkdir(join(dir, "model"), { recursive: true });
  await Deno.mkdir(join(dir, "elsewhere"), { recursive: true });
  for (const group of model.weightsManifest) {
    for (const name of group.paths) {
      await Deno.copyFile(join(src, name), join(dir, "elsewhere", name));
    }
    group.paths = group.paths.map(listed);
  }
  await Deno.writeTextFile(join(dir, "model", "model.json"), JSON.stringify(model));
  return join(dir, "model");
}

/** A run's `metrics.jsonl` without its wall-clock fields, which legitimately differ between runs. */
export async function runMetrics(dir: string): Promise<Record<string, unknown>[]> {
  const lines = (await Deno.readTextFile(join(dir, "metrics.jsonl"))).trim().split("\n");
  return lines.map((l) => {
    const { epoch_time_s: _t, img_per_s: _r, ...rest } = JSON.parse(l);
    return rest;
  });
}

/**
 * SIGKILL the training process `p` as soon as its run folder `out` has checkpointed epoch 1 or
 * later (polling `checkpoint/trainer.json`); asserts that the kill came before the run finished
 * and returns the checkpointed epoch at the kill.
 */
export async function killAfterFirstEpoch(p: Deno.ChildProcess, out: string): Promise<number> {
  const ckpt = join(out, "checkpoint", "trainer.json");
  for (let i = 0; i < 2400; i++) {
    try {
      if (JSON.parse(await Deno.readTextFile(ckpt)).epoch >= 1) break;
    } catch { /* not written yet */ }
    await new Promise((r) => setTimeout(r, 25));
  }
  p.kill("SIGKILL");
  const status = await p.status;
  await p.stdout.cancel();
  await p.stderr.cancel();
  if (status.success) throw new Error("the run finished before it could be killed");
  return JSON.parse(await Deno.readTextFile(ckpt)).epoch;
}

/**
 * The smallest real training run: a scratch width-0.35 student on 16 images, batch 8 (2 steps per
 * epoch), seed 0, the `smoke` preset's other settings; `overrides` on top.
 */
export function tinyConfig(overrides: Partial<TrainConfig> = {}): TrainConfig {
  return {
    ...presetRecipe("smoke"),
    maxImages: 16,
    batchSize: 8,
    student: "mobilenet_v2@0.35",
    teacher: null,
    data: TEST_DATA,
    trainSplit: "train",
    valSplit: "validation",
    seed: 0,
    ...overrides,
  };
}
