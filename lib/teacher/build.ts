/**
 * Building a beans teacher from a pretrained CNN backbone (any spec `openBackbone` reads; by
 * default the hub's ImageNet MobileNetV2): a linear probe on frozen, disk-cached features is
 * fitted over a weight-decay × epochs grid and selected on the validation split (the test split
 * is never read); `finetuneBlocks: K` then fine-tunes the last K blocks (+ head) from cached
 * activations, or `finetuneBlocks: "all"` every block after the stem from the images, under
 * `augment` (crop, flip, mixup) when given; each epoch is kept only if validation improves. The
 * result is saved as a model folder usable as `dir:PATH`; its `config.json` `info` records how
 * (snake_case, `val_accuracy` included).
 *
 * Weaker teachers for strength sweeps: `trainFraction: 0.1` (probe on a stratified 10%) or
 * `featuresFrom: "block:1"` (features pooled at the end of an early block).
 * @module
 */
import * as tf from "../tf.ts";
import { UserError } from "../core/errors.ts";
import { type ImageSplit, loadSplit, toTensor } from "../data/dataset.ts";
import { dataDir, resolveSplit } from "../data/resolve.ts";
import { evenlySpaced, subsetSplit } from "../data/subset.ts";
import { saveModel } from "../models/checkpoint.ts";
import { specFolder } from "../models/registry.ts";
import { checkName, checkOut, overlap } from "../core/paths.ts";
import { projectPath } from "../core/project.ts";
import { makeStagingDir } from "../core/fs.ts";
import { dirname, resolve } from "node:path";
import { backboneSpec, openBackbone } from "./backbone.ts";
import { calibrateBatchNorm } from "../models/unfold_mobilenet_v2.ts";
import { MAX_IMAGE_SIZE, type PreprocessOptions } from "../data/preprocess.ts";
import {
  fitProbe,
  type ProbeResult,
  scoreLogits,
  stratifiedSubset,
  subsetFeatures,
} from "./probe.ts";
import { type SplitFeatures, splitFeatures } from "./features.ts";
import { finetuneFromImages, finetuneTail } from "./finetune.ts";
import { augmentEnabled, parseAugment } from "../data/augment.ts";

/**
 * How a teacher is built (everything but where from and where to).
 *
 * @example A weaker teacher: the probe sees a stratified half of train, one grid point
 * ```ts
 * import { buildTeacher, type TeacherSettings } from "@kd/vision/models";
 *
 * const settings: Partial<TeacherSettings> = {
 *   trainFraction: 0.5,
 *   weightDecays: [1e-2],
 *   epochs: [10],
 *   seed: 1,
 * };
 * const teacher = await buildTeacher({
 *   ...settings,
 *   from: "hf-dir:tests/fixtures/mobilenet_v2_tiny",
 *   data: "tests/fixtures/beans",
 *   out: await Deno.makeTempDir(),
 *   quiet: true,
 * });
 * console.log(teacher.train_images); // 12 of the 24
 * ```
 */
export interface TeacherSettings {
  /** Point to pool features at: a backbone point name or `block:K` (default: the full network). */
  featuresFrom?: string;
  /** Fraction of the training images the probe sees (stratified; default 1). */
  trainFraction: number;
  /**
   * Blocks at the end to fine-tune after the probe (default 0: probe only), from cached
   * activations; `"all"`: every block after the stem, from the images (slower: the whole
   * network runs forward and backward each step, which is what lets it see augmented views).
   */
  finetuneBlocks: number | "all";
  /**
   * Augmentation of the images while fine-tuning with `finetuneBlocks: "all"` (an `--augment`
   * spec, e.g. `crop=0.35-1,flip`; default none). Cached activations cannot show augmented
   * views, so any other fine-tuning refuses it.
   */
  augment?: string;
  /** Epochs of fine-tuning; the best epoch on validation is kept (default 5). */
  finetuneEpochs: number;
  /** Adam learning rate of the fine-tuning (default 1e-4). */
  finetuneLr: number;
  /** L2 penalties `wd/2·‖W‖²` of the probe's grid (default 0, 1e-3, 1e-2, 1e-1). */
  weightDecays: number[];
  /** Probe epoch counts evaluated (default 10, 30, 100). */
  epochs: number[];
  /** Adam learning rate of the probe (default 1e-2). */
  lr: number;
  /** Images per batch when computing features and fine-tuning (default 32). */
  batchSize: number;
  /** Seed of the probe's shuffling, the train subset and any new weights (default 0). */
  seed: number;
  /** Evenly spaced subset of at most this many images per split (0: all). */
  maxImages: number;
  /**
   * Input side in pixels the teacher is built and later run at (default: the backbone's own,
   * 224 for the ImageNet MobileNetV2). A MobileNetV2 is fully convolutional, so the pretrained
   * weights carry over; at the student's size the teacher sees exactly what the student sees.
   */
  imageSize?: number;
}

