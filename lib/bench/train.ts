/**
 * Training throughput: the trainer's own step (`trainStep` from `lib/train/step.ts`: forward,
 * distillation loss, backward, gradient clipping, AdamW, with the `cpu-fast` recipe's settings)
 * on a MobileNetV2 student, median images/s after warm-up; optionally the PyTorch reference of
 * the same step (`torch.ts`), and the row this leaves in BENCHMARKS.md.
 * @module
 */
import * as tf from "../tf.ts";
import { MobileNetV2 } from "../models/mobilenet_v2.ts";
import type { Classifier } from "../models/model.ts";
import { createModel } from "../models/registry.ts";
import { createOptimizer } from "../optim.ts";
import { presetRecipe } from "../presets.ts";
import { cpuModel, cpuSignature, readCpuinfo } from "../provenance.ts";
import { stepModel, trainStep } from "../train/step.ts";
import { type TorchReference, torchReference } from "./torch.ts";
import { type KernelProfile, startKernelProfile } from "./profile.ts";

/** What a timed step includes: no teacher, cached teacher logits, or a teacher forward pass. */
export type StepMode = "scratch" | "cached" | "online";
/** Every step mode, in report order. */
export const STEP_MODES: StepMode[] = ["scratch", "cached", "online"];

/** The recipe whose loss, optimizer and clipping the benchmark step uses. */
export const BENCH_RECIPE = "cpu-fast";

/**
 * The default online teacher: our HF MobileNetV2, width 1.0, 1001 ImageNet labels, random
 * weights (an ImageNet MobileNetV2's shape and cost, no download).
 */
export const DEFAULT_TEACHER = "mobilenet_v2";

/** Settings of {@linkcode benchTrain}. */
export interface TrainBenchOptions {
  /** The backend in effect (for the record; the caller initialised it). */
  backend: string;
  imageSize: number;
  batchSize: number;
  width: number;
  steps: number;
  warmup: number;
  /** Step modes to time (`cached` is the headline number). */
  modes?: StepMode[];
  /** Online teacher spec (registry syntax; default {@linkcode DEFAULT_TEACHER}). */
  teacher?: string;
  /** Also time the PyTorch reference. */
  vsTorch?: boolean;
  /**
   * With `vsTorch`: how many times PyTorch's four runs and ours alternate (default 1). The
   * reported round is the one with the median ratio; every round's ratio is kept.
   */
  rounds?: number;
  /** Time every kernel during extra steps (ms per step in the result). */
  profile?: boolean;
  /** Progress lines (stderr by default). */
  log?: (message: string) => void;
}

/** One benchmark result (snake_case: it is printed as JSON). */
export interface TrainBenchResult {
  backend: string;
  size: number;
  batch: number;
  width: number;
  /**
   * Distilled step with cached teacher logits (the trainer's usual step); with PyTorch, the
   * better of two runs, one before and one after PyTorch's (each side its best).
   */
  img_per_s: number;
  /** With PyTorch: every run of ours, in order (one before PyTorch's, one after each round). */
  img_per_s_runs?: number[];
  /** With PyTorch: each round's ratio (our better run beside that round's PyTorch runs / its best). */
  ratio_rounds?: number[];
  /**
   * Images per second of this process's CPU time (all threads) over the timed steps: the work a
   * step costs, which other jobs on the cores barely move, unlike wall time (Linux only).
   */
  cpu_img_per_s?: number;
  /** img/s per step mode (scratch, distilled with cached logits, distilled with online teacher). */
  modes: Partial<Record<StepMode, number>>;
  teacher?: string;
  /** The fastest PyTorch run and every run behind it. */
  torch?: TorchReference;
  torch_img_per_s?: number;
  ratio_vs_torch?: number;
  /** With `online` among the modes: PyTorch's online step (teacher at 224 px) and our ratio to it. */
  torch_online?: TorchReference;
  ratio_online_vs_torch?: number;
  /** With `profile`: wall ms per step of each kernel (and how many calls), largest first. */
  kernels_ms_per_step?: Record<string, { ms: number; calls: number }>;
}

