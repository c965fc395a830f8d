/**
 * Evaluating a trained model on one split: the only place the test split is meant to be read,
 * after selection on validation. The model's classes and the data's are matched by name (a
 * model with only generic names, `LABEL_0`…, is taken in order when the counts agree); the
 * result can be recorded beside a run as `<split>_eval.json`, per-image predictions included so
 * that paired tests between runs are possible.
 * @module
 */
import { join } from "node:path";
import { ensureBackend } from "./backend.ts";
import { UserError } from "./core/errors.ts";
import { exists, writeJsonAtomic } from "./core/fs.ts";
import { loadSplit } from "./data/dataset.ts";
import { resolveSplit } from "./data/resolve.ts";
import type { Classifier } from "./models/model.ts";
import { createModel, loadModel } from "./models/registry.ts";
import { argmaxRows, type EvalMetrics, evaluateLogits, metricsJson } from "./metrics.ts";
import { predictLogits } from "./predict.ts";

const GENERIC = /^(class|LABEL)_\d+$/;

/** The run directory `model` names (a folder with `best/`), or null for any other spec. */
export async function runDirOf(model: string): Promise<string | null> {
  return await exists(join(model, "best", "config.json")) ? model : null;
}

/** Load what `--model` names: a run directory (its `best/`), a saved model directory, or a spec. */
export async function resolveModel(model: string, classNames: string[]): Promise<Classifier> {
  if (await runDirOf(model)) return await loadModel(join(model, "best"));
  if (await exists(join(model, "config.json")) && !/^[a-z-]+:/.test(model)) {
    return await loadModel(model);
  }
  return await createModel(model, { numLabels: classNames.length, labels: classNames });
}

/**
 * The outcome of {@linkcode evaluateModel}.
 *
 * @example The images the tiny ViT fixture gets wrong
 * ```ts
 * import { evaluateModel, type Evaluation } from "@kd/vision/metrics";
 *
 * const e: Evaluation = await evaluateModel({
 *   model: "hf-dir:tests/fixtures/vit_tiny",
 *   data: "tests/fixtures/beans",
 *   split: "validation",
 *   quiet: true,
 * });
 * const wrong = e.ids.filter((_, i) => e.predictions[i] !== e.labels[i]);
 * console.log(e.split, e.metrics.accuracy, wrong.length, e.classNames[e.predictions[0]]);
 * ```
 */
export interface Evaluation {
  /** The split evaluated, e.g. "validation". */
  split: string;
  /** Accuracy, macro-F1, calibration and the confusion matrix on it. */
  metrics: EvalMetrics;
  /** Class names in the model's label order (the data was aligned to them). */
  classNames: string[];
  /** Stable id of each image (`image_file_path`, or `row:<i>`), in split order. */
  ids: string[];
  /** True class of each image, in the model's label order. */
  labels: Int32Array;
  /** Predicted class (argmax of the logits) of each image. */
  predictions: Int32Array;
}

/**
 * Evaluate `model` (run dir, model dir or spec) on one split of `data`.
 *
 * @example The tiny ViT fixture on the fixture's validation split
 * ```ts
 * import { evaluateModel } from "@kd/vision/metrics";
 * import { assertEquals } from "@std/assert";
 *
 * const e = await evaluateModel({
 *   model: "hf-dir:tests/fixtures/vit_tiny",
 *   data: "tests/fixtures/beans",
 *   split: "validation",
 *   quiet: true,
 * });
 * assertEquals(e.predictions.length, 15);
 * console.log(e.metrics.accuracy, e.metrics.macroF1);
 * ```
 */
export async function evaluateModel(opts: {
  model: string;
  data?: string;
  split: string;
  labels?: string[];
  skipBadImages?: boolean;
  quiet?: boolean;
}): Promise<Evaluation> {
  await ensureBackend();
  // Class names come from the index; images are decoded once, at the model's own size, below.
  const index = await resolveSplit({ ...opts, quiet: true });
  if (index.labels.length === 0) throw new UserError(`${index.source}: the split has no rows`);
  const model = await resolveModel(opts.model, index.classNames);
  try {
    const own = model.config.labels;
    const generic = !own || own.every((l) => GENERIC.test(l));
    if (generic && model.config.numLabels !== index.classNames.length) {
      throw new UserError(
        `${opts.model} has ${model.config.numLabels} classes but ${index.source} has ` +
          `${index.classNames.length} [${index.classNames.join(", ")}]`,
      );
    }
    const split = await loadSplit({
      ...opts,
      classNames: generic ? undefined : own,
      preprocess: model.input,
    });
    const logits = await predictLogits(model, split, {
      label: `eval ${opts.split}`,
      quiet: opts.quiet,
    });
    const k = model.config.numLabels;
    return {
      split: opts.split,
      metrics: evaluateLogits(logits, split.labels, k),
      classNames: generic ? split.classNames : own!,
      ids: split.ids,
      labels: split.labels,
      predictions: argmaxRows(logits, k),
    };
  } finally {
    model.dispose();
  }
}

/** The JSON of an evaluation (the `--json` output and `<split>_eval.json`). */
export function evaluationJson(e: Evaluation, data?: string): Record<string, unknown> {
  return {
    split: e.split,
    ...metricsJson(e.metrics),
    class_names: e.classNames,
    data: data ?? null,
    ids: e.ids,
    labels: [...e.labels],
    predictions: [...e.predictions],
  };
}

/** Record an evaluation beside its run as `<split>_eval.json` (what reports show); returns the path. */
export async function recordEvaluation(
  runDir: string,
  e: Evaluation,
  data?: string,
): Promise<string> {
  const path = join(runDir, `${e.split}_eval.json`);
  await writeJsonAtomic(path, {
    ...evaluationJson(e, data),
    evaluated_at: new Date().toISOString(),
  });
  return path;
}
