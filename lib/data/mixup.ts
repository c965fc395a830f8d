/**
 * Mixup (Zhang et al., ICLR 2018) within a batch: image i is blended with a partner from the same
 * batch, `w·x_i + (1−w)·x_partner(i)` with one weight `w ~ Beta(α, α)` per batch, and its label
 * becomes the same blend of the two one-hot labels. Sampled from the seeded RNG so that a run,
 * its resume and its scratch twin draw the same pairs and weight, and applied to each model's own
 * input: the teacher labels the very image the student sees, at its resolution.
 * @module
 */
import * as tf from "../tf.ts";

/** A sampled mixup of a batch: partner of each position and the weight of the image itself. */
export interface Mix {
  partner: Int32Array;
  weight: number;
}

/** A standard normal deviate (Box–Muller, one of the pair). */
function normal(rng: () => number): number {
  const u = 1 - rng(); // (0, 1]: log(u) stays finite
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
}

/** A Gamma(a, 1) deviate (Marsaglia & Tsang; a < 1 boosted by U^(1/a)). */
export function sampleGamma(a: number, rng: () => number): number {
  if (a < 1) return sampleGamma(a + 1, rng) * Math.pow(1 - rng(), 1 / a);
  const d = a - 1 / 3, c = 1 / Math.sqrt(9 * d);
  for (;;) {
    const x = normal(rng);
    const v = (1 + c * x) ** 3;
    if (v <= 0) continue;
    const u = 1 - rng();
    if (Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
  }
}

/** A Beta(a, b) deviate. */
export function sampleBeta(a: number, b: number, rng: () => number): number {
  const x = sampleGamma(a, rng), y = sampleGamma(b, rng);
  return x / (x + y);
}

/** Sample the mixup of a batch of `n`: a random permutation for the partners, `w ~ Beta(α, α)`. */
export function sampleMix(n: number, alpha: number, rng: () => number): Mix {
  const weight = sampleBeta(alpha, alpha, rng);
  const partner = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [partner[i], partner[j]] = [partner[j], partner[i]];
  }
  return { partner, weight };
}

/** Blend a batch (any rank, batch first) with its partners: `w·x + (1−w)·x[partner]`. */
export function mixBatch<T extends tf.Tensor>(x: T, mix: Mix): T {
  return tf.tidy(() => {
    const other = tf.gather(x, tf.tensor1d(mix.partner, "int32"));
    return tf.add(tf.mul(x, mix.weight), tf.mul(other, 1 - mix.weight)) as T;
  });
}

/** The soft labels `[n × k]` of a mixed batch: the same blend of the one-hot labels. */
export function mixLabels(labels: Int32Array, k: number, mix: Mix): tf.Tensor2D {
  return tf.tidy(() =>
    mixBatch(tf.oneHot(tf.tensor1d(labels, "int32"), k).toFloat(), mix)
  ) as tf.Tensor2D;
}