/** User + system CPU seconds of this process so far (undefined where /proc is absent). */
function processCpuSeconds(): number | undefined {
  try {
    // Fields after the command name: utime and stime are the 12th and 13th, in clock ticks
    // (USER_HZ, 100 on Linux).
    const f = Deno.readTextFileSync("/proc/self/stat").split(") ")[1].split(" ");
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return undefined;
  }
}

/** Median of a non-empty list. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The round with the median ratio (of an even count, the lower of the two middle ones). */
export function medianRound<T extends { ratio: number }>(rounds: T[]): T {
  return [...rounds].sort((a, b) => a.ratio - b.ratio)[(rounds.length - 1) >> 1];
}

/** Sizes of a timed run. */
export interface StepTiming {
  size: number;
  batch: number;
  width: number;
  steps: number;
  warmup: number;
}

/**
 * Seconds of each of `steps` training steps after `warmup` (the trainer's step on random data;
 * `online` runs `teacher` forward on every batch, its first three logits as the 3-class targets).
 */
export async function timeTrainingSteps(
  o: StepTiming,
  onStep?: (i: number, seconds: number) => void,
  mode: StepMode = "cached",
  teacher?: Classifier,
  profile?: (p: KernelProfile) => void,
): Promise<number[]> {
  const recipe = presetRecipe(BENCH_RECIPE);
  const model = new MobileNetV2({
    numLabels: 3,
    imageSize: o.size,
    depthMultiplier: o.width,
    seed: 0,
    ...recipe.studentOptions,
  });
  const optimizer = createOptimizer(model.trainableVariables(), recipe.optimizer);
  const bound = stepModel(model, optimizer);
  const x = tf.randomNormal([o.batch, o.size, o.size, 3], 0, 1, "float32", 1) as tf.Tensor4D;
  const cached = tf.randomNormal([o.batch, 3], 0, 3, "float32", 2) as tf.Tensor2D;
  const labels = tf.tensor1d(Array.from({ length: o.batch }, (_, i) => i % 3), "int32");
  const ts = teacher?.input.size ?? o.size;
  const teacherX = mode === "online"
    ? tf.randomNormal([o.batch, ts, ts, 3], 0, 1, "float32", 3) as tf.Tensor4D
    : null;
  const opts = {
    temperature: recipe.temperature,
    lambda: recipe.lambda,
    clipNorm: recipe.clipNorm,
  };
  const times: number[] = [];
  let stop: (() => KernelProfile) | undefined;
  try {
    for (let i = 0; i < o.warmup + o.steps; i++) {
      if (profile && i === o.warmup) stop = startKernelProfile();
      const t0 = performance.now();
      const target = mode === "scratch" ? null : mode === "online"
        ? tf.tidy(() => {
          const logits = teacher!.apply(teacherX!, { training: false });
          return tf.slice(logits, [0, 0], [o.batch, 3]) as tf.Tensor2D;
        })
        : cached;
      const loss = await trainStep(bound, { x, labels, teacher: target }, opts, recipe.lr);
      if (target && target !== cached) target.dispose();
      if (!Number.isFinite(loss.total)) {
        throw new Error(`training step ${i} produced loss ${loss.total}`);
      }
      const dt = (performance.now() - t0) / 1000;
      if (i >= o.warmup) times.push(dt);
      onStep?.(i, dt);
      // Yield so a timer-driven progress display (and Ctrl-C) get their turn.
      await Promise.resolve();
    }
  } finally {
    if (stop) profile!(stop());
    tf.dispose([x, cached, labels]);
    teacherX?.dispose();
    optimizer.dispose();
    model.dispose();
  }
  return times;
}

/** Load the online teacher `spec` (1001 labels where the spec builds a fresh head). */
export async function loadBenchTeacher(spec: string): Promise<Classifier> {
  const fresh = spec.startsWith("mobilenet_v2") || spec.startsWith("tfjs-dir:");
  return await createModel(spec, {
    numLabels: fresh ? 1001 : undefined,
    imageSize: 224,
    seed: 0,
    quiet: true,
  });
}

