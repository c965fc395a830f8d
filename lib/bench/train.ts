/**
 * `deno task bench train [--backend B] [--size S] [--batch N] [--width W] [--steps K] [--json]
 * [--vs-torch] [--write|--no-write]`: median images/s of full MobileNetV2 training steps
 * (forward, distillation loss against precomputed teacher logits, backward, AdamW) after warm-up.
 * `--vs-torch` times the same configuration in PyTorch (`lib/bench/torch_train.py`) in the same
 * run and records the row in BENCHMARKS.md (`--write` records a run without PyTorch).
 * `--modes scratch,cached,online` (default: all three) also times a scratch step (cross-entropy
 * only) and a distilled step without the logit cache, where the teacher (`--teacher SPEC`,
 * default the teachers' backbone, env `KD_BACKBONE` else the hub's ImageNet MobileNetV2, at
 * 224 px) runs forward on every batch.
 * @module
 */
import * as tf from "../tf.ts";
import { parseArgs } from "@std/cli";
import { initBackend } from "../backend.ts";
import { UserError } from "../core/errors.ts";
import { distillationLoss } from "../loss.ts";
import { createOptimizer } from "../optim.ts";
import { MobileNetV2 } from "../models/mobilenet_v2.ts";
import type { Classifier } from "../models/model.ts";
import { createModel } from "../models/registry.ts";
import { backboneSpec } from "../teacher/backbone.ts";

/** What a timed step includes: no teacher, cached teacher logits, or a teacher forward pass. */
export type StepMode = "scratch" | "cached" | "online";
const MODES: StepMode[] = ["scratch", "cached", "online"];

/** One benchmark result (the `--json` line). */
export interface TrainBenchResult {
  backend: string;
  size: number;
  batch: number;
  width: number;
  img_per_s: number;
  /** img/s per step mode (scratch, distilled with cached logits, distilled with online teacher). */
  modes?: Partial<Record<StepMode, number>>;
  torch_img_per_s?: number;
  ratio_vs_torch?: number;
}

function positive(flag: string, v: string, integer = true): number {
  const n = Number(v);
  if (!(Number.isFinite(n) && n > 0 && (!integer || Number.isInteger(n)))) {
    throw new UserError(
      `--${flag} must be a positive ${integer ? "integer" : "number"}, got "${v}"`,
    );
  }
  return n;
}

/** Median of a non-empty list. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Time `steps` training steps after `warmup`; returns the per-step seconds. */
export async function timeTrainingSteps(
  o: { size: number; batch: number; width: number; steps: number; warmup: number },
  onStep?: (i: number, seconds: number) => void,
  mode: StepMode = "cached",
  onlineTeacher?: Classifier,
): Promise<number[]> {
  const model = new MobileNetV2({
    numLabels: 3,
    imageSize: o.size,
    depthMultiplier: o.width,
    seed: 0,
  });
  const params = model.trainableVariables();
  const optimizer = createOptimizer(params, { name: "adamw", weightDecay: 0.01 });
  const byId = new Map([...params].map(([name, v]) => [v.name, name]));
  const x = tf.randomNormal([o.batch, o.size, o.size, 3], 0, 1, "float32", 1) as tf.Tensor4D;
  const teacher = tf.randomNormal([o.batch, 3], 0, 3, "float32", 2) as tf.Tensor2D;
  const labels = tf.tensor1d(Array.from({ length: o.batch }, (_, i) => i % 3), "int32");
  const ts = onlineTeacher?.input.size ?? o.size;
  const teacherX = mode === "online"
    ? tf.randomNormal([o.batch, ts, ts, 3], 0, 1, "float32", 3) as tf.Tensor4D
    : null;
  const times: number[] = [];
  try {
    for (let i = 0; i < o.warmup + o.steps; i++) {
      const t0 = performance.now();
      const target = mode === "scratch"
        ? null
        : mode === "online"
        ? tf.tidy(() => onlineTeacher!.apply(teacherX!, { training: false }))
        : teacher;
      const { value, grads } = tf.variableGrads(() => {
        const logits = model.apply(x, { training: true });
        return distillationLoss(logits, target, labels, { temperature: 2, lambda: 0.5 }).total;
      }, [...params.values()]);
      if (target && target !== teacher) target.dispose();
      const loss = (await value.data())[0];
      const named: Record<string, tf.Tensor> = {};
      for (const [id, g] of Object.entries(grads)) named[byId.get(id) ?? id] = g;
      optimizer.step(named, 1e-4);
      tf.dispose([value, ...Object.values(grads)]);
      if (!Number.isFinite(loss)) throw new Error(`training step ${i} produced loss ${loss}`);
      const dt = (performance.now() - t0) / 1000;
      if (i >= o.warmup) times.push(dt);
      onStep?.(i, dt);
    }
  } finally {
    tf.dispose([x, teacher, labels]);
    teacherX?.dispose();
    optimizer.dispose();
    model.dispose();
  }
  return times;
}

