/**
 * `deno task bench models [--backend NAME] [--batch N] [--iters N] [--no-vit]`: throughput
 * (images/s) of the MobileNetV2 student forward and forward+backward at 96 and 224 px, and of
 * teacher inference (the pretrained tfjs MobileNetV2 teacher and a ViT-Base/16-sized model).
 * Missing kernels (e.g. wasm without conv backprop) are reported as "n/a" with the reason.
 * @module
 */
import { parseArgs } from "@std/cli";
import * as tf from "../tf.ts";
import { initBackend } from "../backend.ts";
import { MobileNetV2 } from "../models/mobilenet_v2.ts";
import { ViT, type ViTConfig } from "../models/vit.ts";
import type { Classifier } from "../models/model.ts";
import { backboneSpec, openBackbone } from "../teacher/backbone.ts";

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

async function timeIt(iters: number, step: () => Promise<void>): Promise<number> {
  await step(); // warm-up: kernel compilation, allocation
  const t0 = performance.now();
  for (let i = 0; i < iters; i++) await step();
  return (performance.now() - t0) / 1000 / iters;
}

async function measure(
  label: string,
  batch: number,
  iters: number,
  step: () => Promise<void>,
): Promise<void> {
  try {
    const s = await timeIt(iters, step);
    console.log(
      `${label.padEnd(44)} ${(batch / s).toFixed(1).padStart(8)} img/s  (${
        (1000 * s).toFixed(0)
      } ms/batch of ${batch})`,
    );
  } catch (e) {
    const msg = String((e as Error).message ?? e).split("\n")[0];
    console.log(`${label.padEnd(44)} ${"n/a".padStart(8)}        (${msg})`);
  }
}

function forward(model: Classifier, batch: number, size: number) {
  return async () => {
    const y = tf.tidy(() =>
      model.apply(tf.randomUniform([batch, size, size, 3], -1, 1) as tf.Tensor4D)
    );
    await y.data();
    y.dispose();
  };
}

function trainStep(model: MobileNetV2, batch: number, size: number) {
  const vars = [...model.trainableVariables().values()];
  return async () => {
    const { value, grads } = tf.variableGrads(() =>
      tf.tidy(() => {
        const x = tf.randomUniform([batch, size, size, 3], -1, 1) as tf.Tensor4D;
        const y = tf.oneHot(tf.zeros([batch], "int32") as tf.Tensor1D, 3);
        return tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true })) as tf.Scalar;
      }), vars);
    await value.data();
    tf.dispose([value, ...Object.values(grads)]);
  };
}

/** Entry point for `deno task bench models`. */
export async function main(args: string[]): Promise<void> {
  const a = parseArgs(args, {
    string: ["backend", "batch", "iters"],
    boolean: ["no-vit"],
    default: { batch: "8", iters: "3" },
  });
  const batch = Number(a.batch), iters = Number(a.iters);
  const choice = await initBackend(a.backend ? String(a.backend) : undefined);
  console.log(
    `models benchmark on ${choice.name} (${choice.device}), batch ${batch}, ${iters} iters`,
  );
  const student = new MobileNetV2({ numLabels: 3, seed: 0 });
  for (const size of [96, 224]) {
    await measure(
      `student mobilenet_v2 forward @${size}`,
      batch,
      iters,
      forward(student, batch, size),
    );
  }
  try {
    // The teachers' backbone: env KD_BACKBONE, else the hub's ImageNet MobileNetV2.
    const { model: teacher } = await openBackbone(backboneSpec(), { numLabels: 3, quiet: true });
    await measure(
      `teacher backbone ${backboneSpec()} (pretrained) @224`,
      batch,
      iters,
      forward(teacher, batch, 224),
    );
    teacher.dispose();
  } catch (e) {
    console.log(`teacher backbone ${backboneSpec()}: n/a (${(e as Error).message.split("\n")[0]})`);
  }
  if (!a["no-vit"]) {
    const vit = new ViT(VIT_BASE, undefined, 0);
    const b = Math.min(batch, 4);
    await measure(
      "teacher vit-base/16 (random weights) @224",
      b,
      Math.min(iters, 2),
      forward(vit, b, 224),
    );
    vit.dispose();
  }
  // Training steps last: a backend that runs out of memory here may be unusable afterwards.
  for (const size of [96, 224]) {
    await measure(
      `student mobilenet_v2 forward+backward @${size}`,
      batch,
      iters,
      trainStep(student, batch, size),
    );
  }
  student.dispose();
}
