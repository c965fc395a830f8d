/**
 * `deno task bench gpu [--size S] [--batch N] [--steps K]`: the WebGPU check for a machine with
 * a GPU. Reports the adapter, runs the conv kernel parity checks on `webgpu` against `cpu`, times
 * MobileNetV2 training steps on `webgpu`, and prints one JSON line (last line of stdout).
 * @module
 */
import * as tf from "../tf.ts";
import { parseArgs } from "@std/cli";
import { initBackend, probeWebGPU } from "../backend.ts";
import { UserError } from "../core/errors.ts";
import { convParity } from "../backends/parity.ts";
import { median, timeTrainingSteps } from "./train.ts";

/** Entry point of `deno task bench gpu`. */
export async function main(args: string[]): Promise<void> {
  await run(args);
}

async function run(args: string[]): Promise<void> {
  const a = parseArgs(args, {
    string: ["size", "batch", "steps"],
    default: { size: "96", batch: "16", steps: "3" },
  });
  const num = (flag: string) => {
    const n = Number(a[flag]);
    if (!(Number.isInteger(n) && n > 0)) {
      throw new UserError(`--${flag} must be a positive integer, got "${a[flag]}"`);
    }
    return n;
  };
  const o = { size: num("size"), batch: num("batch"), width: 1, steps: num("steps"), warmup: 1 };
  let adapter = "none", hardware = false;
  try {
    adapter = (await probeWebGPU()).description;
    hardware = true;
  } catch (e) {
    adapter = (e as Error).message;
  }
  console.error(`WebGPU adapter: ${adapter}${hardware ? "" : " (not a hardware GPU)"}`);
  const choice = await initBackend("webgpu");
  const parity = await convParity("webgpu");
  const worst = parity.reduce((m, p) => Math.max(m, p.maxAbsDiff), 0);
  const failed = parity.filter((p) => !(p.maxAbsDiff <= 1e-4));
  for (const f of failed) console.error(`parity FAIL ${f.kernel} ${f.case}: ${f.maxAbsDiff}`);
  console.error(`parity: ${parity.length - failed.length}/${parity.length} kernels within 1e-4`);
  await tf.setBackend("webgpu");
  const times = await timeTrainingSteps(o, (i, dt) => {
    console.error(`  step ${i + 1}/${o.warmup + o.steps}: ${dt.toFixed(2)} s`);
  });
  const result = {
    backend: choice.name,
    adapter,
    hardware_gpu: hardware,
    parity_checked: parity.length,
    parity_failed: failed.length,
    parity_max_abs_diff: worst,
    size: o.size,
    batch: o.batch,
    img_per_s: o.batch / median(times),
  };
  console.log(JSON.stringify(result));
  if (failed.length) Deno.exitCode = 1;
}
