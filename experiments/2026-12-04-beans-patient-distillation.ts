/**
 * Does the way we teach matter more than the temperature? Issue #20 asks whether "patient and
 * consistent" distillation (Beyer et al., CVPR 2022: teacher and student see the same augmented
 * view, mixup, λ = 1, long schedules) or a better loss (DKD, Zhao et al. 2022; DIST, Huang et al.
 * 2022) turns the README's undetectable +2 pp into a real gain on beans.
 *
 * Recipe arms, each distilled from every teacher and each against a scratch student trained with
 * the very same recipe (augmentation, views, schedule), so Δ measures the teaching:
 * - `today`: the current recipe (no augmentation, Hinton KD, λ 0.5);
 * - `consistent`: crop + flip + mixup shown alike to an online teacher, λ = 1 (function matching);
 * - `views`: crop + flip from K cached teacher views per image (no teacher while training);
 * - `dkd`, `dist`: today's recipe with the KL term replaced;
 * - `hf-guide`: the guide's own recipe (lr 5e-5, no augmentation) at the profile's budget.
 *
 * The `cpu-ft-all` profile follows up on `cpu`'s answer (consistent teaching the best arm, no arm
 * detectably above the strongest scratch recipe) with the whole-network teacher (97.7% validation
 * against `mnv2-strong`'s 93.2%), the two online arms only (with and without mixup: the scratch twin
 * of the latter, crop + flip for 20 epochs, is the strongest scratch recipe `cpu` found) and twice
 * the confirm seeds.
 *
 * `cpu-ft-all-long` runs `cpu-ft-all`'s better arm for 60 epochs instead of 20;
 * `cpu-ft-all-views-120` runs it for 120 epochs from 16 cached teacher views per image;
 * `cpu-ft-all-s96-views-120` does the same from the teacher fine-tuned at the student's 96 px;
 * `cpu-ft-all-s96-views-120-rep` repeats it on 6 fresh confirm seeds.
 *
 * Run: `deno task sweep 2026-12-04-beans-patient-distillation --profile
 * smoke|cpu|cpu-ft-all|cpu-ft-all-long|cpu-ft-all-views-120|cpu-ft-all-s96-views-120|
 * cpu-ft-all-s96-views-120-rep|full`.
 * @module
 */
import { defineSweep, type SweepArm, type SweepProfile } from "@kd/vision/sweep";
import type { Recipe } from "@kd/vision/train";

const IMAGENET = "hf:google/mobilenet_v2_1.0_224";
const CROP_FLIP = "crop=0.35-1,flip";
/**
 * Epochs of the whole-network teacher fine-tune (the best by validation is kept): 10 reached
 * 96.2% and was still improving (README, "The `mnv2-ft-all` teacher").
 */
const FT_ALL_EPOCHS = 30;
/** The whole-network fine-tune of the strongest built teacher (selected on validation). */
const FT_ALL = {
  finetuneBlocks: "all" as const,
  augment: CROP_FLIP,
  finetuneEpochs: FT_ALL_EPOCHS,
  finetuneLr: 1e-4,
};

/** Function matching (Beyer et al.): the online teacher labels the student's own view, λ = 1. */
function consistent(patient: number): SweepArm {
  return {
    name: "consistent",
    overrides: { augment: `${CROP_FLIP},mixup=0.2`, epochs: patient },
    lambdas: [1],
    note: "same views and mixup for an online teacher, λ = 1",
  };
}

/** 16 cached teacher views per image for 120 epochs (the `*-views-120` profiles). */
const VIEWS_120: SweepArm = {
  name: "views-120",
  overrides: { augment: CROP_FLIP, teacherViews: 16, epochs: 120 },
  lambdas: [1],
  note: "16 cached teacher views per image (crop + flip), λ = 1, 120 epochs",
};