/** The defaults of {@linkcode TeacherSettings}. */
export const TEACHER_DEFAULTS: TeacherSettings = {
  trainFraction: 1,
  finetuneBlocks: 0,
  finetuneEpochs: 5,
  finetuneLr: 1e-4,
  weightDecays: [0, 1e-3, 1e-2, 1e-1],
  epochs: [10, 30, 100],
  lr: 1e-2,
  batchSize: 32,
  seed: 0,
  maxImages: 0,
};

/**
 * Options of {@linkcode buildTeacher}: where from and where to, and any
 * {@linkcode TeacherSettings} to change.
 *
 * @example Build into a folder, with progress lines collected rather than printed
 * ```ts
 * import { buildTeacher, type BuildTeacherOptions } from "@kd/vision/models";
 *
 * const lines: string[] = [];
 * const opts: BuildTeacherOptions = {
 *   from: "hf-dir:tests/fixtures/mobilenet_v2_tiny",
 *   data: "tests/fixtures/beans",
 *   out: await Deno.makeTempDir(),
 *   weightDecays: [0],
 *   epochs: [10],
 *   log: (line) => lines.push(line),
 * };
 * await buildTeacher(opts);
 * console.log(lines.join("\n"));
 * ```
 */
export interface BuildTeacherOptions extends Partial<TeacherSettings> {
  /** Backbone spec (default: `KD_BACKBONE`, else the hub's ImageNet MobileNetV2). */
  from?: string;
  /** Dataset folder (default: `KD_DATA`, else beans from the Hugging Face cache). */
  data?: string;
  /**
   * Output folder (default `data/teachers/<name>` in the repository); a non-empty one (a teacher
   * built before included) is replaced only with `force`.
   */
  out?: string;
  /**
   * Name for the default output folder (default from the settings, e.g. `mnv2-probe`): a plain
   * name (letters, digits, ".", "_", "-").
   */
  name?: string;
  /** Replace a non-empty `out` (`--force`). */
  force?: boolean;
  /** Print no progress lines (unless `log` is given). */
  quiet?: boolean;
  /** Where progress lines go (default stderr unless quiet). */
  log?: (line: string) => void;
}

/**
 * What {@linkcode buildTeacher} made (snake_case: it is printed by `--json`).
 *
 * @example Use the teacher just built as the teacher of a distillation
 * ```ts
 * import { buildTeacher, type TeacherResult } from "@kd/vision/models";
 *
 * const teacher: TeacherResult = await buildTeacher({
 *   from: "hf-dir:tests/fixtures/mobilenet_v2_tiny",
 *   data: "tests/fixtures/beans",
 *   out: await Deno.makeTempDir(),
 *   weightDecays: [0],
 *   epochs: [10],
 *   quiet: true,
 * });
 * const spec = `dir:${teacher.out}`; // what `train({ teacher })` takes
 * console.log(spec, teacher.feature_point, teacher.feature_size, teacher.val_accuracy);
 * ```
 */