/** Run `lib/bench/torch_train.py`; undefined (with a note on stderr) where PyTorch is unavailable. */
export async function torchImagesPerSecond(
  o: { size: number; batch: number; width: number; steps: number; warmup: number },
): Promise<number | undefined> {
  const python = "/usr/bin/python3";
  const probe = async () => {
    try {
      const r = await new Deno.Command(python, { args: ["-c", "import torch"], stderr: "null" })
        .output();
      return r.success;
    } catch {
      return false;
    }
  };
  if (!(await probe())) {
    if (Deno.uid() === 0) {
      console.error("bench: installing python3-torch with apt-get for --vs-torch ...");
      const env = { DEBIAN_FRONTEND: "noninteractive" };
      await new Deno.Command("apt-get", { args: ["update", "-qq"], env, stdout: "null" }).output()
        .catch(() => undefined);
      await new Deno.Command("apt-get", {
        args: ["install", "-y", "-qq", "python3-torch"],
        env,
        stdout: "null",
      }).output().catch(() => undefined);
    }
    if (!(await probe())) {
      console.error(
        "bench: --vs-torch skipped: /usr/bin/python3 with torch (python3-torch) unavailable",
      );
      return undefined;
    }
  }
  const script = new URL("./torch_train.py", import.meta.url).pathname;
  // PyTorch inherits our environment, including the OMP_WAIT_POLICY=passive the native backend
  // sets: with other processes on the cores, libgomp's default spinning made PyTorch ~35× slower.
  const r = await new Deno.Command(python, {
    args: [
      script,
      `--size=${o.size}`,
      `--batch=${o.batch}`,
      `--width=${o.width}`,
      `--steps=${o.steps}`,
      `--warmup=${o.warmup}`,
      "--threads=2",
    ],
    stderr: "inherit",
  }).output();
  if (!r.success) {
    console.error("bench: PyTorch run failed; no comparison");
    return undefined;
  }
  const lines = new TextDecoder().decode(r.stdout).trim().split("\n");
  return JSON.parse(lines[lines.length - 1]).img_per_s;
}

function machine(): string {
  let cpu = "unknown CPU";
  try {
    const m = Deno.readTextFileSync("/proc/cpuinfo").match(/model name\s*:\s*(.+)/);
    if (m) cpu = m[1].trim();
  } catch { /* not Linux */ }
  const load = Deno.loadavg()[0].toFixed(2);
  return `${cpu}, ${navigator.hardwareConcurrency} cores, load ${load}`;
}

const HEADER =
  "| date | machine | backend | size | batch | width | img/s | PyTorch img/s | ratio |";

/** Insert or replace this configuration's row in BENCHMARKS.md's training table. */
export async function recordResult(r: TrainBenchResult, file: URL): Promise<void> {
  let text = "";
  try {
    text = await Deno.readTextFile(file);
  } catch {
    text = "# Benchmarks\n";
  }
  const start = "<!-- bench-train:start -->", end = "<!-- bench-train:end -->";
  let rows: string[] = [];
  const i = text.indexOf(start), j = text.indexOf(end);
  if (i >= 0 && j > i) {
    rows = text.slice(i + start.length, j).trim().split("\n").filter((l) => l.startsWith("| 2"));
  }
  // Rows are matched by their cells, since `deno fmt` pads the columns.
  const cells = (l: string) => l.split("|").slice(1, -1).map((c) => c.trim());
  const config = [r.backend, String(r.size), String(r.batch), String(r.width)];
  rows = rows.filter((l) => cells(l).slice(2, 6).join("|") !== config.join("|"));
  const date = new Date().toISOString().slice(0, 16).replace("T", " ");
  const fmt = (v?: number) => v === undefined ? "–" : v.toFixed(v < 10 ? 2 : 1);
  const ratio = r.ratio_vs_torch === undefined ? "–" : r.ratio_vs_torch.toFixed(2) + "×";
  rows.push(
    `| ${
      [date, machine(), ...config, fmt(r.img_per_s), fmt(r.torch_img_per_s), ratio].join(" | ")
    } |`,
  );
  rows.sort((a, b) => cells(a).slice(2).join("|").localeCompare(cells(b).slice(2).join("|")));
  const table = [
    start,
    "## Training throughput (`deno task bench train`)",
    "",
    "MobileNetV2 (3 classes), full training step: forward, distillation loss, backward, AdamW.",
    "",
    HEADER,
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ...rows,
    end,
  ].join("\n");
  text = i >= 0 && j > i
    ? text.slice(0, i) + table + text.slice(j + end.length)
    : text.trimEnd() + "\n\n" + table + "\n";
  await Deno.writeTextFile(file, text);
  // Align the table the way `deno fmt` would, so `deno task check` stays clean.
  await new Deno.Command(Deno.execPath(), { args: ["fmt", "-q", file.pathname], stderr: "null" })
    .output().catch(() => undefined);
}

