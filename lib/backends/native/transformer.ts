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
type Pick = (lw: EncoderLayerWeights) => Pair;

const { src, dst, weights, bias } = D.arg;
const ab = (rows: number, cols: number) => md([rows, cols], D.tag.ab);
const f32 = (n: number) => new Float32Array(n);

/** The encoder `w` compiled for NHWC input `shape` `[batch, size, size, C]` (see the module doc). */
export function compileEncoder(w: EncoderWeights, shape: number[]): Program<EncoderWeights> {
  const e = new EncoderBuilder(w, shape);
  e.patchEmbedding();
  for (let l = 0; l < w.layers.length; l++) e.layer(l);
  if (!w.layers.length) e.p.js(() => e.gather());
  return e.p.finish([e.B, w.classifiers[0][1].length], (w) => classify(w, e.hp, e.B));
}

/** The sizes, activation buffers and program of one compiled encoder, built step by step. */
class EncoderBuilder {
  readonly p = new Program<EncoderWeights>();
  readonly B: number;
  readonly T: number;
  readonly H: number;
  /** The residual stream, `[batch·tokens, hidden]`. */
  readonly h: Float32Array;
  /** The residual stream of the prefix tokens only (the last layer's), `[batch·prefix, hidden]`. */
  readonly hp: Float32Array;
  /** Layer-norm output, Q·K·V, each head's Q, K, V and context, scores, merged heads, MLP. */
  readonly a: Float32Array;
  readonly qkv: Float32Array;
  readonly heads: Float32Array[];
  readonly s: Float32Array;
  readonly merged: Float32Array;
  readonly f: Float32Array;

  constructor(readonly w: EncoderWeights, readonly shape: number[]) {
    const B = this.B = shape[0], H = this.H = w.hidden;
    const T = this.T = (shape[1] / w.patchSize) ** 2 + w.prefix.length;
    [this.h, this.a, this.merged, ...this.heads] = [0, 0, 0, 0, 0, 0, 0].map(() => f32(B * T * H));
    this.hp = f32(B * w.prefix.length * H);
    this.qkv = f32(B * T * 3 * H);
    this.s = f32(B * w.heads * T * T);
    this.f = f32(B * T * w.intermediate);
  }

  /** A p×p stride-p convolution with its bias, then the tokens (JS: a few hundred kB). */
  patchEmbedding(): void {
    const { w, B, H, T, p } = this, size = this.shape[1], ps = w.patchSize, grid = size / ps;
    const dims = [H, w.channels, ps, ps], patches = f32(B * grid * grid * H);
    const e = p.op({
      op: "conv",
      prop: D.prop.fwdInference,
      src: md([B, w.channels, size, size], D.tag.nhwc),
      weights: md(dims, D.tag.any),
      bias: md([H], D.tag.a),
      dst: md([B, H, grid, grid], D.tag.nhwc),
      strides: [ps, ps],
      padL: [0, 0],
      padR: [0, 0],
    }, { [src]: INPUT, [dst]: patches });
    p.param(e, weights, (w) => w.patch[0], md(dims, D.tag.hwio));
    p.param(e, bias, (w) => w.patch[1]);
    p.js((_, w) => embed(w, patches, this.h, B, T));
  }

  /**
   * Encoder layer `l`. The last layer feeds only the prefix tokens to the heads: its queries,
   * output projection and MLP run on those rows alone (keys and values still cover every token).
   */
  layer(l: number): void {
    const { B, T, H, h, a, qkv, merged, f } = this,
      M = B * T,
      last = l === this.w.layers.length - 1;
    const R = B * (last ? this.w.prefix.length : T), out = last ? this.hp : h;
    this.layerNorm(l, M, h, (lw) => lw.ln1);
    this.linear(l, M, H, 3 * H, [a, qkv], (lw) => lw.qkv);
    this.attention(last, qkv, merged);
    if (last) this.p.js(() => this.gather());
    this.linear(l, R, H, H, [merged, out], (lw) => lw.out, [{ kind: "sum" }]);
    this.layerNorm(l, R, out, (lw) => lw.ln2);
    const gelu: PostOp = { kind: "eltwise", alg: D.alg.geluErf, alpha: 0, beta: 0 };
    this.linear(l, R, H, this.w.intermediate, [a, f], (lw) => lw.fc1, [gelu]);
    this.linear(l, R, this.w.intermediate, H, [f, out], (lw) => lw.fc2, [{ kind: "sum" }]);
  }

