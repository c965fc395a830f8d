/**
 * What the student is distilled towards: the teacher's logits, aligned to the dataset's classes
 * by name. Without augmentation they are computed once per image and cached on disk by sample id
 * (`teacher_cache.ts`); with augmentation the teacher must see each random view the student sees
 * (consistent teaching), so it stays loaded and runs online on every batch, unless the views
 * are fixed in advance (`teacherViews`: K per image), whose logits are cached like the rest.
 * @module
 */
import * as tf from "../tf.ts";
import { UserError } from "../core/errors.ts";
import type { ImageSplit } from "../data/dataset.ts";
import { rowsOfIds, subsetSplit } from "../data/subset.ts";
import { type BatchView, imageViews, viewInput } from "./views.ts";
import { teacherViewLogits } from "../teacher_views.ts";
import { parseAugment } from "../data/augment.ts";
import type { Classifier } from "../models/model.ts";
import { createModel } from "../models/registry.ts";
import { evaluateLogits } from "../metrics.ts";
import { teacherLogits } from "../teacher_cache.ts";
import type { TrainConfig } from "./config.ts";
import { loadConfigSplit, type RunData } from "./data.ts";

const GENERIC = /^(class|LABEL)_\d+$/;

/**
 * Teacher logits with columns reordered to the dataset's classes, matched by name after
 * `labelMap` (`teacher name → dataset name`). A teacher whose classes are only generic
 * (`LABEL_0`, `class_1`, …) is taken in order when the counts agree; any other mismatch is an
 * error naming both class lists.
 */
export function alignTeacherColumns(
  logits: Float32Array,
  teacherLabels: string[] | undefined,
  classNames: string[],
  labelMap: Record<string, string> | undefined,
  teacherSpec: string,
): Float32Array {
  const k = teacherLabels?.length ?? classNames.length;
  // A key that names no teacher class maps nothing, yet the run's config would record it.
  const unknown = Object.keys(labelMap ?? {}).filter((l) => !teacherLabels?.includes(l));
  if (unknown.length) {
    throw new UserError(
      `--label-map: ${unknown.join(", ")} ${unknown.length > 1 ? "are" : "is"} not among teacher ` +
        `${teacherSpec}'s classes [${(teacherLabels ?? []).join(", ")}]`,
    );
  }
  const generic = !teacherLabels || teacherLabels.every((l) => GENERIC.test(l));
  if (generic && !labelMap) {
    if (k !== classNames.length) {
      throw new UserError(
        `teacher ${teacherSpec} has ${k} classes but the dataset has ${classNames.length} ` +
          `[${classNames.join(", ")}]`,
      );
    }
    return logits;
  }
  const names = teacherLabels!.map((l) => labelMap?.[l] ?? l);
  const cols = classNames.map((c) => names.indexOf(c));
  if (names.length !== classNames.length || cols.some((c) => c < 0)) {
    throw new UserError(
      `teacher ${teacherSpec} classes [${teacherLabels!.join(", ")}]${
        labelMap ? ` (mapped: [${names.join(", ")}])` : ""
      } do not match the dataset's [${classNames.join(", ")}]; ` +
        `map them with --label-map teacher=dataset,...`,
    );
  }
  if (cols.every((c, i) => c === i)) return logits;
  const n = logits.length / k;
  const out = new Float32Array(n * classNames.length);
  for (let i = 0; i < n; i++) {
    cols.forEach((c, j) => out[i * classNames.length + j] = logits[i * k + c]);
  }
  return out;
}

/** Load a teacher for a dataset: its own class names are kept (and aligned by name later). */
export async function loadTeacher(
  spec: string,
  classNames: string[],
  opts: { quiet?: boolean } = {},
): Promise<Classifier> {
  return await createModel(spec, {
    numLabels: classNames.length,
    labels: classNames,
    quiet: opts.quiet,
  });
}

