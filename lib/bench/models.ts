/**
 * Model throughput (images/s): the MobileNetV2 student's evaluation forward and training step at
 * 96 and 224 px, a MobileNetV2 teacher's inference at 224 px (ImageNet shape, 1001 labels) and
 * ViT-B/16 inference at 224 px; optionally PyTorch's best on each (`torch.ts`). Missing kernels
 * (e.g. wasm without conv backprop) are reported as null with the reason on stderr.
 * @module
 */
import * as tf from "../tf.ts";
import { MobileNetV2 } from "../models/mobilenet_v2.ts";
import { ViT, type ViTConfig } from "../models/vit.ts";
import type { Classifier } from "../models/model.ts";
import { presetRecipe } from "../presets.ts";
import { BENCH_RECIPE, DEFAULT_TEACHER, loadBenchTeacher, timeTrainingSteps } from "./train.ts";
import { type TorchModel, torchReference, type TorchTask } from "./torch.ts";

/** The measured quantities (the keys of the JSON result). */
export const MODEL_BENCH_KEYS = [
  "student_forward_96",
  "student_forward_224",
  "student_train_96",
  "student_train_224",
  "teacher_mobilenet_v2_224",
  "vit_b16_224",
] as const;
/** One of {@linkcode MODEL_BENCH_KEYS}. */
export type ModelBenchKey = typeof MODEL_BENCH_KEYS[number];

/** Settings of {@linkcode benchModels}. */
export interface ModelsBenchOptions {
  /** The backend in effect (for the record). */
  backend: string;
  /** Batch of the MobileNetV2 measurements. */
  batchSize: number;
  /** Batch of the ViT measurement. */
  vitBatchSize: number;
  /** Timed iterations after one warm-up. */
  iters: number;
  /** Teacher spec for `teacher_mobilenet_v2_224` (default {@linkcode DEFAULT_TEACHER}). */
  teacher?: string;
  /** Skip ViT-B/16 (null in the result). */
  noVit?: boolean;
  vsTorch?: boolean;
  log?: (message: string) => void;
}

/** The JSON result: images/s per key (null where not measured or unsupported). */
export interface ModelsBenchResult {
  backend: string;
  batch: number;
  vit_batch: number;
  teacher: string;
  img_per_s: Record<ModelBenchKey, number | null>;
  torch_img_per_s?: Record<ModelBenchKey, number | null>;
  /** Which PyTorch variant won each key, e.g. "torchvision/active". */
  torch_best?: Record<ModelBenchKey, string | null>;
  ratio_vs_torch?: Record<ModelBenchKey, number | null>;
}

/** ViT-Base/16 at 224 (google/vit-base-patch16-224 shapes), random weights, 3 labels. */
const VIT_BASE: ViTConfig = {
  kind: "vit",
  prefix: "vit",
  numLabels: 3,
  hiddenSize: 768,
  numLayers: 12,
  numHeads: 12,
  intermediateSize: 3072,
  imageSize: 224,
  patchSize: 16,
  numChannels: 3,
  layerNormEps: 1e-12,
  qkvBias: true,
  initializerRange: 0.02,
  distillationToken: false,
  head: "cls",
};

/** Median seconds per call of `step` over `iters` calls after one warm-up call. */
async function timeIt(iters: number, step: () => Promise<void>): Promise<number> {
  await step();
  const times: number[] = [];
  for (let i = 0; i < iters; i++) {
    const t0 = performance.now();
    await step();
    times.push((performance.now() - t0) / 1000);
  }
  times.sort((a, b) => a - b);
  return times[times.length >> 1];
}

function forward(model: Classifier, batch: number, size: number) {
  const x = tf.randomUniform([batch, size, size, 3], -1, 1, "float32", 7) as tf.Tensor4D;
  return {
    step: async () => {
      const y = tf.tidy(() => model.apply(x, { training: false }));
      await y.data();
      y.dispose();
    },
    dispose: () => x.dispose(),
  };
}