export interface TeacherResult {
  /** The folder the teacher was saved to (a model folder: use it as `dir:<out>`). */
  out: string;
  /** The teacher's name (the default folder's name, e.g. `mnv2-probe`). */
  name: string;
  /** The backbone spec it was built from. */
  from: string;
  /** Commit of the backbone's hub repository, when it came from the hub. */
  backbone_commit: string | null;
  /** The backbone point the features are pooled at (e.g. `conv_1x1`, `layer.3`). */
  feature_point: string;
  /** Length of the pooled feature vector the head reads. */
  feature_size: number;
  /** Input side in pixels the teacher runs at. */
  image_size: number;
  /** Training images the probe was fitted on (after `trainFraction` and `maxImages`). */
  train_images: number;
  /** Validation images it was selected and scored on. */
  val_images: number;
  /** Accuracy in [0, 1] of the saved model on those validation images. */
  val_accuracy: number;
  /** Mean cross-entropy of the saved model on those validation images. */
  val_loss: number;
}

/** Check settings; a bad one is a UserError naming the `--flag` that sets it. */
export function validateTeacherSettings(s: TeacherSettings): void {
  const bad = (flag: string, what: string, v: unknown) => {
    throw new UserError(`--${flag} must be ${what}, got ${JSON.stringify(v)}`);
  };
  const int = (v: number, min: number) => Number.isInteger(v) && v >= min;
  if (!(s.trainFraction > 0 && s.trainFraction <= 1)) {
    bad("train-fraction", "in (0, 1]", s.trainFraction);
  }
  if (s.finetuneBlocks !== "all" && !int(s.finetuneBlocks, 0)) {
    bad("finetune-blocks", "an integer >= 0 or all", s.finetuneBlocks);
  }
  if (s.augment !== undefined && augmentEnabled(parseAugment(s.augment))) {
    if (s.finetuneBlocks !== "all") {
      throw new UserError(
        "--augment needs --finetune-blocks all: the probe and tail fine-tuning learn from " +
          "cached features, which cannot be augmented",
      );
    }
  }
  if (!int(s.finetuneEpochs, 1)) bad("finetune-epochs", "an integer >= 1", s.finetuneEpochs);
  if (!(s.finetuneLr > 0)) bad("finetune-lr", "> 0", s.finetuneLr);
  if (!(s.lr > 0)) bad("lr", "> 0", s.lr);
  if (!int(s.batchSize, 1)) bad("batch-size", "a positive integer", s.batchSize);
  // As train's --seed: a negative one wraps to another seed (-1 builds what 4294967295 does).
  if (!int(s.seed, 0)) bad("seed", "an integer >= 0", s.seed);
  if (!int(s.maxImages, 0)) bad("max-images", "a positive integer", s.maxImages);
  if (!s.weightDecays.length || s.weightDecays.some((w) => !(w >= 0))) {
    bad("weight-decays", "a comma-separated list of non-negative numbers", s.weightDecays);
  }
  if (!s.epochs.length || s.epochs.some((e) => !int(e, 1))) {
    bad("epochs", "a comma-separated list of integers >= 1", s.epochs);
  }
  // Five stride-2 stages: below 32 px the last feature map would be under 1×1.
  if (s.imageSize !== undefined && !(int(s.imageSize, 32) && s.imageSize <= MAX_IMAGE_SIZE)) {
    bad("image-size", `an integer from 32 to ${MAX_IMAGE_SIZE}`, s.imageSize);
  }
}

/** The default folder name for a teacher built with `s` (e.g. `mnv2-probe`, `mnv2-at-block-1-f0.1`). */
export function teacherName(s: Partial<TeacherSettings>): string {
  return [
    "mnv2",
    s.featuresFrom ? `at-${s.featuresFrom}` : "probe",
    s.trainFraction !== undefined && s.trainFraction < 1 ? `f${s.trainFraction}` : "",
    s.finetuneBlocks ? `ft${s.finetuneBlocks}` : "",
    s.augment && s.finetuneBlocks === "all" ? "aug" : "",
    s.imageSize ? `s${s.imageSize}` : "",
  ].filter(Boolean).join("-").replace(/[^\w.-]+/g, "-");
}

/**
 * Refuse an `out` that would lose files when the teacher is saved: saving replaces the whole
 * folder, so it must not be (or hold) the data or the backbone the build reads, nor hold
 * anything (someone's files, a previous teacher) unless `force`. Checked before any work.
 */
