/**
 * Linear probe: multinomial logistic regression on frozen features, trained with Adam on
 * standardised features (the standardisation is folded back into the head afterwards), over a
 * small grid of weight decay × epochs. Selection uses validation accuracy only (ties: lower
 * validation loss, then fewer epochs); the test split is never seen.
 * @module
 */
import * as tf from "../tf.ts";
import { mixSeed, mulberry32, shuffleInPlace } from "../core/rng.ts";

/** A feature matrix `[n, dim]` with labels. */
export interface FeatureSet {
  x: Float32Array;
  dim: number;
  y: Int32Array;
}

/** One grid point's scores. */
export interface ProbeResult {
  weightDecay: number;
  epochs: number;
  trainAcc: number;
  valAcc: number;
  valLoss: number;
}

/** A fitted head on raw (unstandardised) features: `logits = x·weight + bias`. */
export interface ProbeHead {
  weight: Float32Array;
  bias: Float32Array;
  dim: number;
  numLabels: number;
}

/** Options for {@linkcode fitProbe}. */
export interface ProbeOptions {
  numLabels: number;
  weightDecays?: number[];
  /** Epoch counts evaluated (one run per weight decay, scored at each). */
  epochs?: number[];
  lr?: number;
  batchSize?: number;
  seed?: number;
  /** Called after each grid point. */
  onResult?: (r: ProbeResult) => void;
}

/** Accuracy and mean cross-entropy of logits against labels. */
export function scoreLogits(logits: tf.Tensor2D, y: Int32Array): { acc: number; loss: number } {
  return tf.tidy(() => {
    const labels = tf.tensor1d(y, "int32");
    const acc = tf.mean(tf.cast(tf.equal(tf.argMax(logits, 1), labels), "float32")).dataSync()[0];
    const loss = tf.losses.softmaxCrossEntropy(tf.oneHot(labels, logits.shape[1]), logits)
      .dataSync()[0];
    return { acc, loss };
  });
}

/** Fit probes over the grid; returns every grid point's scores and the selected head. */
export function fitProbe(
  train: FeatureSet,
  val: FeatureSet,
  opts: ProbeOptions,
): { results: ProbeResult[]; best: ProbeResult; head: ProbeHead } {
  const wds = opts.weightDecays ?? [0, 1e-3, 1e-2, 1e-1];
  const epochList = [...(opts.epochs ?? [10, 30, 100])].sort((a, b) => a - b);
  const lr = opts.lr ?? 1e-2, bs = opts.batchSize ?? 64, K = opts.numLabels, D = train.dim;
  const n = train.y.length;
  // Standardise with train statistics only.
  const mean = new Float32Array(D), std = new Float32Array(D);
  for (let i = 0; i < n; i++) for (let d = 0; d < D; d++) mean[d] += train.x[i * D + d] / n;
  for (let i = 0; i < n; i++) {
    for (let d = 0; d < D; d++) std[d] += (train.x[i * D + d] - mean[d]) ** 2 / n;
  }
  for (let d = 0; d < D; d++) std[d] = Math.sqrt(std[d]) + 1e-6;
  const norm = (f: FeatureSet) =>
    tf.tidy(() =>
      tf.div(tf.sub(tf.tensor2d(f.x, [f.y.length, D]), tf.tensor1d(mean)), tf.tensor1d(std))
    ) as tf.Tensor2D;
  const xTrain = norm(train), xVal = norm(val);
  const results: ProbeResult[] = [];
  let best: { r: ProbeResult; w: Float32Array; b: Float32Array } | undefined;
  try {
    for (const wd of wds) {
      const w = tf.variable(tf.zeros([D, K]), true);
      const b = tf.variable(tf.zeros([K]), true);
      const opt = tf.train.adam(lr);
      const yTrain = tf.tensor1d(train.y, "int32");
      let epoch = 0;
      for (const target of epochList) {
        for (; epoch < target; epoch++) {
          const order = shuffleInPlace(
            Int32Array.from({ length: n }, (_, i) => i),
            mulberry32(mixSeed(opts.seed ?? 0, epoch)),
          );
          for (let s = 0; s < n; s += bs) {
            const idx = tf.tensor1d(order.subarray(s, Math.min(n, s + bs)), "int32");
            opt.minimize(
              () =>
                tf.tidy(() => {
                  const xb = tf.gather(xTrain, idx) as tf.Tensor2D;
                  const yb = tf.oneHot(tf.gather(yTrain, idx), K);
                  const ce = tf.losses.softmaxCrossEntropy(yb, tf.add(tf.matMul(xb, w), b));
                  return tf.add(ce, tf.mul(0.5 * wd, tf.sum(tf.square(w)))) as tf.Scalar;
                }),
              false,
              [w, b],
            );
            idx.dispose();
          }
        }
        const tr = tf.tidy(() => scoreLogits(tf.add(tf.matMul(xTrain, w), b), train.y));
        const va = tf.tidy(() => scoreLogits(tf.add(tf.matMul(xVal, w), b), val.y));
        const r = {
          weightDecay: wd,
          epochs: target,
          trainAcc: tr.acc,
          valAcc: va.acc,
          valLoss: va.loss,
        };
        results.push(r);
        opts.onResult?.(r);
        if (
          !best || r.valAcc > best.r.valAcc ||
          (r.valAcc === best.r.valAcc && r.valLoss < best.r.valLoss)
        ) {
          best = {
            r,
            w: w.dataSync().slice() as Float32Array,
            b: b.dataSync().slice() as Float32Array,
          };
        }
      }
      tf.dispose([w, b, yTrain]);
      opt.dispose();
    }
  } finally {
    tf.dispose([xTrain, xVal]);
  }
  // Fold standardisation into the head: (x-μ)/σ·W + b = x·(W/σ) + (b - Σ μ/σ·W).
  const weight = new Float32Array(D * K), bias = Float32Array.from(best!.b);
  for (let d = 0; d < D; d++) {
    for (let k = 0; k < K; k++) {
      weight[d * K + k] = best!.w[d * K + k] / std[d];
      bias[k] -= mean[d] * weight[d * K + k];
    }
  }
  return { results, best: best!.r, head: { weight, bias, dim: D, numLabels: K } };
}

/** Indices of a stratified, seeded subset holding `fraction` of each class (at least one each). */
export function stratifiedSubset(labels: Int32Array, fraction: number, seed: number): Int32Array {
  const byClass = new Map<number, number[]>();
  labels.forEach((l, i) => byClass.set(l, [...(byClass.get(l) ?? []), i]));
  const out: number[] = [];
  for (const [c, idx] of [...byClass].sort((a, b) => a[0] - b[0])) {
    const arr = shuffleInPlace(Int32Array.from(idx), mulberry32(mixSeed(seed, c)));
    out.push(...arr.subarray(0, Math.max(1, Math.round(idx.length * fraction))));
  }
  return Int32Array.from(out.sort((a, b) => a - b));
}

/** Rows `idx` of a feature set. */
export function subsetFeatures(f: FeatureSet, idx: Int32Array): FeatureSet {
  const x = new Float32Array(idx.length * f.dim);
  idx.forEach((i, k) => x.set(f.x.subarray(i * f.dim, (i + 1) * f.dim), k * f.dim));
  return { x, dim: f.dim, y: Int32Array.from(idx, (i) => f.y[i]) };
}
