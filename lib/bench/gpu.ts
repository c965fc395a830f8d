/**
 * The one-script check for a machine with a GPU: reports the WebGPU adapter, runs the conv kernel
 * parity checks on `webgpu` against `cpu`, and times MobileNetV2 training steps on `webgpu`.
 * @module
 */
import * as tf from "../tf.ts";
import { initBackend, probeWebGPU } from "../backend.ts";
import { convParity } from "../backends/parity.ts";
import { median } from "./train.ts";
import { MobileNetV2 } from "../models/mobilenet_v2.ts";
import { createOptimizer } from "../optim.ts";
import { distillationLoss } from "../loss.ts";

/**
 * Seconds per training step on the active backend, reading results asynchronously: the trainer's
 * step reads its losses with `dataSync`, which webgpu in Deno cannot do (no canvas), so this
 * check runs the same forward/loss/backward/AdamW with `await data()`.
 */
async function timeAsyncSteps(
  o: { size: number; batch: number; steps: number; warmup: number },
  onStep: (i: number, seconds: number) => void,
): Promise<number[]> {
  const model = new MobileNetV2({ numLabels: 3, imageSize: o.size, seed: 0 });
  const params = model.trainableVariables();
  const optimizer = createOptimizer(params, { name: "adamw", weightDecay: 0.05 });
  const byId = new Map([...params].map(([name, v]) => [v.name, name]));
  const x = tf.randomNormal([o.batch, o.size, o.size, 3], 0, 1, "float32", 1) as tf.Tensor4D;
  const teacher = tf.randomNormal([o.batch, 3], 0, 3, "float32", 2) as tf.Tensor2D;
  const labels = tf.tensor1d(Array.from({ length: o.batch }, (_, i) => i % 3), "int32");
  const times: number[] = [];
  try {
    for (let i = 0; i < o.warmup + o.steps; i++) {
      const t0 = performance.now();
      const { value, grads } = tf.variableGrads(
        () =>
          distillationLoss(model.apply(x, { training: true }), teacher, labels, {
            temperature: 5,
            lambda: 0.5,
          }).total,
        [...params.values()],
      );
      const loss = (await value.data())[0];
      const named: Record<string, tf.Tensor> = {};
      for (const [id, g] of Object.entries(grads)) named[byId.get(id) ?? id] = g;
      optimizer.step(named, 1e-3);
      tf.dispose([value, ...Object.values(grads)]);
      if (!Number.isFinite(loss)) throw new Error(`training step ${i} produced loss ${loss}`);
      const dt = (performance.now() - t0) / 1000;
      if (i >= o.warmup) times.push(dt);
      onStep(i, dt);
    }
  } finally {
    tf.dispose([x, teacher, labels]);
    optimizer.dispose();
    model.dispose();
  }
  return times;
}

/** Settings of {@linkcode benchGpu}. */
export interface GpuBenchOptions {
  imageSize: number;
  batchSize: number;
  steps: number;
  log?: (message: string) => void;
}

/** The JSON result; `parity_failed > 0` means the GPU kernels disagree with `cpu`. */
export interface GpuBenchResult {
  backend: string;
  adapter: string;
  hardware_gpu: boolean;
  parity_checked: number;
  parity_failed: number;
  parity_max_abs_diff: number;
  size: number;
  batch: number;
  img_per_s: number;
}

/** Run the GPU check (initialises the `webgpu` backend; software adapters are allowed). */
export async function benchGpu(o: GpuBenchOptions): Promise<GpuBenchResult> {
  const log = o.log ?? ((m: string) => console.error(m));
  const timing = { size: o.imageSize, batch: o.batchSize, steps: o.steps, warmup: 1 };
  let adapter = "none", hardware = false;
  try {
    adapter = (await probeWebGPU()).description;
    hardware = true;
  } catch (e) {
    adapter = (e as Error).message;
  }
  log(`WebGPU adapter: ${adapter}${hardware ? "" : " (not a hardware GPU)"}`);
  const choice = await initBackend("webgpu");
  const parity = await convParity("webgpu");
  const worst = parity.reduce((m, p) => Math.max(m, p.maxAbsDiff), 0);
  const failed = parity.filter((p) => !(p.maxAbsDiff <= 1e-4));
  for (const f of failed) log(`parity FAIL ${f.kernel} ${f.case}: ${f.maxAbsDiff}`);
  log(`parity: ${parity.length - failed.length}/${parity.length} kernels within 1e-4`);
  await tf.setBackend("webgpu");
  const times = await timeAsyncSteps(timing, (i, dt) => {
    log(`  step ${i + 1}/${timing.warmup + timing.steps}: ${dt.toFixed(2)} s`);
  });
  return {
    backend: choice.name,
    adapter,
    hardware_gpu: hardware,
    parity_checked: parity.length,
    parity_failed: failed.length,
    parity_max_abs_diff: worst,
    size: o.imageSize,
    batch: o.batchSize,
    img_per_s: o.batchSize / median(times),
  };
}
