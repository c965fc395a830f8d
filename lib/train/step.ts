/**
 * One optimisation step, the unit the trainer repeats and `deno task bench train` times: forward,
 * the guide's distillation loss (plain cross-entropy without a teacher), backward, gradient
 * clipping by global norm, and the optimizer update. A non-finite loss skips the update and is
 * reported to the caller, which stops the run with the last good checkpoint intact. Values are
 * read asynchronously, so the same step runs on GPU backends that cannot read synchronously.
 * @module
 */
import * as tf from "../tf.ts";
import type { Classifier } from "../models/model.ts";
import { distillationLoss, type DistillationOptions } from "../loss.ts";
import { globalNormClip, type Optimizer } from "../optim.ts";

/** One batch: normalised NHWC images, labels (integers, or soft rows under mixup), teacher logits (null: scratch). */
export interface StepBatch {
  x: tf.Tensor4D;
  labels: tf.Tensor1D | tf.Tensor2D;
  teacher: tf.Tensor2D | null;
}

/**
 * Loss values of one step (the update was applied only when `total` is finite).
 *
 * @example Watch a run's per-step loss for divergence
 * ```ts
 * import { presetRecipe, type StepLosses, train } from "@kd/vision/train";
 *
 * const steps: StepLosses[] = [];
 * await train({
 *   ...presetRecipe("smoke"),
 *   epochs: 1,
 *   student: "mobilenet_v2@0.35",
 *   teacher: "hf-dir:tests/fixtures/vit_tiny",
 *   data: "tests/fixtures/beans",
 *   trainSplit: "train",
 *   valSplit: "validation",
 *   seed: 0,
 * }, { out: await Deno.makeTempDir(), quiet: true, onStep: (_, l) => steps.push(l) });
 * console.log(steps.every((l) => Number.isFinite(l.total)), steps.map((l) => l.kd));
 * ```
 */
export interface StepLosses {
  /** The batch's loss `(1-λ)·ce + λ·w·kd` that was minimised (w: the method's warm-up weight). */
  total: number;
  /** The batch's mean cross-entropy. */
  ce: number;
  /** The batch's distillation term before λ and warm-up; 0 without a teacher. */
  kd: number;
}

/** A student bound to its optimizer, ready for {@linkcode trainStep}. */
export interface StepModel {
  student: Classifier;
  optimizer: Optimizer;
  /** Trainable variables by stable name (the optimizer's and checkpoint's keys). */
  params: Map<string, tf.Variable>;
  /** Stable name of each variable by tfjs id (gradients arrive keyed by id). */
  names: Map<string, string>;
}

/** The settings a step uses. */
export interface StepOptions extends DistillationOptions {
  /** Max global gradient norm; 0 disables clipping. */
  clipNorm: number;
  /** Warm-up weight of the distillation term in this epoch (`kdWarmupWeight`; default 1). */
  kdWeight?: number;
}

/** Bind a student and its optimizer for {@linkcode trainStep}. */
export function stepModel(student: Classifier, optimizer: Optimizer): StepModel {
  const params = student.trainableVariables();
  const names = new Map([...params].map(([name, v]) => [v.name, name]));
  return { student, optimizer, params, names };
}

/**
 * Run one training step on `batch` with learning rate `lr`; the batch tensors stay the
 * caller's. `poison` (tests) replaces the loss by NaN to exercise divergence handling.
 */
export async function trainStep(
  m: StepModel,
  batch: StepBatch,
  opts: StepOptions,
  lr: number,
  poison = false,
): Promise<StepLosses> {
  const vars = [...m.params.values()];
  let parts: tf.Scalar[] = [];
  const { value, grads } = tf.variableGrads(() => {
    const logits = m.student.apply(batch.x, { training: true });
    const loss = distillationLoss(logits, batch.teacher, batch.labels, opts, opts.kdWeight);
    parts = [tf.keep(loss.ce), tf.keep(loss.kd)];
    return loss.total;
  }, vars);
  const [total, ce, kd] = (await Promise.all([value, ...parts].map((t) => t.data())))
    .map((d) => d[0]);
  tf.dispose([value, ...parts]);
  const named: Record<string, tf.Tensor> = {};
  for (const [id, g] of Object.entries(grads)) named[m.names.get(id) ?? id] = g;
  const loss = poison ? NaN : total;
  if (Number.isFinite(loss)) {
    const clip = opts.clipNorm > 0 ? (await globalNormClip(named, opts.clipNorm)).scale : 1;
    m.optimizer.step(named, lr, clip);
  }
  tf.dispose(Object.values(named));
  return { total: loss, ce, kd };
}