/** A profile teaching the 96 px student from `teacher` with {@linkcode VIEWS_120}, 6 confirm seeds. */
function views120(teacher: string, budget: string): SweepProfile {
  return {
    preset: "cpu-fast",
    student: "mobilenet_v2@0.5",
    arms: [VIEWS_120],
    temperatures: [5],
    lambdas: [0.5],
    seeds: [0],
    confirmSeeds: 6,
    teachers: [teacher],
    budget,
  };
}

/**
 * The arms at one budget: `patient` is the epoch count of the augmented arms, `views` the cached
 * views per image of the `views` arm.
 */
function arms(budget: Partial<Recipe>, patient: number, views: number): SweepArm[] {
  return [
    { name: "today", note: "the current recipe" },
    consistent(patient),
    {
      name: "views",
      overrides: { augment: CROP_FLIP, teacherViews: views, epochs: patient },
      note: `${views} cached teacher views per image`,
    },
    { name: "dkd", overrides: { method: "dkd", dkdAlpha: 1, dkdBeta: 8, dkdWarmup: 1 } },
    { name: "dist", overrides: { method: "dist", distBeta: 1, distGamma: 1 }, temperatures: [1] },
    {
      name: "hf-guide",
      preset: "hf-guide",
      overrides: budget,
      note: "the guide's recipe (lr 5e-5, no augmentation) at this budget",
    },
  ];
}

