/**
 * ViT/DeiT encoder inference compiled to oneDNN primitives for the `native` backend. Per layer:
 * layer norm (one primitive), Q·K·V as ONE matmul over concatenated weights with the bias fused,
 * per-head Q·Kᵀ with the 1/√d scale fused, softmax in place, P·V, the output projection with its
 * bias and the residual add fused (a `sum` post-op writing over the residual stream), the MLP as
 * two matmuls with bias+exact-erf GELU and bias+residual fused. Only two small reorders per layer
 * move heads in and out. Weights are reordered once per change, buffers and primitives are kept
 * per input shape (`program.ts`). The token embedding and the final norm of the class token(s) are JS loops over
 * a few hundred kilobytes.
 * @module
 */
import { D, denseStrides, type Md, md, mdStrides, type PostOp } from "./dnnl.ts";
import type { EncoderLayerWeights, EncoderWeights } from "./inference_graph.ts";
import type { NativeKernel } from "./kernels.ts";
import { compiledKernel, INPUT, Program } from "./program.ts";
import { ENCODER } from "./kernel_names.ts";

type Pair = [Float32Array, Float32Array];

/** The encoder `w` compiled for NHWC input `shape` `[batch, size, size, C]` (see the module doc). */
export function compileEncoder(w: EncoderWeights, shape: number[]): Program<EncoderWeights> {
  const [B, size] = shape;
  const H = w.hidden, nh = w.heads, dh = H / nh, I = w.intermediate, P = w.prefix.length;
  const grid = size / w.patchSize, T = grid * grid + P, M = B * T;
  const f32 = (n: number) => new Float32Array(n);
  // Activations; `hp` is the residual stream of the prefix tokens only, `[batch·prefix, hidden]`.
  const h = f32(M * H), hp = f32(B * P * H), a = f32(M * H), qkv = f32(M * 3 * H);
  const [q, k, v, c, merged] = [0, 0, 0, 0, 0].map(() => f32(M * H));
  const s = f32(B * nh * T * T), f = f32(M * I), patches = f32(B * grid * grid * H);
  const p = new Program<EncoderWeights>();
  const { src, dst, weights, bias } = D.arg;
  const ab = (rows: number, cols: number) => md([rows, cols], D.tag.ab);

  // Patch embedding: a p×p stride-p convolution with its bias.
  const ps = w.patchSize, patchDims = [H, w.channels, ps, ps];
  const patch = p.op({
    op: "conv",
    prop: D.prop.fwdInference,
    src: md([B, w.channels, size, size], D.tag.nhwc),
    weights: md(patchDims, D.tag.any),
    bias: md([H], D.tag.a),
    dst: md([B, H, grid, grid], D.tag.nhwc),
    strides: [ps, ps],
    padL: [0, 0],
    padR: [0, 0],
  }, { [src]: INPUT, [dst]: patches });
  p.param(patch, weights, (w) => w.patch[0], md(patchDims, D.tag.hwio));
  p.param(patch, bias, (w) => w.patch[1]);
  p.js((_, w) => embed(w, patches, h, B, T));

  /** `to[rows, n] (+)= from[rows, kk]·W + b` with the layer's weights `pick`. */
  const linear = (
    rows: number,
    kk: number,
    n: number,
    [from, to]: Float32Array[],
    pick: (lw: EncoderLayerWeights) => Pair,
    l: number,
    post: PostOp[] = [],
  ) => {
    const spec = { src: ab(rows, kk), weights: md([kk, n], D.tag.any), bias: ab(1, n) };
    const e = p.op({ op: "matmul", ...spec, dst: ab(rows, n) }, { [src]: from, [dst]: to }, post);
    p.param(e, weights, (w) => pick(w.layers[l])[0], ab(kk, n));
    p.param(e, bias, (w) => pick(w.layers[l])[1]);
  };
  const layerNorm = (
    rows: number,
    from: Float32Array,
    pick: (lw: EncoderLayerWeights) => Pair,
    l: number,
  ) => {
    const e = p.op(
      {
        op: "lnorm",
        prop: D.prop.fwdInference,
        data: ab(rows, H),
        channels: md([H], D.tag.a),
        eps: w.eps,
      },
      { [src]: from, [dst]: a },
    );
    p.param(e, D.arg.scale, (w) => pick(w.layers[l])[0]);
    p.param(e, D.arg.shift, (w) => pick(w.layers[l])[1]);
  };
  const reorder = (from: Md, to: Md, x: Float32Array, y: Float32Array) =>
    p.op({ op: "reorder", src: from, dst: to }, { [src]: x, [dst]: y });

  // [B, T, 3, nh, dh] → three dense [B, nh, T, dh] (the Q, K, V of each head contiguous).
  const heads4 = [B, nh, T, dh];
  const dense4 = mdStrides(heads4, denseStrides(heads4));
  const fromQkv = mdStrides(heads4, [T * 3 * H, dh, 3 * H, 1]);
  const batched = (r: number, cols: number, strides = [r * cols, cols, 1]) =>
    mdStrides([B * nh, r, cols], strides);
  const gather = () => {
    for (let b = 0; b < B; b++) hp.set(h.subarray(b * T * H, (b * T + P) * H), b * P * H);
  };
  const scale: PostOp = { kind: "eltwise", alg: D.alg.linear, alpha: 1 / Math.sqrt(dh), beta: 0 };
  const gelu: PostOp = { kind: "eltwise", alg: D.alg.geluErf, alpha: 0, beta: 0 };
  for (let l = 0; l < w.layers.length; l++) {
    // The last layer feeds only the prefix tokens to the heads: its queries, output
    // projection and MLP run on those rows alone (keys and values still cover every token).
    const last = l === w.layers.length - 1;
    const Tq = last ? P : T, R = B * Tq, out = last ? hp : h;
    layerNorm(M, h, (lw) => lw.ln1, l);
    linear(M, H, 3 * H, [a, qkv], (lw) => lw.qkv, l);
    [q, k, v].forEach((buf, i) => reorder(fromQkv, dense4, qkv.subarray(i * H), buf));
    // S = Q·Kᵀ·scale, batched over (batch, head); Kᵀ is K read with swapped strides.
    const sMd = batched(Tq, T);
    p.op(
      {
        op: "matmul",
        src: batched(Tq, dh, [T * dh, dh, 1]),
        weights: batched(dh, T, [T * dh, 1, dh]),
        dst: sMd,
      },
      { [src]: q, [weights]: k, [dst]: s },
      [scale],
    );
    p.op({ op: "softmax", prop: D.prop.fwdInference, data: sMd, axis: 2 }, { [src]: s, [dst]: s });
    p.op({ op: "matmul", src: sMd, weights: batched(T, dh), dst: batched(Tq, dh) }, {
      [src]: s,
      [weights]: v,
      [dst]: c,
    });
    const heads = [B, nh, Tq, dh];
    reorder(mdStrides(heads, denseStrides(heads)), mdStrides(heads, [Tq * H, dh, H, 1]), c, merged);
    if (last) p.js(gather);
    linear(R, H, H, [merged, out], (lw) => lw.out, l, [{ kind: "sum" }]);
    layerNorm(R, out, (lw) => lw.ln2, l);
    linear(R, H, I, [a, f], (lw) => lw.fc1, l, [gelu]);
    linear(R, I, H, [f, out], (lw) => lw.fc2, l, [{ kind: "sum" }]);
  }
  if (!w.layers.length) p.js(gather);
  return p.finish([B, w.classifiers[0][1].length], (w) => classify(w, hp, B));
}

