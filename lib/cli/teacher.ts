/**
 * `deno task teacher [--backbone SPEC] [--data DIR] [--out DIR] ...`: build a beans teacher from a
 * pretrained CNN backbone (`buildTeacher` in `lib/teacher/build.ts`), by default the hub's
 * ImageNet MobileNetV2 `hf:google/mobilenet_v2_1.0_224` (env `KD_BACKBONE` changes the default).
 * @module
 */
import type { Args } from "@std/cli";
import { type CommandSpec, parseCommandArgs, runCommand } from "./command.ts";
import { intFlag, numberFlag, numberListFlag } from "./flags.ts";
import { DEFAULT_BACKBONE } from "../teacher/backbone.ts";
import { buildTeacher, type BuildTeacherOptions, type TeacherResult } from "../teacher/build.ts";
import { initBackend } from "../backend.ts";

const USAGE =
  `usage: deno task teacher [--backbone SPEC] [--data DIR] [--out DIR] [--name NAME] [--force]
  [--features-from POINT|block:K] [--train-fraction F] [--finetune-blocks K|all]
  [--augment crop[=MIN-MAX],flip,mixup=ALPHA] [--finetune-epochs E] [--finetune-lr LR]
  [--image-size PX] [--weight-decays 0,1e-3,1e-2,1e-1]
  [--epochs 10,30,100] [--lr 1e-2] [--batch-size 32] [--seed 0] [--max-images N]
  [--backend NAME] [--json] [--quiet]

Builds a beans teacher: a linear probe on frozen features of a pretrained CNN, selected on
validation, optionally with the last K blocks fine-tuned; saved as a folder usable as dir:PATH.

  --backbone SPEC      the backbone: hf:ORG/NAME[@REV] (a MobileNetV2 on the hub, through the
                       Hugging Face cache), hf-dir:PATH or tfjs-dir:PATH (a tfjs MobileNetV2
                       with folded batch norms becomes the toolkit's MobileNetV2, same features)
                       (default: env KD_BACKBONE, else ${DEFAULT_BACKBONE})
  --features-from P    pool features at an earlier point (a backbone layer name, or block:K,
                       the end of block K) for a weaker teacher
  --finetune-blocks K  then fine-tune the last K blocks (+ head) from cached activations;
                       all: every block after the stem, from the images (each step runs the
                       whole network: 20-30 s per epoch at 224 px on 2 CPU cores)
  --augment SPEC       augment the images while fine-tuning (needs --finetune-blocks all)
  --image-size PX      build (and later run) the teacher at this input size instead of the
                       backbone's own (224): e.g. the student's, so the teacher sees what it sees
  --max-images N       an evenly spaced subset of at most N images per split
  --out DIR            default data/teachers/<name>/; never the --data or --backbone folder
                       (nor a folder holding either)
  --name NAME          the default folder's name (letters, digits, ".", "_", "-")
  --force              replace a non-empty --out (a teacher built before included)`;

/** `--flag` values of the teacher command as {@linkcode BuildTeacherOptions}. */
export function teacherOptions(f: Args): BuildTeacherOptions {
  return {
    from: f.backbone as string | undefined,
    data: f.data as string | undefined,
    out: f.out as string | undefined,
    name: f.name as string | undefined,
    force: Boolean(f.force),
    featuresFrom: f["features-from"] as string | undefined,
    trainFraction: numberFlag("train-fraction", f["train-fraction"]),
    finetuneBlocks: f["finetune-blocks"] === "all"
      ? "all"
      : intFlag("finetune-blocks", f["finetune-blocks"]),
    augment: f.augment as string | undefined,
    finetuneEpochs: intFlag("finetune-epochs", f["finetune-epochs"]),
    finetuneLr: numberFlag("finetune-lr", f["finetune-lr"]),
    weightDecays: numberListFlag("weight-decays", f["weight-decays"]),
    epochs: numberListFlag("epochs", f.epochs),
    lr: numberFlag("lr", f.lr),
    batchSize: intFlag("batch-size", f["batch-size"]),
    seed: intFlag("seed", f.seed),
    maxImages: intFlag("max-images", f["max-images"]),
    imageSize: intFlag("image-size", f["image-size"]),
    quiet: Boolean(f.quiet),
  };
}

/** The teacher command under the common CLI contract. */
export const teacherCommand: CommandSpec<TeacherResult> = {
  usage: USAGE,
  string: [
    "backbone",
    "data",
    "out",
    "name",
    "features-from",
    "train-fraction",
    "finetune-blocks",
    "augment",
    "finetune-epochs",
    "finetune-lr",
    "weight-decays",
    "epochs",
    "lr",
    "batch-size",
    "seed",
    "max-images",
    "image-size",
  ],
  boolean: ["force", "quiet"],
  // `sweep` always spelled the backbone --backbone (env KD_BACKBONE): one concept, one spelling.
  renamed: { from: "backbone" },
  json: true,
  backend: true,
  run: (f) => buildTeacher(teacherOptions(f)),
  print: (r) => {
    console.log(
      `validation accuracy: ${(100 * r.val_accuracy).toFixed(2)}% (${r.val_images} images, ` +
        `loss ${r.val_loss.toFixed(4)})`,
    );
    console.log(`saved teacher to ${r.out} (use --teacher dir:${r.out})`);
  },
};

/** Parse `args` and build (for tests and scripts: errors are thrown, not printed). */
export async function runTeacher(args: string[]): Promise<TeacherResult> {
  const f = parseCommandArgs(teacherCommand as CommandSpec<unknown>, args);
  await initBackend(f.backend as string | undefined, { quiet: true });
  return await buildTeacher(teacherOptions(f));
}

if (import.meta.main) await runCommand(teacherCommand);
