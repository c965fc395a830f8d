/**
 * The one-script check for a machine with a GPU: reports the WebGPU adapter, runs the conv kernel
 * parity checks on `webgpu` against `cpu`, and times MobileNetV2 training steps on `webgpu`.
 * @module
 */
import * as tf from "../tf.ts";
import { initBackend, probeWebGPU } from "../backend.ts";
import { convParity } from "../backends/parity.ts";
import { median, timeTrainingSteps } from "./train.ts";

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
  const timing = { size: o.imageSize, batch: o.batchSize, width: 1, steps: o.steps, warmup: 1 };
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
  // The trainer's own step (it reads asynchronously, as webgpu in Deno requires).
  const times = await timeTrainingSteps(timing, (i, dt) => {
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
