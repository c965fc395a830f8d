/**
 * The Hugging Face guide, replicated exactly: `--preset hf-guide` (224 px, T=5, λ=0.5, 30
 * epochs, batch 8, AdamW 5e-5, linear decay, MobileNetV2Config() defaults, best by accuracy),
 * distilled vs scratch, with seeds so the guide's single-seed gap (72% vs 63% on test, ~12
 * images) gets an error bar. Teachers: the guide's `hf:merve/beans-vit-224`, and the strongest
 * teacher built from the hub's ImageNet MobileNetV2 for comparison.
 *
 * Run: `deno task sweep 2026-11-28-hf-guide-replication --profile full` (GPU), then evaluate the
 * selected models on test explicitly: `deno task eval --model RUN_DIR --split test`.
 * @module
 */
import { defineSweep } from "@kd/vision/sweep";

export const sweep = defineSweep({
  name: "hf-guide-replication",
  description: "The HF guide's recipe (T=5, λ=0.5, 30 epochs) distilled vs scratch, with seeds.",
  teachers: [
    { name: "vit-guide", spec: "hf:merve/beans-vit-224" },
    {
      name: "mnv2-strong",
      build: { from: "hf:google/mobilenet_v2_1.0_224", settings: { finetuneBlocks: 1 } },
    },
  ],
  profiles: {
    full: {
      preset: "hf-guide",
      student: "mobilenet_v2",
      temperatures: [5],
      lambdas: [0.5],
      seeds: [0, 1, 2, 3, 4],
    },
    cpu: {
      preset: "hf-guide",
      overrides: { imageSize: 96, epochs: 10 },
      student: "mobilenet_v2",
      temperatures: [5],
      lambdas: [0.5],
      seeds: [0, 1],
    },
    smoke: {
      preset: "smoke",
      student: "mobilenet_v2@0.35",
      temperatures: [5],
      lambdas: [0.5],
      seeds: [0],
      teachers: ["vit-guide"],
    },
  },
});