/** Distillation targets of a run (see the module doc). */
export interface Targets {
  /** Teacher logits of the validation subset, aligned (for val loss, agreement, KL). */
  val: Float32Array;
  /** Teacher accuracy on the validation subset. */
  valAccuracy: number;
  /** Teacher logits `[idx.length × k]` for a training batch seen through `view`. */
  batch(idx: Int32Array, view: BatchView): Promise<tf.Tensor2D>;
  /** Whether the teacher runs on every batch (else its logits were computed beforehand). */
  online: boolean;
  dispose(): void;
}

/**
 * Prepare the targets: cached logits for every image, cached logits for each of its K views
 * (`teacherViews`), or an online teacher under augmentation (or when `online` forces it).
 */
export async function makeTargets(
  config: TrainConfig,
  data: RunData,
  opts: { online: boolean; quiet?: boolean },
): Promise<Targets> {
  const spec = config.teacher!;
  const k = data.classNames.length;
  const teacher = await loadTeacher(spec, data.classNames, opts);
  try {
    const load = (split: string, classNames?: string[]) =>
      loadConfigSplit(config, split, teacher.input, { classNames, quiet: opts.quiet });
    const align = (l: Float32Array) =>
      alignTeacherColumns(l, teacher.config.labels, data.classNames, config.labelMap, spec);
    const tTrain = await load(config.trainSplit);
    const tVal = await load(config.valSplit, data.classNames);
    if (!opts.quiet) {
      console.error(`teacher ${spec}: logits at ${teacher.input.size} px (cached by sample id)`);
    }
    const cached = (s: ImageSplit, ids: string[]) =>
      teacherLogits(teacher, spec, s, { ids, quiet: opts.quiet });
    const val = align(await cached(tVal, data.val.ids));
    const valAccuracy = evaluateLogits(val, data.val.labels, k).accuracy;
    if (!opts.quiet) {
      console.error(
        `teacher validation accuracy ${(valAccuracy * 100).toFixed(1)}% (n=${data.val.n})`,
      );
    }
    if (opts.online) {
      // Rows of the teacher's split in the student's training order, so batch indices agree.
      const split = subsetSplit(tTrain, rowsOfIds(tTrain, data.train.ids));
      return {
        val,
        valAccuracy,
        online: true,
        async batch(idx, view) {
          const x = viewInput(split, idx, teacher.input, view);
          const raw = tf.tidy(() => teacher.apply(x, { training: false }));
          const aligned = align(await raw.data() as Float32Array);
          tf.dispose([x, raw]);
          return tf.tensor2d(aligned, [idx.length, k]);
        },
        dispose: () => teacher.dispose(),
      };
    }
    if (config.teacherViews) {
      const K = config.teacherViews;
      const augment = parseAugment(config.augment);
      const at = { seed: config.seed, size: config.imageSize };
      const recipe = { augment: config.augment, k: K, ...at };
      const views = (id: string) => imageViews(id, augment, K, at);
      const raw = await teacherViewLogits(teacher, spec, tTrain, data.train.ids, recipe, views, {
        quiet: opts.quiet,
      });
      const train = align(raw);
      teacher.dispose();
      return {
        val,
        valAccuracy,
        online: false,
        batch(idx, view) {
          if (!view.picks) throw new Error("cached teacher views: the batch has no view picks");
          const out = new Float32Array(idx.length * k);
          idx.forEach((row, i) => {
            const at = (row * K + view.picks![i]) * k;
            out.set(train.subarray(at, at + k), i * k);
          });
          return Promise.resolve(tf.tensor2d(out, [idx.length, k]));
        },
        dispose() {},
      };
    }
    const train = align(await cached(tTrain, data.train.ids));
    teacher.dispose();
    return {
      val,
      valAccuracy,
      online: false,
      batch(idx) {
        const out = new Float32Array(idx.length * k);
        idx.forEach((row, i) => out.set(train.subarray(row * k, row * k + k), i * k));
        return Promise.resolve(tf.tensor2d(out, [idx.length, k]));
      },
      dispose() {},
    };
  } catch (e) {
    teacher.dispose();
    throw e;
  }
}