async function checkTeacherOut(
  out: string,
  opts: { from: string; data?: string; force?: boolean; defaultOut: boolean },
): Promise<void> {
  const read: [string, string][] = [];
  const data = dataDir(opts.data);
  if (!data.isDefault) read.push(["--data", data.dir]);
  let backbone: string | null = null;
  try {
    backbone = specFolder(opts.from);
  } catch { /* a bad spec is reported where the backbone is opened, by its own message */ }
  if (backbone) read.push(["--backbone", backbone]);
  for (const [flag, dir] of read) {
    const how = await overlap(out, dir);
    if (how) {
      throw new UserError(
        `--out ${out} ${how} the ${flag} folder ${dir}; saving the teacher there would replace ` +
          "what it is built from, so choose a folder outside it",
      );
    }
  }
  await checkOut(out, opts.force, opts.defaultOut ? `${out} (the default --out)` : undefined);
  // A folder that cannot be written is found now, not after minutes of building: the teacher
  // is saved through a staging folder beside --out, so that is what must be possible.
  const parent = dirname(resolve(out));
  await Deno.mkdir(parent, { recursive: true });
  await Deno.remove(await makeStagingDir(parent, ".kd-write-check-"));
}

function pct(x: number): string {
  return `${(100 * x).toFixed(2)}%`;
}

function limited(s: ImageSplit, max: number): ImageSplit {
  if (!max || max >= s.n) return s;
  // Evenly spaced rows keep every class (rows are sorted by class); the key names the subset.
  return { ...subsetSplit(s, evenlySpaced(s.n, max)), checksum: `${s.checksum}:evenly-${max}` };
}

/** Up to `max` evenly spaced images of `split` (every class), unaugmented, one batch at a time. */
function* trainBatches(
  split: ImageSplit,
  pre: PreprocessOptions,
  batchSize: number,
  max: number,
): Generator<tf.Tensor4D> {
  const rows = evenlySpaced(split.n, Math.min(max, split.n));
  for (let b = 0; b < rows.length; b += batchSize) {
    const x = toTensor(split, rows.subarray(b, b + batchSize), pre);
    yield x;
    x.dispose();
  }
}

const snakeProbe = (r: ProbeResult) => ({
  weight_decay: r.weightDecay,
  epochs: r.epochs,
  train_accuracy: r.trainAcc,
  val_accuracy: r.valAcc,
  val_loss: r.valLoss,
});

/**
 * Build a teacher (see the module doc) and save it; returns where and how good it is.
 *
 * @example A linear-probe teacher on the tiny MobileNetV2 fixture's features
 * ```ts
 * import { buildTeacher } from "@kd/vision/models";
 *
 * const out = await Deno.makeTempDir();
 * const teacher = await buildTeacher({
 *   from: "hf-dir:tests/fixtures/mobilenet_v2_tiny",
 *   data: "tests/fixtures/beans",
 *   out,
 *   quiet: true,
 * });
 * console.log(teacher.val_accuracy); // use it as `dir:${out}`
 * ```
 */
