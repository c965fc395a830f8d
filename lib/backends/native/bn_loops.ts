/**
 * Batch norm (+ ReLU6) over the channel axis of a row-major `[rows, C]` view, split into the
 * reductions (tight single-threaded loops) and the per-element affine passes (JS loops here, or
 * oneDNN binary primitives in `fused.ts`). oneDNN 2.6's own channels-last batch norm measured
 * 20–40 ms per call even for 0.4 M elements, slower than these loops at every size tried.
 * @module
 */

/** Per-channel batch mean and biased variance (float64 accumulation). */
export function bnStatistics(
  x: Float32Array,
  c: number,
  mean: Float32Array,
  variance: Float32Array,
): void {
  const n = x.length, rows = n / c;
  const sum = new Float64Array(c), sq = new Float64Array(c);
  let o = 0;
  // Two rows per iteration halve the accumulator loads/stores (≈1.7× faster measured).
  for (; o + 2 * c <= n; o += 2 * c) {
    for (let k = 0; k < c; k++) {
      const u = x[o + k], v = x[o + c + k];
      sum[k] += u + v;
      sq[k] += u * u + v * v;
    }
  }
  for (; o < n; o += c) {
    for (let k = 0; k < c; k++) {
      const v = x[o + k];
      sum[k] += v;
      sq[k] += v * v;
    }
  }
  for (let k = 0; k < c; k++) {
    const m = sum[k] / rows;
    mean[k] = m;
    variance[k] = Math.max(sq[k] / rows - m * m, 0);
  }
}

/** The per-channel affine map of the normalisation: `y = a·x + b`. */
export function bnScaleShift(
  gamma: Float32Array,
  beta: Float32Array,
  mean: Float32Array,
  variance: Float32Array,
  eps: number,
): { a: Float32Array; b: Float32Array } {
  const c = gamma.length, a = new Float32Array(c), b = new Float32Array(c);
  for (let k = 0; k < c; k++) {
    a[k] = gamma[k] / Math.sqrt(variance[k] + eps);
    b[k] = beta[k] - mean[k] * a[k];
  }
  return { a, b };
}

/** `y = [relu6](a·x + b)` per channel. */
export function bnApply(
  x: Float32Array,
  a: Float32Array,
  b: Float32Array,
  relu6: boolean,
  y: Float32Array,
): void {
  const c = a.length, n = x.length;
  if (relu6) {
    for (let o = 0; o < n; o += c) {
      for (let k = 0; k < c; k++) {
        // A true clip: clipped outputs must be exactly 0 or 6, since the backward pass reads
        // the ReLU6 mask off the output (the branch-free |v|−|v−6| form leaves ~1e-16 residues).
        const v = x[o + k] * a[k] + b[k];
        y[o + k] = v < 0 ? 0 : v > 6 ? 6 : v;
      }
    }
  } else {
    for (let o = 0; o < n; o += c) {
      for (let k = 0; k < c; k++) y[o + k] = x[o + k] * a[k] + b[k];
    }
  }
}

/**
 * First backward pass: with `relu6`, writes the masked gradient `g` (tfjs's rule 0 < pre ≤ 6,
 * the pre-activation recomputed exactly as the forward did) into `g`; accumulates Σg and
 * Σg·(x−μ) per channel. Comparisons combine with `&`, so there is no branch to mispredict.
 */
export function bnBackwardReduce(
  x: Float32Array,
  a: Float32Array,
  b: Float32Array,
  mean: Float32Array,
  relu6: boolean,
  dy: Float32Array,
  g: Float32Array,
): { sg: Float64Array; sgx: Float64Array } {
  const c = a.length, n = x.length;
  const sg = new Float64Array(c), sgx = new Float64Array(c);
  let start = 0;
  if (!relu6) {
    // Two rows per iteration, as in bnStatistics.
    for (; start + 2 * c <= n; start += 2 * c) {
      const o = start;
      for (let k = 0; k < c; k++) {
        const u = dy[o + k], v = dy[o + c + k], m = mean[k];
        sg[k] += u + v;
        sgx[k] += u * (x[o + k] - m) + v * (x[o + c + k] - m);
      }
    }
  }
  for (let o = start; o < n; o += c) {
    for (let k = 0; k < c; k++) {
      let v = dy[o + k];
      if (relu6) {
        const p = x[o + k] * a[k] + b[k];
        v *= ((p > 0) as unknown as number) & ((p <= 6) as unknown as number);
        g[o + k] = v;
      }
      sg[k] += v;
      sgx[k] += v * (x[o + k] - mean[k]);
    }
  }
  return { sg, sgx };
}

/**
 * Parameter gradients and the per-channel coefficients of
 * `dx = γ·inv·(g − Σg/M − (x−μ)·inv²·Σg(x−μ)/M) = k1·g + k2·x + k3`.
 */
export function bnBackwardCoefficients(
  gamma: Float32Array,
  mean: Float32Array,
  variance: Float32Array,
  eps: number,
  rows: number,
  sums: { sg: Float64Array; sgx: Float64Array },
  dgamma: Float32Array,
  dbeta: Float32Array,
): { k1: Float32Array; k2: Float32Array; k3: Float32Array } {
  const c = gamma.length;
  const k1 = new Float32Array(c), k2 = new Float32Array(c), k3 = new Float32Array(c);
  for (let k = 0; k < c; k++) {
    const inv = 1 / Math.sqrt(variance[k] + eps);
    dbeta[k] = sums.sg[k];
    dgamma[k] = sums.sgx[k] * inv;
    const g1 = gamma[k] * inv;
    const g2 = -gamma[k] * inv ** 3 * sums.sgx[k] / rows;
    k1[k] = g1;
    k2[k] = g2;
    k3[k] = -g1 * sums.sg[k] / rows - g2 * mean[k];
  }
  return { k1, k2, k3 };
}

/** Second backward pass: `dx = k1·g + k2·x + k3` per channel (`dx` may alias `g`). */
export function bnBackwardApply(
  x: Float32Array,
  g: Float32Array,
  k: { k1: Float32Array; k2: Float32Array; k3: Float32Array },
  dx: Float32Array,
): void {
  const { k1, k2, k3 } = k, c = k1.length, n = x.length;
  for (let o = 0; o < n; o += c) {
    for (let j = 0; j < c; j++) dx[o + j] = k1[j] * g[o + j] + k2[j] * x[o + j] + k3[j];
  }
}