/** Time the trainer's step (see the module doc) and, with `vsTorch`, PyTorch's. */
export async function benchTrain(o: TrainBenchOptions): Promise<TrainBenchResult> {
  const log = o.log ?? ((m: string) => console.error(m));
  const modes = o.modes ?? ["cached"];
  const timing = {
    size: o.imageSize,
    batch: o.batchSize,
    width: o.width,
    steps: o.steps,
    warmup: o.warmup,
  };
  log(
    `bench train: MobileNetV2 width ${o.width}, ${o.imageSize}px, batch ${o.batchSize}, ` +
      `${o.warmup} warm-up + ${o.steps} timed steps (${BENCH_RECIPE} step: KD loss, clipping, AdamW)`,
  );
  const total = o.warmup + o.steps;
  // Without warm-up the count starts before the model is built (a little more CPU charged).
  let cpuAtWarm = o.warmup === 0 ? processCpuSeconds() : undefined, cpuAtEnd: number | undefined;
  const times = await timeTrainingSteps(timing, (i, dt) => {
    if (i === o.warmup - 1) cpuAtWarm = processCpuSeconds();
    if (i === total - 1) cpuAtEnd = processCpuSeconds();
    log(
      `  step ${i + 1}/${total}${i < o.warmup ? " (warm-up)" : ""}: ${dt.toFixed(2)} s, ${
        (o.batchSize / dt).toFixed(1)
      } img/s`,
    );
  });
  const imgPerS = o.batchSize / median(times);
  const result: TrainBenchResult = {
    backend: o.backend,
    size: o.imageSize,
    batch: o.batchSize,
    width: o.width,
    img_per_s: imgPerS,
    modes: { cached: imgPerS },
  };
  if (cpuAtWarm !== undefined && cpuAtEnd !== undefined && cpuAtEnd > cpuAtWarm) {
    result.cpu_img_per_s = (o.batchSize * o.steps) / (cpuAtEnd - cpuAtWarm);
  }
  log(
    `${o.backend}: ${imgPerS.toFixed(1)} img/s (median)` +
      (result.cpu_img_per_s ? `, ${result.cpu_img_per_s.toFixed(1)} img per CPU-second` : ""),
  );
  for (const mode of modes.filter((m) => m !== "cached")) {
    const spec = o.teacher ?? DEFAULT_TEACHER;
    const teacher = mode === "online" ? await loadBenchTeacher(spec) : undefined;
    if (teacher) result.teacher = spec;
    try {
      const t = await timeTrainingSteps(timing, undefined, mode, teacher);
      result.modes[mode] = o.batchSize / median(t);
    } finally {
      teacher?.dispose();
    }
    log(`  ${mode}: ${result.modes[mode]!.toFixed(1)} img/s`);
  }
  if (o.profile) {
    const steps = Math.max(o.steps, 1);
    let p: KernelProfile = {};
    await timeTrainingSteps(
      { ...timing, steps, warmup: 1 },
      undefined,
      "cached",
      undefined,
      (r) => {
        p = r;
      },
    );
    const rows = Object.entries(p).sort((a, b) => b[1].ms - a[1].ms);
    result.kernels_ms_per_step = Object.fromEntries(
      rows.map(([k, v]) => [k, { ms: v.ms / steps, calls: v.calls / steps }]),
    );
    for (const [k, v] of rows.slice(0, 12)) {
      log(`  ${k.padEnd(40)} ${(v.ms / steps).toFixed(1).padStart(8)} ms/step`);
    }
  }
  if (o.vsTorch) {
    const recipe = presetRecipe(BENCH_RECIPE);
    const task = {
      size: o.imageSize,
      batch: o.batchSize,
      width: o.width,
      steps: o.steps,
      warmup: o.warmup,
      temperature: recipe.temperature,
      lambda: recipe.lambda,
      lr: recipe.lr,
      weightDecay: recipe.optimizer.weightDecay ?? 0,
      clipNorm: recipe.clipNorm,
    };
    if (result.modes.online !== undefined) {
      const online = await torchReference(
        { ...task, task: "train-online", teacherSize: 224 },
        ["hf", "torchvision"],
        log,
      );
      if (online) {
        result.torch_online = online;
        result.ratio_online_vs_torch = result.modes.online / online.best.img_per_s;
        log(
          `PyTorch online best (${online.best.model}, OMP ${online.best.wait_policy}): ` +
            `${online.best.img_per_s.toFixed(1)} img/s; ratio ` +
            `${result.ratio_online_vs_torch.toFixed(2)}×`,
        );
      }
    }
    // PyTorch's figure is its best of four runs; each of its rounds sits between two runs of
    // ours, so both sides see the same spells of load and each reports its best. This machine's
    // speed drifts between minutes-apart runs of the same code by as much as any change we
    // measure, so several rounds report their median and keep the spread.
    const runs = [imgPerS];
    const rounds: { ours: number; torch: TorchReference; ratio: number }[] = [];
    for (let k = 0; k < (o.rounds ?? 1); k++) {
      const torch = await torchReference({ ...task, task: "train" }, ["hf", "torchvision"], log);
      if (!torch) break;
      const again = o.batchSize / median(await timeTrainingSteps(timing));
      log(`${o.backend} again after PyTorch: ${again.toFixed(1)} img/s (median)`);
      const ours = Math.max(runs[runs.length - 1], again);
      runs.push(again);
      rounds.push({ ours, torch, ratio: ours / torch.best.img_per_s });
      log(
        `PyTorch best (${torch.best.model}, OMP ${torch.best.wait_policy}): ` +
          `${torch.best.img_per_s.toFixed(1)} img/s; ratio ${rounds[k].ratio.toFixed(2)}×`,
      );
    }
    if (rounds.length) {
      const mid = medianRound(rounds);
      result.img_per_s_runs = runs;
      result.img_per_s = result.modes.cached = mid.ours;
      result.torch = mid.torch;
      result.torch_img_per_s = mid.torch.best.img_per_s;
      result.ratio_vs_torch = mid.ratio;
      result.ratio_rounds = rounds.map((r) => r.ratio);
      if (rounds.length > 1) {
        log(
          `median of ${rounds.length} rounds: ${mid.ratio.toFixed(2)}× (rounds ` +
            `${result.ratio_rounds.map((x) => x.toFixed(2)).join(", ")})`,
        );
      }
    }
  }
  return result;
}

