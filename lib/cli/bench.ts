/**
 * `deno task bench train|models|data|gpu|tradeoff [flags]`: the benchmarks (speed targets live
 * there, never in tests). Flags are parsed here; the measuring is `lib/bench/` (and
 * `lib/export/tradeoff.ts` for `tradeoff`, whose command is `bench_tradeoff.ts`).
 * @module
 */
import { type CommandSpec, runSubcommands } from "./command.ts";
import { intFlag, numberFlag } from "./flags.ts";
import { UserError } from "../core/errors.ts";
import { benchTrain, recordResult, STEP_MODES, type StepMode } from "../bench/train.ts";
import type { TrainBenchResult } from "../bench/train.ts";
import { benchModels, type ModelsBenchResult } from "../bench/models.ts";
import { benchData, type DataBenchResult } from "../bench/data.ts";
import { benchGpu, type GpuBenchResult } from "../bench/gpu.ts";

const TEACHER_HELP =
  `  --teacher SPEC    online teacher (registry spec; default mobilenet_v2: our HF MobileNetV2,
                    width 1.0, 1001 labels, random weights, no download). A pretrained one
                    offline: --teacher tfjs-dir:DIR (the ImageNet MobileNetV2 as a tfjs
                    LayersModel)`;

const USAGE =
  `usage: deno task bench train [flags]    the trainer's step (MobileNetV2, cpu-fast), img/s
       deno task bench models [flags]   student, teacher and ViT-B/16 throughput
       deno task bench data [flags]     decode, cache and batch-assembly throughput
       deno task bench gpu [flags]      the one-script WebGPU check (adapter, parity, speed)
       deno task bench tradeoff [flags] teacher vs student: size, cost, latency, accuracy
(--help after a sub-command lists its flags)`;

const TRAIN_USAGE =
  `usage: deno task bench train [--backend NAME] [--image-size PX] [--batch-size N] [--width W]
         [--steps K] [--warmup K] [--modes scratch,cached,online] [--teacher SPEC]
         [--vs-torch [--rounds N]] [--write|--no-write] [--kernel-times] [--json]

Median images/s of the trainer's own step (forward, distillation loss against cached teacher
logits, backward, gradient clipping, AdamW; the cpu-fast recipe) after warm-up.
  --image-size PX   input size (default 96; --size is accepted too)
  --batch-size N    batch (default 32; --batch is accepted too)
  --width W         MobileNetV2 width multiplier (default 1)
  --steps K         timed steps (default 5) after --warmup K (default 2)
  --modes LIST      also time a scratch step (cross-entropy only) and/or an online-teacher step
                    (teacher forward on every batch); default cached only
${TEACHER_HELP}
  --vs-torch        time PyTorch in the same run: the HF-padding and torchvision MobileNetV2,
                    channels_last, 2 threads, both OpenMP wait policies; the ratio is against
                    the fastest. Records the row in BENCHMARKS.md (--write without PyTorch,
                    --no-write never)
  --rounds N        with --vs-torch: alternate PyTorch's runs and ours N times (default 1) and
                    report the round with the median ratio, with the range of all N
  --kernel-times    time every kernel during extra steps (ms per step, largest first)
  --json            print the result as one JSON line`;

const MODELS_USAGE =
  `usage: deno task bench models [--backend NAME] [--batch-size N] [--vit-batch-size N]
         [--iters N] [--teacher SPEC] [--no-vit] [--vs-torch] [--json]

Images/s of student_forward_{96,224} (evaluation), student_train_{96,224} (the trainer's step),
teacher_mobilenet_v2_224 (inference) and vit_b16_224 (ViT-B/16 inference, random weights).
  --batch-size N      MobileNetV2 batch (default 32)
  --vit-batch-size N  ViT batch (default 8)
  --iters N           timed iterations after one warm-up (default 3; the median counts)
${TEACHER_HELP}
  --no-vit            skip ViT-B/16
  --vs-torch          PyTorch's best on each (see bench train --help)
  --json              print {"backend", "img_per_s": {...}, "torch_img_per_s": {...}} as one line`;

const DATA_USAGE =
  `usage: deno task bench data [--data DIR] [--split NAME] [--batch-size N] [--image-size PX] [--json]

Decode+preprocess throughput with a cold and a warm cache, and batch assembly (plain and with
crop+flip augmentation), images/s. --data defaults as for training (KD_DATA, else data/beans).`;

const GPU_USAGE =
  `usage: deno task bench gpu [--image-size PX] [--batch-size N] [--steps K] [--json]

The one-script check for a GPU machine: the WebGPU adapter, conv kernel parity on webgpu against
cpu, and MobileNetV2 training steps on webgpu (software adapters such as lavapipe run too).
Exits 1 when a kernel disagrees with cpu.`;

/**
 * `bench train` accepts `--size`/`--batch` as the short spellings of `--image-size`/`--batch-size`
 * (its help says so). Only there: elsewhere the rewrite would make an error name `--image-size`,
 * a flag the user never typed (and `bench models` lacks).
 */
function canonical(args: string[]): string[] {
  if (args[0] !== "train") return args;
  const map: Record<string, string> = { "--size": "--image-size", "--batch": "--batch-size" };
  return args.map((a) => {
    const [flag, ...rest] = a.split("=");
    const to = map[flag];
    return to ? [to, ...rest].join("=") : a;
  });
}

function positive(name: string, value: unknown, fallback: number, integer = true): number {
  const v = integer ? intFlag(name, value) : numberFlag(name, value);
  const n = v ?? fallback;
  if (!(n > 0)) throw new UserError(`--${name} must be positive, got "${value}"`);
  return n;
}

