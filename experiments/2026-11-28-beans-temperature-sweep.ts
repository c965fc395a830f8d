/**
 * Does distillation beat training from scratch on beans, by how much, at which temperature,
 * and does a stronger teacher make a stronger student?
 *
 * Teacher axis (offline): two teachers of clearly different strength built from the shared
 * ImageNet MobileNetV2 (`deno task teacher`, selected on validation): a weak one (linear probe on
 * early, low-level features from 10% of the training images; ~68% validation accuracy) and a
 * strong one (probe on the pooled features of all training images with the last block
 * fine-tuned; ~93%); plus the guide's own ViT teacher `merve/beans-vit-224` whenever the Hugging
 * Face hub is reachable.
 *
 * Run: `deno task sweep` (this is the default experiment), or
 * `deno task sweep 2026-11-28-beans-temperature-sweep --profile full|cpu|smoke`.
 * @module
 */
import { defineSweep } from "../lib/sweep/define.ts";
import { IMAGENET_MOBILENET_V2 } from "../lib/models/layers_backbone.ts";

export const sweep = defineSweep({
  name: "beans-temperature-sweep",
  description: "Distilled vs scratch MobileNetV2 on beans across temperatures, λ and teachers.",
  teachers: [
    {
      name: "mnv2-weak",
      build: {
        from: IMAGENET_MOBILENET_V2,
        args: ["--features-from", "conv2d_Conv2D2", "--train-fraction", "0.1"],
      },
      note: "linear probe on early (stem) ImageNet features, 10% of the training images",
    },
    {
      name: "mnv2-strong",
      build: { from: IMAGENET_MOBILENET_V2, args: ["--finetune-blocks", "1"] },
      note: "linear probe on pooled ImageNet features + last block fine-tuned, all images",
    },
    {
      name: "vit-guide",
      spec: "hf:merve/beans-vit-224",
      needsHub: true,
      note: "the guide's fine-tuned ViT-B/16 teacher",
    },
  ],
  profiles: {
    full: {
      preset: "hf-guide",
      student: "mobilenet_v2",
      temperatures: [1, 2, 5, 10],
      lambdas: [0.5, 0.9],
      seeds: [0, 1, 2],
      budget: "GPU hours",
    },
    cpu: {
      preset: "cpu-fast",
      student: "mobilenet_v2@0.5",
      temperatures: [2, 5, 10],
      lambdas: [0.5],
      seeds: [0, 1, 2],
      teachers: ["mnv2-weak", "mnv2-strong"],
      budget: "under 60 minutes on 2 CPU cores",
    },
    smoke: {
      preset: "smoke",
      student: "mobilenet_v2@0.35",
      temperatures: [5],
      lambdas: [0.5],
      seeds: [0, 1],
      teachers: ["mnv2-weak"],
      teacherArgs: ["--max-images", "48"],
      budget: "under 3 minutes",
    },
  },
});
