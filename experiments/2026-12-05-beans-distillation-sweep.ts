/**
 * Does distillation beat training from scratch on beans, taught the way that won issue #20's
 * experiments? The default experiment (`deno task sweep`) since 2026-12-05.
 *
 * The recipe is the one `2026-12-04-beans-patient-distillation` found to beat the strongest scratch
 * recipe on fresh seeds (README, "Six more seeds": +0.8 pp [+0.1, +1.5] on 12 paired seeds):
 * - a teacher at the student's resolution: ImageNet MobileNetV2 fine-tuned whole with crop + flip,
 *   at the student's image size (96 px on CPU, 224 px on a GPU), epoch selected on validation;
 * - 16 cached teacher views per image (crop + flip; computed once per seed, the teacher is not
 *   loaded while the student trains), λ = 1 (the KL term alone), T = 5, 120 epochs;
 * - scratch trained with the very same views and schedule, so Δ measures the teaching.
 *
 * Today's recipe (no augmentation, 10 epochs, λ 0.5) did not detectably beat scratch on 16 seeds
 * (README, "Results"); `2026-11-28-beans-temperature-sweep` keeps it. The `full` profile adds the
 * guide's ViT teacher and a temperature screen; the `cpu` profile affords one teacher and one
 * temperature (a screen of one seed per temperature could not tell configurations ≈ 1 pp apart).
 *
 * Run: `deno task sweep` (the default experiment), or
 * `deno task sweep 2026-12-05-beans-distillation-sweep --profile full|cpu|cpu-rep|smoke`; `cpu-rep`
 * repeats `cpu` on 8 fresh confirm seeds (1012–1019).
 * @module
 */
import { defineSweep, type SweepArm, type SweepProfile } from "@kd/vision/sweep";

/** The hub's ImageNet MobileNetV2; `--backbone SPEC` (env `KD_BACKBONE`) replaces it. */
const IMAGENET = "hf:google/mobilenet_v2_1.0_224";
const CROP_FLIP = "crop=0.35-1,flip";
/** `mnv2-ft-all`'s fine-tune (README, "Models and teachers"): 97.7% at 224 px, 95.5% at 96 px. */
const FT_ALL = {
  finetuneBlocks: "all" as const,
  augment: CROP_FLIP,
  finetuneEpochs: 30,
  finetuneLr: 1e-4,
};

/** The winning arm: `views` cached teacher views per image, λ = 1, `epochs` epochs. */
function viewsArm(views: number, epochs: number): SweepArm {
  return {
    name: `views-${epochs}`,
    overrides: { augment: CROP_FLIP, teacherViews: views, epochs },
    lambdas: [1],
    note: `${views} cached teacher views per image (crop + flip), λ = 1, ${epochs} epochs`,
  };
}

/** The `cpu` profile: one teacher at 96 px, one temperature, 8 confirm seeds. */
const CPU: SweepProfile = {
  preset: "cpu-fast",
  student: "mobilenet_v2@0.5",
  arms: [viewsArm(16, 120)],
  temperatures: [5],
  lambdas: [1],
  // One configuration: the screen seed is a check of the pipeline, not a choice. The paired
  // Δs of the 12 seeds it was found on spread by 1.1 pp, so 8 confirm seeds detect ≈ 1.3 pp
  // at 80% power (the verdict states its own); `confirmSeeds: 12` (≈ 1 h more) ≈ 1 pp.
  seeds: [0],
  confirmSeeds: 8,
  teachers: ["mnv2-ft-all-s96"],
  budget: "≈ 2 h 10 min on 2 idle CPU cores (teacher ≈ 5 min, then 18 runs of ≈ 7 min)",
};

export const sweep = defineSweep({
  name: "beans-distillation-sweep",
  description: "Distilled vs scratch MobileNetV2 on beans, from a teacher at the student's " +
    "resolution through cached augmented views, both arms on the same views and schedule.",
  teachers: [
    {
      name: "mnv2-ft-all-s96",
      build: { from: IMAGENET, settings: { ...FT_ALL, imageSize: 96 } },
      note: "ImageNet MobileNetV2 fine-tuned whole at the CPU student's 96 px",
    },
    {
      name: "mnv2-ft-all",
      build: { from: IMAGENET, settings: FT_ALL },
      note: "ImageNet MobileNetV2 fine-tuned whole at 224 px",
    },
    { name: "vit-guide", spec: "hf:merve/beans-vit-224", note: "the guide's ViT-B/16 (224 px)" },
  ],
  profiles: {
    full: {
      // The guide's scale with a from-scratch learning rate (README, "Results").
      preset: "guide-scratch",
      student: "mobilenet_v2",
      arms: [viewsArm(16, 120)],
      temperatures: [1, 2, 5, 10],
      lambdas: [1],
      seeds: [0, 1, 2],
      confirmSeeds: 12,
      // Both teachers see the 224 px student's resolution.
      teachers: ["mnv2-ft-all", "vit-guide"],
      budget: "GPU hours (224 px, 120 epochs, 16 teacher views per image)",
    },
    cpu: CPU,
    // The cpu profile again on 8 confirm seeds no earlier sweep of this recipe used (1000–1011
    // were). Analysis fixed before it trained (2026-12-05): (1) this sweep's own verdict on the 8
    // fresh seeds; (2) pooled with `cpu`'s run under the same `--jobs 2` (seeds 1000–1007, README
    // "The same sweep in two jobs"): the paired Δ over 16 seeds, same teacher build and rounding.
    "cpu-rep": {
      ...CPU,
      confirmSeedStart: 1012,
      budget: "≈ 2 h 10 min on 2 idle CPU cores, ≈ 1 h 30 min with --jobs 2 (as cpu)",
    },
    smoke: {
      preset: "smoke",
      student: "mobilenet_v2@0.35",
      arms: [viewsArm(4, 2)],
      temperatures: [5],
      lambdas: [1],
      seeds: [0],
      // Two confirm seeds so the smoke run goes through every stage.
      confirmSeeds: 2,
      // Both kinds of teacher, built and from the hub, so a first run exercises every path.
      teachers: ["mnv2-ft-all-s96", "vit-guide"],
      // The teacher's own settings win over the profile's: it is fine-tuned at 96 px as on CPU,
      // but from 48 images, which takes seconds.
      teacherSettings: { maxImages: 48 },
      budget: "a few minutes (first run: plus downloads, the guide's ViT ≈ 345 MB)",
    },
  },
});
