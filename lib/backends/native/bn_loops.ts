/**
 * Batch norm (+ ReLU6) over the channel axis of a row-major `[rows, C]` view, forward with batch
 * statistics and backward, as tight single-threaded loops. oneDNN 2.6's channels-last batch
 * norm measured 20–40 ms per call even for 0.4 M elements (≈80 ns/element, single- or
 * multi-threaded), so these loops (≈1–2 ns/element/pass) are the default; see `fused.ts`.
 * @module
 */

/** Forward: writes `y`, the biased batch `mean`/`variance`; returns nothing. */
export function bnForward(
  x: Float32Array,
  channels: number,
  gamma: Float32Array,
  beta: Float32Array,
  eps: number,
  relu6: boolean,
  y: Float32Array,
  mean: Float32Array,
  variance: Float32Array,
): void {
  const c = channels, n = x.length, rows = n / c;
  const sum = new Float64Array(c), sq = new Float64Array(c);
  for (let o = 0; o < n; o += c) {
    for (let k = 0; k < c; k++) {
      const v = x[o + k];
      sum[k] += v;
      sq[k] += v * v;
    }
  }
  const a = new Float32Array(c), b = new Float32Array(c);
  for (let k = 0; k < c; k++) {
    const m = sum[k] / rows;
    const v = Math.max(sq[k] / rows - m * m, 0);
    mean[k] = m;
    variance[k] = v;
    a[k] = gamma[k] / Math.sqrt(v + eps);
    b[k] = beta[k] - m * a[k];
  }
  if (relu6) {
    for (let o = 0; o < n; o += c) {
      for (let k = 0; k < c; k++) {
        // clip(v, 0, 6) = (|v| − |v−6| + 6)/2, exact here and branch-free: a ternary clip
        // mispredicts on ReLU's random signs and Math.min/max carry NaN/−0 checks (both ~8× slower).
        const v = x[o + k] * a[k] + b[k];
        y[o + k] = (Math.abs(v) - Math.abs(v - 6) + 6) * 0.5;
      }
    }
  } else {
    for (let o = 0; o < n; o += c) {
      for (let k = 0; k < c; k++) y[o + k] = x[o + k] * a[k] + b[k];
    }
  }
}

/**
 * Backward: from `x`, the forward's statistics and `dy`, writes `dx`, `dgamma`, `dbeta`. With
 * `relu6` the pre-activation is recomputed exactly as the forward did, so the mask is tfjs's
 * (0 < pre ≤ 6) rather than one guessed from the clipped output; comparisons combine with `&`
 * so there is no branch to mispredict.
 */
export function bnBackward(
  x: Float32Array,
  channels: number,
  gamma: Float32Array,
  beta: Float32Array,
  mean: Float32Array,
  variance: Float32Array,
  eps: number,
  relu6: boolean,
  dy: Float32Array,
  dx: Float32Array,
  dgamma: Float32Array,
  dbeta: Float32Array,
): void {
  const c = channels, n = x.length, rows = n / c;
  const a = new Float32Array(c), b = new Float32Array(c), inv = new Float64Array(c);
  for (let k = 0; k < c; k++) {
    inv[k] = 1 / Math.sqrt(variance[k] + eps);
    // Same float32 arithmetic as the forward, so the recomputed pre-activation matches it.
    a[k] = gamma[k] / Math.sqrt(variance[k] + eps);
    b[k] = beta[k] - mean[k] * a[k];
  }
  const sg = new Float64Array(c), sgx = new Float64Array(c);
  // With ReLU6, the masked gradient is parked in dx so the second pass need not recompute it.
  const g0 = relu6 ? dx : dy;
  for (let o = 0; o < n; o += c) {
    for (let k = 0; k < c; k++) {
      let g = dy[o + k];
      if (relu6) {
        const p = x[o + k] * a[k] + b[k];
        g *= ((p > 0) as unknown as number) & ((p <= 6) as unknown as number);
        dx[o + k] = g;
      }
      sg[k] += g;
      sgx[k] += g * (x[o + k] - mean[k]);
    }
  }
  // dx = γ·inv·(g − Σg/M − (x−μ)·inv²·Σg(x−μ)/M) = k1·g + k2·x + k3
  const k1 = new Float32Array(c), k2 = new Float32Array(c), k3 = new Float32Array(c);
  for (let k = 0; k < c; k++) {
    dbeta[k] = sg[k];
    dgamma[k] = sgx[k] * inv[k];
    const g1 = gamma[k] * inv[k];
    const g2 = -gamma[k] * inv[k] ** 3 * sgx[k] / rows;
    k1[k] = g1;
    k2[k] = g2;
    k3[k] = -g1 * sg[k] / rows - g2 * mean[k];
  }
  for (let o = 0; o < n; o += c) {
    for (let k = 0; k < c; k++) dx[o + k] = k1[k] * g0[o + k] + k2[k] * x[o + k] + k3[k];
  }
}
