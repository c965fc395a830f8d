/**
 * Fine-tuning the last blocks of a cut backbone (plus its head) from cached activations at a
 * block boundary: the frozen front is never re-run, so each epoch costs only the tail. Or, for
 * the whole network after its stem ({@linkcode finetuneFromImages}), from the images themselves
 * under a seeded augmentation, which cached activations cannot show. The best epoch by
 * validation accuracy (ties: validation loss) is kept, starting from the probe's own score, so
 * fine-tuning can only be selected when validation says it helps.
 * @module
 */
import * as tf from "../tf.ts";
import type { TeacherBackbone } from "./backbone.ts";
import { mixSeed, mulberry32, shuffleInPlace } from "../core/rng.ts";
import { Progress } from "../progress.ts";
import { scoreLogits } from "./probe.ts";
import type { SplitFeatures } from "./features.ts";
import { type ImageSplit, toTensor } from "../data/dataset.ts";
import { parseAugment } from "../data/augment.ts";
import { sampleBatchView, viewInput, viewLabels } from "../train/views.ts";

/** One epoch's validation scores (epoch 0 = before fine-tuning). */
export interface EpochScore {
  epoch: number;
  trainLoss: number;
  valAcc: number;
  valLoss: number;
}

/** Options for {@linkcode finetuneTail}. */
export interface FinetuneOptions {
  epochs?: number;
  lr?: number;
  batchSize?: number;
  seed?: number;
  quiet?: boolean;
  onEpoch?: (s: EpochScore) => void;
}

function slice(f: SplitFeatures, idx: ArrayLike<number>): tf.Tensor {
  const per = f.data.length / f.shape[0];
  const out = new Float32Array(idx.length * per);
  for (let k = 0; k < idx.length; k++) {
    out.set(f.data.subarray(idx[k] * per, (idx[k] + 1) * per), k * per);
  }
  return tf.tensor(out, [idx.length, ...f.shape.slice(1)]);
}

function evaluate(model: TeacherBackbone, from: string, f: SplitFeatures, bs: number) {
  const parts: tf.Tensor2D[] = [];
  for (let s = 0; s < f.shape[0]; s += bs) {
    const idx = Array.from({ length: Math.min(bs, f.shape[0] - s) }, (_, i) => s + i);
    parts.push(tf.tidy(() => model.head(model.featuresFrom(from, slice(f, idx)))));
  }
  const logits = tf.concat(parts) as tf.Tensor2D;
  const r = scoreLogits(logits, f.labels);
  tf.dispose([...parts, logits]);
  return r;
}

/** One batch's training step: its summed loss (mean loss × batch size). */
type BatchStep = (
  opt: tf.Optimizer,
  vars: tf.Variable[],
  idx: Int32Array,
  epoch: number,
  step: number,
) => Promise<number>;

/**
 * The loop both fine-tunes share: epoch 0 is the starting weights' score; each epoch is one
 * seeded shuffled pass of `batchStep` followed by a validation score, and the best epoch's
 * state (accuracy, then loss; weights and batch-norm statistics) is restored at the end, so
 * fine-tuning is kept only when validation says it helps and scores what it scored.
 */
async function bestEpochFit(
  model: TeacherBackbone,
  from: string,
  n: number,
  opts: FinetuneOptions,
  validate: () => { acc: number; loss: number },
  batchStep: BatchStep,
): Promise<{ history: EpochScore[]; best: EpochScore }> {
  const epochs = opts.epochs ?? 5, bs = opts.batchSize ?? 32;
  model.setTrainableFrom(from);
  const vars = [...model.trainableVariables().values()];
  // The kept epoch is every state variable, not just the trained ones: batch norms' running
  // statistics move in training too, and weights of one epoch with statistics of another score
  // differently from either (a 98.5% epoch reloaded at 97.7% before this was restored whole).
  const state = [...model.stateVariables().values()];
  const snapshot = () => state.map((v) => tf.clone(v));
  const v0 = validate();
  let best = { epoch: 0, trainLoss: NaN, valAcc: v0.acc, valLoss: v0.loss };
  let bestWeights = snapshot();
  const history: EpochScore[] = [best];
  opts.onEpoch?.(best);
  const opt = tf.train.adam(opts.lr ?? 1e-4);
  let step = 0;
  try {
    for (let epoch = 1; epoch <= epochs; epoch++) {
      const order = shuffleInPlace(
        Int32Array.from({ length: n }, (_, i) => i),
        mulberry32(mixSeed(opts.seed ?? 0, epoch)),
      );
      const progress = new Progress(`fine-tune epoch ${epoch}/${epochs}`, n, { quiet: opts.quiet });
      let lossSum = 0;
      for (let s = 0; s < n; s += bs, step++) {
        const idx = order.subarray(s, Math.min(n, s + bs));
        lossSum += await batchStep(opt, vars, idx, epoch, step);
        progress.tick(idx.length);
      }
      progress.finish();
      const v = validate();
      const score = { epoch, trainLoss: lossSum / n, valAcc: v.acc, valLoss: v.loss };
      history.push(score);
      opts.onEpoch?.(score);
      if (
        score.valAcc > best.valAcc || (score.valAcc === best.valAcc && score.valLoss < best.valLoss)
      ) {
        best = score;
        tf.dispose(bestWeights);
        bestWeights = snapshot();
      }
    }
  } finally {
    state.forEach((v, i) => v.assign(bestWeights[i]));
    tf.dispose(bestWeights);
    opt.dispose();
  }
  return { history, best };
}