function machine(): string {
  const info = readCpuinfo();
  const sig = cpuSignature(info);
  const load = Deno.loadavg()[0].toFixed(2);
  return `${cpuModel(info)}${sig ? ` (${sig})` : ""}, ${navigator.hardwareConcurrency} cores, ` +
    `load ${load}`;
}

const HEADER =
  "| date | machine | backend | size | batch | width | img/s | PyTorch img/s: best (OMP passive/active) | ratio |";

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
  const rounds = r.ratio_rounds ?? [];
  const ratio = r.ratio_vs_torch === undefined
    ? "–"
    : r.ratio_vs_torch.toFixed(2) + "×" + (rounds.length > 1
      ? ` (median of ${rounds.length}: ${Math.min(...rounds).toFixed(2)}–${
        Math.max(...rounds).toFixed(2)
      })`
      : "");
  // The best run, then every variant as passive/active.
  const variant = (model: string) =>
    ["passive", "active"].map((p) =>
      fmt(r.torch!.runs.find((x) => x.model === model && x.wait_policy === p)?.img_per_s)
    ).join("/");
  const torch = r.torch
    ? `${fmt(r.torch_img_per_s)} (${r.torch.best.model} ${r.torch.best.wait_policy}; hf ${
      variant("hf")
    }, torchvision ${variant("torchvision")})`
    : "–";
  rows.push(
    `| ${[date, machine(), ...config, fmt(r.img_per_s), torch, ratio].join(" | ")} |`,
  );
  rows.sort((a, b) => cells(a).slice(2).join("|").localeCompare(cells(b).slice(2).join("|")));
  const table = [
    start,
    "## Training throughput (`deno task bench train`)",
    "",
    `MobileNetV2 (3 classes), the trainer's step with the \`${BENCH_RECIPE}\` settings: forward, ` +
    "distillation loss against cached teacher logits, backward, gradient clipping, AdamW. " +
    "PyTorch: the fastest of its HF-padding and torchvision MobileNetV2 under either OpenMP wait " +
    "policy (lib/bench/torch.ts); the ratio is against that.",
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
