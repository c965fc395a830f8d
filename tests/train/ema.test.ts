import { test } from "../permissions.ts";
import { assert, assertAlmostEquals, assertEquals, assertRejects } from "@std/assert";
import { join } from "node:path";
import * as tf from "../../lib/tf.ts";
import { train, type TrainConfig } from "../../lib/train.ts";
import { WeightEma } from "../../lib/train/ema.ts";
import { initBackend } from "../../lib/backend.ts";
import { createModel } from "../../lib/models/registry.ts";
import { UserError } from "../../lib/core/errors.ts";
import { runMetrics, tinyConfig } from "../helpers.ts";

test("weight average: warm-up decay, swap puts raw weights back", async () => {
  await initBackend(undefined, { quiet: true });
  const model = await createModel("mobilenet_v2@0.35", { numLabels: 3, imageSize: 32, seed: 1 });
  const [name, w] = [...model.stateVariables()][0];
  const w0 = (await w.data())[0];
  const ema = new WeightEma(model, 0.9);
  w.assign(tf.add(w, 1));
  ema.update(0); // decay min(0.9, 1/10) = 0.1: average = 0.1·w0 + 0.9·(w0 + 1)
  const avg = (await ema.state().get(`ema/${name}`)!.data())[0];
  assertAlmostEquals(avg, w0 + 0.9, 1e-5);
  await ema.withAverage(async () => assertAlmostEquals((await w.data())[0], w0 + 0.9, 1e-5));
  assertAlmostEquals((await w.data())[0], w0 + 1, 1e-5);
  ema.dispose();
  model.dispose();
});

function config(ema: number): TrainConfig {
  return tinyConfig({ epochs: 3, ema });
}

test("a run with a weight average resumes to the same result as an uninterrupted one", async () => {
  await initBackend(undefined, { quiet: true });
  const tmp = await Deno.makeTempDir({ prefix: "kd-ema-" });
  const whole = join(tmp, "whole"), cut = join(tmp, "cut"), raw = join(tmp, "raw");
  const a = await train(config(0.5), { out: whole, quiet: true });
  // Interrupted at the first step of epoch 3 (2 steps per epoch), then resumed.
  await assertRejects(() => train(config(0.5), { out: cut, quiet: true, nanAtStep: 5 }), UserError);
  const b = await train(config(0.5), { out: cut, quiet: true, resume: true });
  assertEquals(b.validation, a.validation);
  const lines = runMetrics;
  assertEquals(await lines(cut), await lines(whole));
  // The average is what gets validated: without it the same seed validates other weights.
  await train(config(0), { out: raw, quiet: true });
  const withAvg = (await lines(whole)).map((r) => (r as { val_loss: number }).val_loss);
  const without = (await lines(raw)).map((r) => (r as { val_loss: number }).val_loss);
  assert(withAvg.some((v, i) => Math.abs(v - without[i]) > 1e-6), "the average changed nothing");
  await Deno.remove(tmp, { recursive: true });
});