/** One optimizer step on `loss`; returns the loss times the batch size. */
async function minimizeStep(
  opt: tf.Optimizer,
  vars: tf.Variable[],
  batch: number,
  loss: () => tf.Scalar,
): Promise<number> {
  const value = opt.minimize(() => tf.tidy(loss), true, vars)!;
  const sum = (await value.data())[0] * batch;
  value.dispose();
  return sum;
}

/**
 * Train the layers after boundary `from` and the head on cached activations `train`, scoring on
 * `val` each epoch; restores the best epoch's weights and returns the history.
 */
export async function finetuneTail(
  model: TeacherBackbone,
  from: string,
  train: SplitFeatures,
  val: SplitFeatures,
  opts: FinetuneOptions = {},
): Promise<{ history: EpochScore[]; best: EpochScore }> {
  const bs = opts.batchSize ?? 32, k = model.config.numLabels;
  const yAll = tf.tensor1d(train.labels, "int32");
  try {
    return await bestEpochFit(
      model,
      from,
      train.shape[0],
      opts,
      () => evaluate(model, from, val, bs),
      (opt, vars, idx) =>
        minimizeStep(opt, vars, idx.length, () => {
          const y = tf.oneHot(tf.gather(yAll, tf.tensor1d(idx, "int32")), k);
          const logits = model.head(
            model.featuresFrom(from, slice(train, idx), { training: true }),
          );
          return tf.losses.softmaxCrossEntropy(y, logits) as tf.Scalar;
        }),
    );
  } finally {
    yAll.dispose();
  }
}

/** Validation scores of the whole model on the images of `val` (no augmentation). */
function evaluateImages(model: TeacherBackbone, val: ImageSplit, bs: number) {
  const parts: tf.Tensor2D[] = [];
  for (let s = 0; s < val.n; s += bs) {
    const idx = Int32Array.from({ length: Math.min(bs, val.n - s) }, (_, i) => s + i);
    parts.push(tf.tidy(() => model.apply(toTensor(val, idx, model.input))));
  }
  const logits = tf.concat(parts) as tf.Tensor2D;
  const r = scoreLogits(logits, val.labels);
  tf.dispose([...parts, logits]);
  return r;
}

/**
 * Train everything after boundary `from` (in practice the stem) and the head on the images of
 * `train`, each batch under a view sampled from (seed, epoch, step) with `opts.augment` (an
 * `--augment` spec: crop, flip, mixup), scoring on the plain images of `val` each epoch; the
 * front up to `from` runs frozen, in inference mode. Restores the best epoch's weights.
 */
export function finetuneFromImages(
  model: TeacherBackbone,
  from: string,
  train: ImageSplit,
  val: ImageSplit,
  opts: FinetuneOptions & { augment?: string } = {},
): Promise<{ history: EpochScore[]; best: EpochScore }> {
  const bs = opts.batchSize ?? 32, seed = opts.seed ?? 0;
  const augment = parseAugment(opts.augment);
  const pre = model.input, k = model.config.numLabels;
  return bestEpochFit(
    model,
    from,
    train.n,
    opts,
    () => evaluateImages(model, val, bs),
    async (opt, vars, idx, epoch, step) => {
      const view = sampleBatchView(idx, augment, { seed, epoch, step, size: pre.size });
      const front = tf.tidy(() =>
        model.runFrom(null, viewInput(train, idx, pre, view), { to: from })
      );
      const labels = viewLabels(Int32Array.from(idx, (i) => train.labels[i]), k, view);
      try {
        return await minimizeStep(opt, vars, idx.length, () => {
          const y = labels.rank === 1 ? tf.oneHot(labels as tf.Tensor1D, k) : labels;
          const logits = model.head(model.featuresFrom(from, front, { training: true }));
          return tf.losses.softmaxCrossEntropy(y, logits) as tf.Scalar;
        });
      } finally {
        tf.dispose([front, labels]);
      }
    },
  );
}