function nonNegative(name: string, value: unknown, fallback: number): number {
  const n = intFlag(name, value) ?? fallback;
  if (n < 0) throw new UserError(`--${name} must be 0 or more, got "${value}"`);
  return n;
}

const train: CommandSpec<TrainBenchResult> = {
  usage: TRAIN_USAGE,
  string: ["image-size", "batch-size", "width", "steps", "warmup", "modes", "teacher", "rounds"],
  boolean: ["vs-torch", "write", "no-write", "kernel-times"],
  // --profile names a sweep's or notebook's profile everywhere else.
  renamed: { profile: "kernel-times" },
  json: true,
  backend: true,
  async run(f, ctx) {
    const modes = f.modes === undefined
      ? undefined
      : String(f.modes).split(",").map((m) => m.trim()) as StepMode[];
    for (const m of modes ?? []) {
      if (!STEP_MODES.includes(m)) {
        throw new UserError(`--modes: unknown mode "${m}"; expected ${STEP_MODES.join(", ")}`);
      }
    }
    if (f.rounds !== undefined && !f["vs-torch"]) {
      throw new UserError("--rounds alternates with PyTorch's runs: it needs --vs-torch");
    }
    const result = await benchTrain({
      backend: ctx.backend!.name,
      imageSize: positive("image-size", f["image-size"], 96),
      batchSize: positive("batch-size", f["batch-size"], 32),
      width: positive("width", f.width, 1, false),
      steps: positive("steps", f.steps, 5),
      warmup: nonNegative("warmup", f.warmup, 2),
      modes,
      teacher: f.teacher as string | undefined,
      vsTorch: Boolean(f["vs-torch"]),
      rounds: positive("rounds", f.rounds, 1),
      profile: Boolean(f["kernel-times"]),
    });
    // Only comparisons of record update BENCHMARKS.md: quick runs must not replace those rows.
    if ((f["vs-torch"] || f.write) && !f["no-write"]) {
      await recordResult(result, new URL("../../BENCHMARKS.md", import.meta.url));
    }
    return result;
  },
  print(r) {
    const torch = r.torch_img_per_s === undefined
      ? ""
      : `, PyTorch ${r.torch_img_per_s.toFixed(1)} (${r.ratio_vs_torch!.toFixed(2)}×)`;
    const modes = Object.entries(r.modes).map(([m, v]) => `${m} ${v!.toFixed(1)}`).join(", ");
    console.log(`${r.backend} ${r.size}px batch ${r.batch}: ${modes} img/s${torch}`);
  },
};

const models: CommandSpec<ModelsBenchResult> = {
  usage: MODELS_USAGE,
  string: ["batch-size", "vit-batch-size", "iters", "teacher"],
  boolean: ["no-vit", "vs-torch"],
  json: true,
  backend: true,
  run: (f, ctx) =>
    benchModels({
      backend: ctx.backend!.name,
      batchSize: positive("batch-size", f["batch-size"], 32),
      vitBatchSize: positive("vit-batch-size", f["vit-batch-size"], 8),
      iters: positive("iters", f.iters, 3),
      teacher: f.teacher as string | undefined,
      noVit: Boolean(f["no-vit"]),
      vsTorch: Boolean(f["vs-torch"]),
    }),
  print(r) {
    for (const [k, v] of Object.entries(r.img_per_s)) {
      const t = r.torch_img_per_s?.[k as keyof typeof r.img_per_s];
      const ratio = r.ratio_vs_torch?.[k as keyof typeof r.img_per_s];
      console.log(
        `${k.padEnd(26)} ${v === null ? "n/a".padStart(8) : v.toFixed(1).padStart(8)} img/s` +
          (t
            ? `   PyTorch ${t.toFixed(1)} (${r.torch_best![k as keyof typeof r.img_per_s]}), ` +
              `${ratio!.toFixed(2)}×`
            : ""),
      );
    }
  },
};

const data: CommandSpec<DataBenchResult> = {
  usage: DATA_USAGE,
  string: ["data", "split", "batch-size", "image-size"],
  json: true,
  run: (f) =>
    benchData({
      data: f.data as string | undefined,
      split: (f.split as string | undefined) ?? "train",
      batchSize: positive("batch-size", f["batch-size"], 32),
      imageSize: f["image-size"] === undefined
        ? undefined
        : positive("image-size", f["image-size"], 224),
    }),
  print(r) {
    console.log(
      `${r.split} (${r.images} images): cold ${r.cold_img_per_s.toFixed(0)}, warm ` +
        `${r.warm_img_per_s.toFixed(0)}, batches ${r.batch_img_per_s.toFixed(0)} ` +
        `(${r.batch_augment_img_per_s.toFixed(0)} with crop+flip) img/s`,
    );
  },
};

const gpu: CommandSpec<GpuBenchResult> = {
  usage: GPU_USAGE,
  string: ["image-size", "batch-size", "steps"],
  json: true,
  async run(f) {
    const r = await benchGpu({
      imageSize: positive("image-size", f["image-size"], 96),
      batchSize: positive("batch-size", f["batch-size"], 16),
      steps: positive("steps", f.steps, 3),
    });
    if (r.parity_failed) Deno.exitCode = 1;
    return r;
  },
  print(r) {
    console.log(JSON.stringify(r));
  },
};

if (import.meta.main) {
  await runSubcommands(
    USAGE,
    {
      train: () => train as CommandSpec<unknown>,
      models: () => models as CommandSpec<unknown>,
      data: () => data as CommandSpec<unknown>,
      gpu: () => gpu as CommandSpec<unknown>,
      tradeoff: async () =>
        (await import("./bench_tradeoff.ts")).tradeoffCommand() as CommandSpec<unknown>,
    },
    canonical(Deno.args),
  );
}