/** `h` ← the prefix tokens, then the patches, plus position embeddings. */
function embed(w: EncoderWeights, patches: Float32Array, h: Float32Array, B: number, T: number) {
  const H = w.hidden, P = w.prefix.length, pos = w.position;
  for (let b = 0; b < B; b++) {
    const base = b * T * H;
    for (let t = 0; t < P; t++) {
      const tok = w.prefix[t];
      for (let j = 0; j < H; j++) h[base + t * H + j] = tok[j] + pos[t * H + j];
    }
    const from = b * (T - P) * H;
    for (let i = P * H; i < T * H; i++) h[base + i] = patches[from + i - P * H] + pos[i];
  }
}

/** Logits `[batch, labels]`: the final layer norm of the prefix tokens `hp`, then the heads. */
function classify(w: EncoderWeights, hp: Float32Array, B: number): Float32Array {
  const H = w.hidden, P = w.prefix.length, K = w.classifiers[0][1].length;
  const logits = new Float32Array(B * K);
  const normed = new Float64Array(H);
  for (let b = 0; b < B; b++) {
    w.classifiers.forEach(([cw, cb], t) => {
      const o = (b * P + t) * H;
      let mean = 0;
      for (let j = 0; j < H; j++) mean += hp[o + j];
      mean /= H;
      let v = 0;
      for (let j = 0; j < H; j++) v += (hp[o + j] - mean) ** 2;
      const inv = 1 / Math.sqrt(v / H + w.eps);
      for (let j = 0; j < H; j++) {
        normed[j] = Math.fround((hp[o + j] - mean) * inv) * w.norm[0][j] + w.norm[1][j];
      }
      for (let k = 0; k < K; k++) {
        let acc = cb[k];
        for (let j = 0; j < H; j++) acc += normed[j] * cw[j * K + k];
        logits[b * K + k] += acc / w.classifiers.length;
      }
    });
  }
  return logits;
}

/** The kernel running an `InferenceHandle`'s encoder (see `inference_graph.ts`). */
export function encoderKernel(): NativeKernel {
  return compiledKernel(ENCODER, compileEncoder);
}