export async function buildTeacher(opts: BuildTeacherOptions = {}): Promise<TeacherResult> {
  const s: TeacherSettings = { ...TEACHER_DEFAULTS };
  for (const [k, v] of Object.entries(opts)) {
    const optional = k === "featuresFrom" || k === "augment" || k === "imageSize";
    if (v !== undefined && (k in TEACHER_DEFAULTS || optional)) {
      (s as unknown as Record<string, unknown>)[k] = v;
    }
  }
  validateTeacherSettings(s);
  const quiet = opts.quiet ?? false;
  const log = opts.log ?? ((l: string) => quiet || console.error(l));
  const from = backboneSpec(opts.from);
  // The name becomes a folder under data/teachers/: never a path out of it.
  const name = opts.name === undefined ? teacherName(s) : checkName("--name", opts.name);
  const out = opts.out ?? projectPath(`data/teachers/${name}`);
  await checkTeacherOut(out, {
    from,
    data: opts.data,
    force: opts.force,
    defaultOut: opts.out === undefined,
  });

  // The data first: its absence is the likeliest problem offline, and it is cheap to check.
  const labels = (await resolveSplit({ data: opts.data, split: "train", quiet })).classNames;
  // Validation follows the training split's classes by name (`labels` would relabel its rows).
  await resolveSplit({ data: opts.data, split: "validation", classNames: labels, quiet });
  const { model, commit, unfolded } = await openBackbone(from, {
    numLabels: labels.length,
    labels,
    featuresFrom: s.featuresFrom,
    imageSize: s.imageSize,
    seed: s.seed,
    quiet,
  });
  try {
    const pre = model.input;
    const train = limited(
      await loadSplit({ data: opts.data, split: "train", preprocess: pre, quiet }),
      s.maxImages,
    );
    const val = limited(
      await loadSplit({
        data: opts.data,
        split: "validation",
        classNames: labels,
        preprocess: pre,
        quiet,
      }),
      s.maxImages,
    );
    const point = model.featurePoint;
    if (unfolded) {
      log(
        `teacher: ${from} is a MobileNetV2 with folded batch norms; converted to the toolkit's ` +
          `MobileNetV2 (same features, fused training kernels)`,
      );
    }
    log(
      `teacher: ${from} at ${pre.size} px, features at ${point} (${model.featureSize}-d); ` +
        `train ${train.n}, validation ${val.n} images`,
    );
    const fOpts = { layer: point, batchSize: s.batchSize, quiet };
    const fTrain = await splitFeatures(model, train, fOpts);
    const fVal = await splitFeatures(model, val, fOpts);
    const asSet = (f: SplitFeatures) => ({ x: f.data, dim: f.shape[1], y: f.labels });
    let trainSet = asSet(fTrain);
    let subset: Int32Array | undefined;
    if (s.trainFraction < 1) {
      subset = stratifiedSubset(train.labels, s.trainFraction, s.seed);
      trainSet = subsetFeatures(trainSet, subset);
      log(`probe on a stratified ${pct(s.trainFraction)} of train: ${subset.length} images`);
    }
    const grid: ProbeResult[] = [];
    const probe = fitProbe(trainSet, asSet(fVal), {
      numLabels: labels.length,
      weightDecays: s.weightDecays,
      epochs: s.epochs,
      lr: s.lr,
      seed: s.seed,
      onResult: (r) => {
        grid.push(r);
        log(
          `  probe wd=${r.weightDecay} epochs=${r.epochs}: train ${pct(r.trainAcc)}  ` +
            `validation ${pct(r.valAcc)} (loss ${r.valLoss.toFixed(4)})`,
        );
      },
    });
    log(
      `selected on validation: wd=${probe.best.weightDecay} epochs=${probe.best.epochs} ` +
        `-> ${pct(probe.best.valAcc)}`,
    );
    const head = model.stateVariables();
    tf.tidy(() => {
      head.get("classifier.weight")!.assign(
        tf.tensor2d(probe.head.weight, [probe.head.dim, probe.head.numLabels]),
      );
      head.get("classifier.bias")!.assign(tf.tensor1d(probe.head.bias));
    });
    let finetune: Record<string, unknown> | undefined;
    const bounds = model.boundaries();
    // "all" trains from the first boundary: the stem (one 3×3 conv) stays as pretrained.
    const K = s.finetuneBlocks === "all" ? bounds.length : s.finetuneBlocks;
    if (K > 0) {
      if (K > bounds.length) {
        throw new UserError(
          `--finetune-blocks ${K}: the model has only ${bounds.length} blocks before ${point}`,
        );
      }
      const boundary = bounds[bounds.length - K];
      const fromImages = s.finetuneBlocks === "all";
      log(
        `fine-tuning ${
          fromImages ? "every block after the stem" : `the last ${K} block(s)`
        } after ${boundary} (+ head), ${s.finetuneEpochs} epoch(s)` +
          (fromImages ? ` from the images${s.augment ? `, augment ${s.augment}` : ""}` : ""),
      );
      // Cached activations are read before any fallback to the cpu backend (features only).
      let aTrain: SplitFeatures | undefined, aVal: SplitFeatures | undefined;
      if (!fromImages) {
        const aOpts = { layer: boundary, batchSize: s.batchSize, quiet };
        aTrain = await splitFeatures(model, train, aOpts);
        aVal = await splitFeatures(model, val, aOpts);
        if (subset) {
          const per = aTrain.data.length / aTrain.shape[0];
          const d = new Float32Array(subset.length * per);
          const all = aTrain.data;
          subset.forEach((i, k) => d.set(all.subarray(i * per, (i + 1) * per), k * per));
          aTrain = {
            ...aTrain,
            shape: [subset.length, ...aTrain.shape.slice(1)],
            data: d,
            labels: Int32Array.from(subset, (i) => train.labels[i]),
          };
        }
      }
      if (unfolded) {
        const n = calibrateBatchNorm(unfolded, trainBatches(train, pre, s.batchSize, 256));
        log(`batch-norm statistics measured on ${n} training images (eval-mode output unchanged)`);
      }
      const missing = model.missingKernels(boundary);
      const backend = tf.getBackend();
      if (missing.length) {
        log(`note: backend ${backend} lacks ${missing.join(", ")}; fine-tuning on cpu`);
        await tf.setBackend("cpu");
      }
      const fOpts = {
        epochs: s.finetuneEpochs,
        lr: s.finetuneLr,
        batchSize: s.batchSize,
        seed: s.seed,
        quiet,
        onEpoch: (e: { epoch: number; valAcc: number; valLoss: number }) =>
          log(`  epoch ${e.epoch}: validation ${pct(e.valAcc)} (loss ${e.valLoss.toFixed(4)})`),
      };
      try {
        let r;
        if (fromImages) {
          const images = subset ? subsetSplit(train, subset) : train;
          r = await finetuneFromImages(model, boundary, images, val, {
            ...fOpts,
            augment: s.augment,
          });
        } else {
          r = await finetuneTail(model, boundary, aTrain!, aVal!, fOpts);
        }
        log(`kept epoch ${r.best.epoch} (${r.best.epoch === 0 ? "probe only" : "fine-tuned"})`);
        finetune = {
          blocks: s.finetuneBlocks,
          boundary,
          epochs: s.finetuneEpochs,
          lr: s.finetuneLr,
          augment: fromImages ? s.augment ?? null : null,
          history: r.history.map((h) => ({
            epoch: h.epoch,
            train_loss: h.trainLoss,
            val_accuracy: h.valAcc,
            val_loss: h.valLoss,
          })),
          best_epoch: r.best.epoch,
        };
      } finally {
        if (missing.length) await tf.setBackend(backend);
      }
    }
    // End-to-end check on the real validation images through the assembled model.
    const parts: tf.Tensor2D[] = [];
    for (let b = 0; b < val.n; b += s.batchSize) {
      const idx = Int32Array.from({ length: Math.min(s.batchSize, val.n - b) }, (_, i) => b + i);
      parts.push(tf.tidy(() => model.apply(toTensor(val, idx, pre))));
    }
    const logits = tf.concat(parts) as tf.Tensor2D;
    const score = scoreLogits(logits, val.labels);
    tf.dispose([...parts, logits]);
    const result: TeacherResult = {
      out,
      name,
      from,
      backbone_commit: commit ?? null,
      feature_point: point,
      feature_size: model.featureSize,
      image_size: pre.size,
      train_images: subset?.length ?? train.n,
      val_images: val.n,
      val_accuracy: score.acc,
      val_loss: score.loss,
    };
    await saveModel(model, out, {
      made_by: "buildTeacher (deno task teacher)",
      ...result,
      out: undefined,
      data: { train: train.checksum, validation: val.checksum },
      features_from: s.featuresFrom ?? null,
      train_fraction: s.trainFraction,
      max_images: s.maxImages,
      probe: { grid: grid.map(snakeProbe), best: snakeProbe(probe.best), lr: s.lr },
      finetune: finetune ?? null,
      seed: s.seed,
    });
    log(`validation accuracy: ${pct(score.acc)} (${val.n} images, loss ${score.loss.toFixed(4)})`);
    log(`saved teacher to ${out} (use --teacher dir:${out})`);
    return result;
  } finally {
    model.dispose();
  }
}