export const sweep = defineSweep({
  name: "beans-patient-distillation",
  description: "Consistent teaching, cached views, DKD and DIST vs today's recipe, each vs " +
    "scratch trained with the same recipe.",
  teachers: [
    {
      name: "mnv2-weak",
      build: { from: IMAGENET, settings: { featuresFrom: "block:1", trainFraction: 0.1 } },
      note: "linear probe on early ImageNet features, 10% of the training images",
    },
    {
      name: "mnv2-strong",
      build: { from: IMAGENET, settings: { finetuneBlocks: 1 } },
      note: "linear probe on pooled ImageNet features + last block fine-tuned",
    },
    {
      // Issue #20 item 4: a CNN teacher as strong as the guide's ViT (aim: ≥ 97% validation).
      name: "mnv2-ft-all",
      build: { from: IMAGENET, settings: FT_ALL },
      note: "ImageNet MobileNetV2 fine-tuned whole (after the stem) at 224 px with crop + flip, " +
        "epoch selected on validation",
    },
    {
      // The same fine-tune at the CPU student's 96 px: a teacher that sees exactly what its
      // student sees (and costs a fifth as much per image).
      name: "mnv2-ft-all-s96",
      build: { from: IMAGENET, settings: { ...FT_ALL, imageSize: 96 } },
      note: "mnv2-ft-all's fine-tune at the student's 96 px instead of 224 px",
    },
    { name: "vit-guide", spec: "hf:merve/beans-vit-224", note: "the guide's ViT-B/16" },
  ],
  profiles: {
    full: {
      // The guide's scale with a from-scratch learning rate (README, "Results").
      preset: "guide-scratch",
      student: "mobilenet_v2",
      arms: arms({ imageSize: 224, epochs: 30 }, 300, 32),
      temperatures: [2, 5],
      lambdas: [0.5],
      seeds: [0, 1, 2],
      confirmSeeds: 10,
      teachers: ["mnv2-strong", "mnv2-ft-all", "vit-guide"],
      budget: "GPU days (224 px, 300 epochs for the augmented arms)",
    },
    cpu: {
      preset: "cpu-fast",
      student: "mobilenet_v2@0.5",
      // Sized from measured throughput to finish within 2 hours on 2 idle cores (README,
      // "Patient distillation"): one configuration per arm leaves the screen nothing to pick,
      // so one screen seed, and the rest of the budget goes to confirm seeds.
      arms: arms({ imageSize: 96, epochs: 10 }, 20, 8),
      temperatures: [5],
      lambdas: [0.5],
      seeds: [0],
      confirmSeeds: 5,
      // The ViT-B/16 (6 img/s on 2 cores) would need ~1 h per online run: GPU profile only.
      teachers: ["mnv2-strong"],
      budget: "≈ 1 h 45 min on 2 idle CPU cores (estimated from measured throughput)",
    },
    "cpu-ft-all": {
      preset: "cpu-fast",
      student: "mobilenet_v2@0.5",
      arms: [
        consistent(20),
        {
          name: "consistent-crop",
          overrides: { augment: CROP_FLIP, epochs: 20 },
          lambdas: [1],
          note: "same crop + flip views for an online teacher, λ = 1, no mixup",
        },
      ],
      temperatures: [5],
      lambdas: [0.5],
      seeds: [0],
      confirmSeeds: 10,
      teachers: ["mnv2-ft-all"],
      // Measured on its screen: a 20-epoch scratch run ≈ 1.2 min, an online one ≈ 2.5–3 min.
      budget: "≈ 1 h 40 min on 2 idle CPU cores (44 runs)",
    },
    "cpu-ft-all-long": {
      preset: "cpu-fast",
      student: "mobilenet_v2@0.5",
      // `cpu-ft-all`'s better arm at three times the schedule: does patience close the gap?
      arms: [
        {
          name: "consistent-crop-60",
          overrides: { augment: CROP_FLIP, epochs: 60 },
          lambdas: [1],
          note: "consistent-crop (online teacher on crop + flip views, λ = 1) for 60 epochs",
        },
      ],
      temperatures: [5],
      lambdas: [0.5],
      seeds: [0],
      confirmSeeds: 4,
      teachers: ["mnv2-ft-all"],
      budget: "≈ 1 h on 2 idle CPU cores (10 runs: ≈ 3 min scratch, ≈ 9 min online)",
    },
    // `cpu-ft-all-long` asked for a longer schedule; online teaching costs ≈ 10 min per 60 epochs
    // here, so the teacher's views are cached instead (16 per image, each shown 7.5 times over
    // 120 epochs) and a run costs about what its scratch twin does. The confirm seeds were
    // raised from 4 to 6 before any distilled confirm run had finished (the screen took 28 min).
    "cpu-ft-all-views-120": views120(
      "mnv2-ft-all",
      "≈ 2 h on 2 idle CPU cores (14 runs: ≈ 7 min scratch, ≈ 10 min with views)",
    ),
    // The same with the fine-tune at the student's 96 px as the teacher: one that sees exactly
    // what its student sees. Arm, seeds and scratch runs are the same (the scratch twin does not
    // depend on the teacher).
    "cpu-ft-all-s96-views-120": views120(
      "mnv2-ft-all-s96",
      "≈ 1 h 30 min on 2 idle CPU cores (14 runs: ≈ 7 min scratch, ≈ 7.5 min with views)",
    ),
    // A replication of `cpu-ft-all-s96-views-120` on 6 seeds it did not use (1006-1011): its
    // Δ (+1.1 pp [−0.5, +2.8] on 6 seeds) needs about twice the seeds to be told from zero. The
    // screen seed repeats the first sweep's seed 0, a check that this machine reproduces it.
    // Analysis fixed before any of its runs trained (2026-12-04 23:52, while the sweep built its
    // teacher): the paired Δ over all 12 confirm seeds 1000-1011 (`pairedDifference`, as the
    // report computes it), and the 6 new seeds alone.
    "cpu-ft-all-s96-views-120-rep": {
      ...views120(
        "mnv2-ft-all-s96",
        "≈ 1 h 45 min on 2 idle CPU cores (14 runs: ≈ 7 min scratch, ≈ 7.5 min with views)",
      ),
      confirmSeedStart: 1006,
    },
    smoke: {
      preset: "smoke",
      student: "mobilenet_v2@0.35",
      arms: arms({ imageSize: 32, epochs: 2, maxImages: 48 }, 2, 8),
      temperatures: [5],
      lambdas: [0.5],
      seeds: [0],
      // Two confirm seeds so the smoke run goes through every stage with every arm.
      confirmSeeds: 2,
      teachers: ["mnv2-weak"],
      teacherSettings: { maxImages: 48 },
      budget: "a minute (first run: plus downloads)",
    },
  },
});