  /**
   * Multi-head attention from `qkv` `[B, T, 3, heads, dh]` into `merged` `[B, Tq, H]`: two
   * reorders move heads in and out, the rest are batched matmuls and an in-place softmax.
   */
  attention(last: boolean, qkv: Float32Array, merged: Float32Array): void {
    const { B, T, H, p } = this, nh = this.w.heads, dh = H / nh;
    const Tq = last ? this.w.prefix.length : T;
    const [q, k, v, c] = this.heads, s = this.s;
    const batched = (r: number, cols: number, strides = [r * cols, cols, 1]) =>
      mdStrides([B * nh, r, cols], strides);
    // Q, K, V each into dense [B, nh, T, dh] (every head contiguous).
    const heads = (t: number) => [B, nh, t, dh];
    const dense = (t: number) => mdStrides(heads(t), denseStrides(heads(t)));
    const fromQkv = mdStrides(heads(T), [T * 3 * H, dh, 3 * H, 1]);
    [q, k, v].forEach((buf, i) => this.reorder(fromQkv, dense(T), qkv.subarray(i * H), buf));
    // S = Q·Kᵀ/√dh; Kᵀ is K read with swapped strides.
    const sMd = batched(Tq, T);
    const scale: PostOp = { kind: "eltwise", alg: D.alg.linear, alpha: 1 / Math.sqrt(dh), beta: 0 };
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
    p.op(
      { op: "matmul", src: sMd, weights: batched(T, dh), dst: batched(Tq, dh) },
      { [src]: s, [weights]: v, [dst]: c },
    );
    this.reorder(dense(Tq), mdStrides(heads(Tq), [Tq * H, dh, H, 1]), c, merged);
  }

  /** `to[rows, n] (+)= from[rows, k]·W + b` with layer `l`'s weights `pick`, `post` fused. */
  linear(
    l: number,
    rows: number,
    k: number,
    n: number,
    [from, to]: Float32Array[],
    pick: Pick,
    post: PostOp[] = [],
  ) {
    const e = this.p.op(
      {
        op: "matmul",
        src: ab(rows, k),
        weights: md([k, n], D.tag.any),
        bias: ab(1, n),
        dst: ab(rows, n),
      },
      { [src]: from, [dst]: to },
      post,
    );
    this.p.param(e, weights, (w) => pick(w.layers[l])[0], ab(k, n));
    this.p.param(e, bias, (w) => pick(w.layers[l])[1]);
  }

  /** `a[rows] = LayerNorm(from[rows])` with layer `l`'s scale and shift `pick`. */
  layerNorm(l: number, rows: number, from: Float32Array, pick: Pick): void {
    const e = this.p.op({
      op: "lnorm",
      prop: D.prop.fwdInference,
      data: ab(rows, this.H),
      channels: md([this.H], D.tag.a),
      eps: this.w.eps,
    }, { [src]: from, [dst]: this.a });
    this.p.param(e, D.arg.scale, (w) => pick(w.layers[l])[0]);
    this.p.param(e, D.arg.shift, (w) => pick(w.layers[l])[1]);
  }

  reorder(from: Md, to: Md, x: Float32Array, y: Float32Array): void {
    this.p.op({ op: "reorder", src: from, dst: to }, { [src]: x, [dst]: y });
  }

  /** `hp` ← the prefix-token rows of `h`. */
  gather(): void {
    const { B, T, H, h, hp } = this, P = this.w.prefix.length;
    for (let b = 0; b < B; b++) hp.set(h.subarray(b * T * H, (b * T + P) * H), b * P * H);
  }
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