/** Run every measurement (see the module doc). */
export async function benchModels(o: ModelsBenchOptions): Promise<ModelsBenchResult> {
  const log = o.log ?? ((m: string) => console.error(m));
  const teacherSpec = o.teacher ?? DEFAULT_TEACHER;
  const none = () =>
    Object.fromEntries(MODEL_BENCH_KEYS.map((k) => [k, null])) as Record<ModelBenchKey, null>;
  const result: ModelsBenchResult = {
    backend: o.backend,
    batch: o.batchSize,
    vit_batch: o.vitBatchSize,
    teacher: teacherSpec,
    img_per_s: none(),
  };
  const torchTasks = o.vsTorch ? torchTasksFor(o) : null;
  if (torchTasks) {
    result.torch_img_per_s = none();
    result.torch_best = none();
    result.ratio_vs_torch = none();
  }
  // Each key's PyTorch reference runs right after ours, so both see the same machine load.
  const measure = async (key: ModelBenchKey, batch: number, run: () => Promise<number>) => {
    try {
      const s = await run();
      result.img_per_s[key] = batch / s;
      log(`${key.padEnd(26)} ${(batch / s).toFixed(1).padStart(8)} img/s  (batch ${batch})`);
    } catch (e) {
      log(`${key.padEnd(26)} n/a  (${String((e as Error).message ?? e).split("\n")[0]})`);
      return;
    }
    const t = torchTasks?.[key];
    if (!t) return;
    const ref = await torchReference(t[0], t[1], log);
    if (!ref) return;
    const ours = result.img_per_s[key]!;
    result.torch_img_per_s![key] = ref.best.img_per_s;
    result.torch_best![key] = `${ref.best.model}/${ref.best.wait_policy}`;
    result.ratio_vs_torch![key] = ours / ref.best.img_per_s;
    log(
      `${key.padEnd(26)} PyTorch ${ref.best.img_per_s.toFixed(1)} img/s, ratio ` +
        `${(ours / ref.best.img_per_s).toFixed(2)}×`,
    );
  };
  const timed = async (model: Classifier, batch: number, size: number) => {
    const f = forward(model, batch, size);
    try {
      return await timeIt(o.iters, f.step);
    } finally {
      f.dispose();
    }
  };
  log(
    `bench models on ${o.backend}: batch ${o.batchSize} (ViT ${o.vitBatchSize}), ` +
      `${o.iters} timed iterations after one warm-up`,
  );
  for (const size of [96, 224] as const) {
    const student = new MobileNetV2({ numLabels: 3, imageSize: size, seed: 0 });
    try {
      await measure(
        `student_forward_${size}`,
        o.batchSize,
        () => timed(student, o.batchSize, size),
      );
    } finally {
      student.dispose();
    }
  }
  await measure("teacher_mobilenet_v2_224", o.batchSize, async () => {
    const teacher = await loadBenchTeacher(teacherSpec);
    try {
      return await timed(teacher, o.batchSize, teacher.input.size);
    } finally {
      teacher.dispose();
    }
  });
  if (!o.noVit) {
    await measure("vit_b16_224", o.vitBatchSize, async () => {
      const vit = new ViT(VIT_BASE, undefined, 0);
      try {
        return await timed(vit, o.vitBatchSize, 224);
      } finally {
        vit.dispose();
      }
    });
  }
  // Training steps last: a backend that runs out of memory here may be unusable afterwards.
  for (const size of [96, 224] as const) {
    await measure(`student_train_${size}`, o.batchSize, async () => {
      const t = await timeTrainingSteps({
        size,
        batch: o.batchSize,
        width: 1,
        steps: o.iters,
        warmup: 1,
      });
      t.sort((a, b) => a - b);
      return t[t.length >> 1];
    });
  }
  return result;
}

/** The PyTorch task (and the model variants to try) behind each key. */
function torchTasksFor(
  o: ModelsBenchOptions,
): Record<ModelBenchKey, [TorchTask, TorchModel[]] | null> {
  const recipe = presetRecipe(BENCH_RECIPE);
  const steps = Math.max(o.iters, 2);
  const mnv2: TorchModel[] = ["hf", "torchvision"];
  const infer = (size: number, labels = 3): [TorchTask, TorchModel[]] => [
    { task: "infer", size, batch: o.batchSize, labels, steps, warmup: 1 },
    mnv2,
  ];
  const train = (size: number): [TorchTask, TorchModel[]] => [
    {
      task: "train",
      size,
      batch: o.batchSize,
      steps,
      warmup: 1,
      temperature: recipe.temperature,
      lambda: recipe.lambda,
      lr: recipe.lr,
      weightDecay: recipe.optimizer.weightDecay ?? 0,
      clipNorm: recipe.clipNorm,
    },
    mnv2,
  ];
  return {
    student_forward_96: infer(96),
    student_forward_224: infer(224),
    student_train_96: train(96),
    student_train_224: train(224),
    teacher_mobilenet_v2_224: infer(224, 1001),
    vit_b16_224: [
      { task: "infer", size: 224, batch: o.vitBatchSize, steps, warmup: 1 },
      ["vit_b16"],
    ],
  };
}