/** Entry point of `deno task bench train` (user errors print as one line). */
export async function main(args: string[]): Promise<void> {
  await run(args);
}

async function run(args: string[]): Promise<void> {
  const a = parseArgs(args, {
    string: ["backend", "size", "batch", "width", "steps", "warmup", "modes", "teacher"],
    boolean: ["json", "vs-torch", "write", "no-write"],
    default: {
      size: "96",
      batch: "32",
      width: "1",
      steps: "5",
      warmup: "2",
      modes: MODES.join(","),
    },
  });
  const modes = String(a.modes).split(",").map((m) => m.trim()) as StepMode[];
  for (const m of modes) {
    if (!MODES.includes(m)) {
      throw new UserError(`--modes: unknown mode "${m}"; expected ${MODES.join(", ")}`);
    }
  }
  const o = {
    size: positive("size", String(a.size)),
    batch: positive("batch", String(a.batch)),
    width: positive("width", String(a.width), false),
    steps: positive("steps", String(a.steps)),
    warmup: Number(a.warmup),
  };
  const choice = await initBackend(
    (a.backend as string | undefined) ?? Deno.env.get("KD_BACKEND") ?? "auto",
  );
  const total = o.warmup + o.steps;
  console.error(
    `bench train: MobileNetV2 width ${o.width}, ${o.size}px, batch ${o.batch}, ${o.warmup} warm-up + ${o.steps} timed steps`,
  );
  const times = await timeTrainingSteps(o, (i, dt) => {
    console.error(
      `  step ${i + 1}/${total}${i < o.warmup ? " (warm-up)" : ""}: ${dt.toFixed(2)} s, ${
        (o.batch / dt).toFixed(1)
      } img/s`,
    );
  });
  const result: TrainBenchResult = {
    backend: choice.name,
    size: o.size,
    batch: o.batch,
    width: o.width,
    img_per_s: o.batch / median(times),
    modes: { cached: o.batch / median(times) },
  };
  console.error(`${choice.name}: ${result.img_per_s.toFixed(1)} img/s (median)`);
  for (const mode of modes.filter((m) => m !== "cached")) {
    const teacherSpec = (a.teacher as string | undefined) ?? backboneSpec();
    const teacher = mode === "online"
      ? await createModel(teacherSpec, { numLabels: 3, quiet: true, reinitHead: true })
      : undefined;
    const t = await timeTrainingSteps(o, undefined, mode, teacher);
    teacher?.dispose();
    result.modes![mode] = o.batch / median(t);
  }
  if (modes.length > 1 || !modes.includes("cached")) {
    const label: Record<StepMode, string> = {
      scratch: "scratch (cross-entropy only)",
      cached: "distilled, teacher logits from the cache",
      online: `distilled, teacher forward every step (${
        (a.teacher as string) ?? "ImageNet MobileNetV2 @224"
      })`,
    };
    for (const m of MODES) {
      const v = result.modes![m];
      if (v !== undefined) console.error(`  ${label[m]}: ${v.toFixed(1)} img/s`);
    }
  }
  if (a["vs-torch"]) {
    const torch = await torchImagesPerSecond(o);
    if (torch !== undefined) {
      result.torch_img_per_s = torch;
      result.ratio_vs_torch = result.img_per_s / torch;
      console.error(
        `PyTorch (2 threads, channels_last): ${torch.toFixed(1)} img/s; ratio ${
          result.ratio_vs_torch.toFixed(2)
        }×`,
      );
    }
  }
  // Only comparisons of record update BENCHMARKS.md: quick runs must not replace those rows.
  if ((a["vs-torch"] || a.write) && !a["no-write"]) {
    await recordResult(result, new URL("../../BENCHMARKS.md", import.meta.url));
  }
  if (a.json) console.log(JSON.stringify(result));
}
