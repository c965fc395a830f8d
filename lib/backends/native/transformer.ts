/**
 * ViT/DeiT encoder inference compiled to oneDNN primitives for the `native` backend. Per layer:
 * layer norm (one primitive), Q·K·V as ONE matmul over concatenated weights with the bias fused,
 * per-head Q·Kᵀ with the 1/√d scale fused, softmax in place, P·V, the output projection with its
 * bias and the residual add fused (a `sum` post-op writing over the residual stream), the MLP as
 * two matmuls with bias+exact-erf GELU and bias+residual fused. Only two small reorders per layer
 * move heads in and out. Weights are reordered once per change, buffers and primitives are kept
 * per batch size. The token embedding and the final norm of the class token(s) are JS loops over
 * a few hundred kilobytes.
 * @module
 */
import {
  checkInit,
  ctx,
  D,
  denseStrides,
  Executable,
  md,
  mdEqual,
  mdSize,
  mdStrides,
  opDesc,
  type PostOp,
  primitiveAttr,
  primitiveDesc,
  reorderOnce,
  streamWait,
  wantedMd,
} from "./dnnl.ts";
import type * as tf from "../../tf.ts";
import { countCompiledRun, type EncoderWeights, type InferenceHandle } from "./inference_graph.ts";
import { type NativeKernel, output, valuesOf } from "./kernels.ts";
import { ENCODER } from "./kernel_names.ts";

const F = 4;

interface MatmulExec {
  exec: Executable;
  userW: Uint8Array<ArrayBuffer>;
  wantW: Uint8Array<ArrayBuffer>;
  w: Float32Array;
  b: Float32Array;
}

function scratchArgs(pd: Deno.PointerValue): [number, Uint8Array<ArrayBuffer>][] {
  const m = wantedMd(pd, D.arg.scratchpad);
  return m ? [[D.arg.scratchpad, m]] : [];
}

/** A compiled encoder for one batch size (see the module doc). */
export class CompiledEncoder {
  readonly batch: number;
  readonly imageSize: number;
  #t: number;
  #execs: Executable[] = [];
  #layers: {
    ln1: Executable;
    qkv: MatmulExec;
    split: Executable[];
    scores: Executable;
    softmax: Executable;
    context: Executable;
    merge: Executable;
    /** Copy the prefix rows of the residual stream into `#hp` before `out` (last layer). */
    gather: boolean;
    out: MatmulExec;
    ln2: Executable;
    fc1: MatmulExec;
    fc2: MatmulExec;
    lnParams: [Float32Array, Float32Array, Float32Array, Float32Array];
  }[] = [];
  #patch: MatmulExec;
  #scratch: Uint8Array;
  #scratchUsers: Executable[] = [];
  // Activations.
  #h: Float32Array;
  /** The residual stream of the prefix tokens only, `[batch·prefix, hidden]`. */
  #hp: Float32Array;
  #a: Float32Array;
  #qkv: Float32Array;
  #q: Float32Array;
  #k: Float32Array;
  #v: Float32Array;
  #s: Float32Array;
  #ctx: Float32Array;
  #merged: Float32Array;
  #f: Float32Array;
  #patches: Float32Array;
  #loaded: EncoderWeights | null = null;
  #weights: EncoderWeights | null = null;

  constructor(w: EncoderWeights, batch: number, imageSize: number) {
    this.batch = batch;
    this.imageSize = imageSize;
    const H = w.hidden, nh = w.heads, dh = H / nh, I = w.intermediate;
    const grid = imageSize / w.patchSize;
    const T = grid * grid + w.prefix.length;
    this.#t = T;
    const B = batch, M = B * T;
    this.#h = new Float32Array(M * H);
    this.#hp = new Float32Array(B * w.prefix.length * H);
    this.#a = new Float32Array(M * H);
    this.#qkv = new Float32Array(M * 3 * H);
    this.#q = new Float32Array(M * H);
    this.#k = new Float32Array(M * H);
    this.#v = new Float32Array(M * H);
    this.#s = new Float32Array(B * nh * T * T);
    this.#ctx = new Float32Array(M * H);
    this.#merged = new Float32Array(M * H);
    this.#f = new Float32Array(M * I);
    this.#patches = new Float32Array(B * grid * grid * H);
    let scratch = 64;
    const track = (e: Executable) => {
      if (e.scratchBytes) {
        scratch = Math.max(scratch, e.scratchBytes);
        this.#scratchUsers.push(e);
      }
      this.#execs.push(e);
      return e;
    };

    // Patch embedding: a p×p stride-p convolution with its bias.
    {
      const p = w.patchSize;
      const src = md([B, w.channels, imageSize, imageSize], D.tag.nhwc);
      const dst = md([B, H, grid, grid], D.tag.nhwc);
      const userW = md([H, w.channels, p, p], D.tag.hwio);
      const anyW = md([H, w.channels, p, p], D.tag.any);
      const bias = md([H], D.tag.a);
      const zero = new BigInt64Array(12), stride = new BigInt64Array(12);
      stride[0] = BigInt(p);
      stride[1] = BigInt(p);
      const op = opDesc();
      checkInit(
        ctx().lib.dnnl_convolution_forward_desc_init(
          op,
          D.prop.fwdInference,
          D.alg.convDirect,
          src,
          anyW,
          Deno.UnsafePointer.of(bias),
          dst,
          stride,
          zero,
          zero,
        ),
        "convolution_forward_desc_init",
      );
      const attr = primitiveAttr([], true);
      const pd = primitiveDesc(op, attr);
      ctx().lib.dnnl_primitive_attr_destroy(attr);
      const wantW = wantedMd(pd, D.arg.weights)!;
      const exec = track(
        new Executable(pd, [
          [D.arg.src, src],
          [D.arg.weights, wantW],
          [D.arg.bias, bias],
          [D.arg.dst, dst],
          ...scratchArgs(pd),
        ]),
      );
      const wb = new Float32Array(Math.ceil(mdSize(wantW) / F)), bb = new Float32Array(H);
      exec.bind(D.arg.weights, wb);
      exec.bind(D.arg.bias, bb);
      exec.bind(D.arg.dst, this.#patches);
      this.#patch = { exec, userW, wantW, w: wb, b: bb };
    }

    const matmul = (
      m: number,
      k: number,
      n: number,
      src: Float32Array,
      dst: Float32Array,
      post: PostOp[],
    ): MatmulExec => {
      const srcMd = md([m, k], D.tag.ab), dstMd = md([m, n], D.tag.ab);
      const userW = md([k, n], D.tag.ab), anyW = md([k, n], D.tag.any);
      const bias = md([1, n], D.tag.ab);
      const op = opDesc();
      checkInit(
        ctx().lib.dnnl_matmul_desc_init(op, srcMd, anyW, Deno.UnsafePointer.of(bias), dstMd),
        "matmul_desc_init",
      );
      const attr = primitiveAttr(post, true);
      const pd = primitiveDesc(op, attr);
      ctx().lib.dnnl_primitive_attr_destroy(attr);
      const wantW = wantedMd(pd, D.arg.weights)!;
      const exec = track(
        new Executable(pd, [
          [D.arg.src, srcMd],
          [D.arg.weights, wantW],
          [D.arg.bias, bias],
          [D.arg.dst, dstMd],
          ...scratchArgs(pd),
        ]),
      );
      const wb = new Float32Array(Math.ceil(mdSize(wantW) / F)), bb = new Float32Array(n);
      exec.bind(D.arg.src, src);
      exec.bind(D.arg.weights, wb);
      exec.bind(D.arg.bias, bb);
      exec.bind(D.arg.dst, dst);
      return { exec, userW, wantW, w: wb, b: bb };
    };

    const layerNorm = (src: Float32Array, dst: Float32Array, rows: number) => {
      const data = md([rows, H], D.tag.ab);
      const op = opDesc();
      checkInit(
        ctx().lib.dnnl_layer_normalization_forward_desc_init(
          op,
          D.prop.fwdInference,
          data,
          null,
          w.eps,
          D.bn.useScale | D.bn.useShift,
        ),
        "layer_normalization_forward_desc_init",
      );
      const attr = primitiveAttr([], true);
      const pd = primitiveDesc(op, attr);
      ctx().lib.dnnl_primitive_attr_destroy(attr);
      const ch = md([H], D.tag.a);
      const args: [number, Uint8Array<ArrayBuffer>][] = [
        [D.arg.src, data],
        [D.arg.dst, data],
        [D.arg.scale, ch],
        [D.arg.shift, ch],
        ...scratchArgs(pd),
      ];
      const e = track(new Executable(pd, args));
      e.bind(D.arg.src, src);
      e.bind(D.arg.dst, dst);
      return e;
    };

    const reorder = (
      srcMd: Uint8Array<ArrayBuffer>,
      dstMd: Uint8Array<ArrayBuffer>,
      src: ArrayBufferView,
      dst: ArrayBufferView,
    ) => {
      const cell = new BigUint64Array(1);
      const { lib, engine } = ctx();
      checkInit(
        lib.dnnl_reorder_primitive_desc_create(
          cell,
          Deno.UnsafePointer.of(srcMd),
          engine,
          Deno.UnsafePointer.of(dstMd),
          engine,
          null,
        ),
        "reorder_primitive_desc_create",
      );
      const pd = Deno.UnsafePointer.create(cell[0]);
      const e = track(new Executable(pd, [[D.arg.src, srcMd], [D.arg.dst, dstMd]]));
      e.bind(D.arg.src, src);
      e.bind(D.arg.dst, dst);
      return e;
    };

    // [B, T, 3, nh, dh] → three dense [B, nh, T, dh] (the Q, K, V of each head contiguous).
    const heads4 = [B, nh, T, dh];
    const dense4 = mdStrides(heads4, denseStrides(heads4));
    const fromQkv = mdStrides(heads4, [T * 3 * H, dh, 3 * H, 1]);
    const bh = B * nh;
    const batched = (a: number, b: number, strides?: number[]) =>
      strides ? mdStrides([bh, a, b], strides) : mdStrides([bh, a, b], [a * b, b, 1]);

    const scale = 1 / Math.sqrt(dh);
    const P = w.prefix.length;
    for (let l = 0; l < w.layers.length; l++) {
      // The last layer feeds only the prefix tokens to the heads: its queries, output
      // projection and MLP run on those rows alone (keys and values still cover every token).
      const last = l === w.layers.length - 1;
      const Tq = last ? P : T, R = B * Tq;
      const hOut = last ? this.#hp : this.#h;
      const ln1 = layerNorm(this.#h, this.#a, M);
      const qkv = matmul(M, H, 3 * H, this.#a, this.#qkv, []);
      const split = [this.#q, this.#k, this.#v].map((buf, i) =>
        reorder(fromQkv, dense4, this.#qkv.subarray(i * H), buf)
      );
      // S = Q·Kᵀ·scale, batched over (batch, head); Kᵀ is K read with swapped strides.
      let op = opDesc();
      const qMd = batched(Tq, dh, [T * dh, dh, 1]), kT = batched(dh, T, [T * dh, 1, dh]);
      const sMd = batched(Tq, T);
      checkInit(ctx().lib.dnnl_matmul_desc_init(op, qMd, kT, null, sMd), "matmul_desc_init");
      let attr = primitiveAttr(
        [{ kind: "eltwise", alg: D.alg.linear, alpha: scale, beta: 0 }],
        true,
      );
      let pd = primitiveDesc(op, attr);
      ctx().lib.dnnl_primitive_attr_destroy(attr);
      const scores = track(
        new Executable(pd, [
          [D.arg.src, qMd],
          [D.arg.weights, kT],
          [D.arg.dst, sMd],
          ...scratchArgs(pd),
        ]),
      );
      scores.bind(D.arg.src, this.#q);
      scores.bind(D.arg.weights, this.#k);
      scores.bind(D.arg.dst, this.#s);
      op = opDesc();
      checkInit(
        ctx().lib.dnnl_softmax_forward_desc_init(op, D.prop.fwdInference, sMd, 2),
        "softmax_forward_desc_init",
      );
      attr = primitiveAttr([], true);
      pd = primitiveDesc(op, attr);
      ctx().lib.dnnl_primitive_attr_destroy(attr);
      const softmax = track(
        new Executable(pd, [[D.arg.src, sMd], [D.arg.dst, sMd], ...scratchArgs(pd)]),
      );
      softmax.bind(D.arg.src, this.#s);
      softmax.bind(D.arg.dst, this.#s);
      op = opDesc();
      const vMd = batched(T, dh), cMd = batched(Tq, dh);
      checkInit(ctx().lib.dnnl_matmul_desc_init(op, sMd, vMd, null, cMd), "matmul_desc_init");
      attr = primitiveAttr([], true);
      pd = primitiveDesc(op, attr);
      ctx().lib.dnnl_primitive_attr_destroy(attr);
      const context = track(
        new Executable(pd, [
          [D.arg.src, sMd],
          [D.arg.weights, vMd],
          [D.arg.dst, cMd],
          ...scratchArgs(pd),
        ]),
      );
      context.bind(D.arg.src, this.#s);
      context.bind(D.arg.weights, this.#v);
      context.bind(D.arg.dst, this.#ctx);
      const heads = [B, nh, Tq, dh];
      const merge = reorder(
        mdStrides(heads, denseStrides(heads)),
        mdStrides(heads, [Tq * H, dh, H, 1]),
        this.#ctx,
        this.#merged,
      );
      const out = matmul(R, H, H, this.#merged, hOut, [{ kind: "sum" }]);
      const ln2 = layerNorm(hOut, this.#a, R);
      const fc1 = matmul(R, H, I, this.#a, this.#f, [
        { kind: "eltwise", alg: D.alg.geluErf, alpha: 0, beta: 0 },
      ]);
      const fc2 = matmul(R, I, H, this.#f, hOut, [{ kind: "sum" }]);
      const lnParams = [
        new Float32Array(H),
        new Float32Array(H),
        new Float32Array(H),
        new Float32Array(H),
      ] as [Float32Array, Float32Array, Float32Array, Float32Array];
      ln1.bind(D.arg.scale, lnParams[0]);
      ln1.bind(D.arg.shift, lnParams[1]);
      ln2.bind(D.arg.scale, lnParams[2]);
      ln2.bind(D.arg.shift, lnParams[3]);
      this.#layers.push({
        ln1,
        qkv,
        split,
        scores,
        softmax,
        context,
        merge,
        gather: last,
        out,
        ln2,
        fc1,
        fc2,
        lnParams,
      });
    }
    this.#scratch = new Uint8Array(scratch);
    for (const e of this.#scratchUsers) e.bind(D.arg.scratchpad, this.#scratch);
    this.loadWeights(w);
  }

  /** Copy (and reorder) `w` into the primitives' buffers unless already loaded. */
  loadWeights(w: EncoderWeights): void {
    if (this.#loaded === w) return;
    const load = (m: MatmulExec, weights: Float32Array, bias: Float32Array) => {
      if (mdEqual(m.userW, m.wantW)) m.w.set(weights);
      else reorderOnce(m.userW, m.wantW, weights, m.w);
      m.b.set(bias);
    };
    load(this.#patch, w.patch[0], w.patch[1]);
    w.layers.forEach((lw, i) => {
      const l = this.#layers[i];
      l.lnParams[0].set(lw.ln1[0]);
      l.lnParams[1].set(lw.ln1[1]);
      l.lnParams[2].set(lw.ln2[0]);
      l.lnParams[3].set(lw.ln2[1]);
      load(l.qkv, lw.qkv[0], lw.qkv[1]);
      load(l.out, lw.out[0], lw.out[1]);
      load(l.fc1, lw.fc1[0], lw.fc1[1]);
      load(l.fc2, lw.fc2[0], lw.fc2[1]);
    });
    this.#weights = w;
    this.#loaded = w;
  }

  /** Logits `[batch, labels]` of an NHWC batch `x`. */
  run(x: Float32Array): Float32Array {
    const w = this.#weights!;
    const H = w.hidden, T = this.#t, B = this.batch, P = w.prefix.length;
    this.#patch.exec.bind(D.arg.src, x);
    this.#patch.exec.run();
    streamWait();
    // Tokens: prefix tokens, then patches, plus position embeddings.
    const h = this.#h, pos = w.position, patches = this.#patches;
    for (let b = 0; b < B; b++) {
      const base = b * T * H;
      for (let t = 0; t < P; t++) {
        const tok = w.prefix[t];
        for (let j = 0; j < H; j++) h[base + t * H + j] = tok[j] + pos[t * H + j];
      }
      const src = b * (T - P) * H;
      for (let i = P * H; i < T * H; i++) h[base + i] = patches[src + i - P * H] + pos[i];
    }
    for (const l of this.#layers) {
      l.ln1.run();
      l.qkv.exec.run();
      for (const s of l.split) s.run();
      l.scores.run();
      l.softmax.run();
      l.context.run();
      l.merge.run();
      if (l.gather) this.#gatherPrefix();
      l.out.exec.run();
      l.ln2.run();
      l.fc1.exec.run();
      l.fc2.exec.run();
    }
    streamWait();
    if (!this.#layers.length) this.#gatherPrefix();
    const hp = this.#hp;
    // Final layer norm of the prefix tokens only (the heads read nothing else), then the heads.
    const K = w.classifiers[0][1].length;
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

  /** `#hp` ← the prefix-token rows of `#h`. */
  #gatherPrefix(): void {
    streamWait();
    const w = this.#weights!, H = w.hidden, T = this.#t, P = w.prefix.length;
    for (let b = 0; b < this.batch; b++) {
      this.#hp.set(this.#h.subarray(b * T * H, (b * T + P) * H), b * P * H);
    }
  }

  /** Free the primitives and memory objects. */
  destroy(): void {
    for (const e of this.#execs) e.destroy();
    this.#execs = [];
  }
}

/** Compiled encoders of one model, rebuilt when its weights change, one per batch size (LRU 2). */
export class EncoderRunner {
  #build: () => EncoderWeights;
  #version: () => readonly unknown[];
  #weights: EncoderWeights | null = null;
  #seen: readonly unknown[] = [];
  #compiled = new Map<string, CompiledEncoder>();

  constructor(build: () => EncoderWeights, version: () => readonly unknown[]) {
    this.#build = build;
    this.#version = version;
  }

  /** Logits of an NHWC batch `[batch, size, size, C]`. */
  run(x: Float32Array, batch: number, size: number): Float32Array {
    const v = this.#version();
    if (
      !this.#weights || v.length !== this.#seen.length || v.some((x, i) => x !== this.#seen[i])
    ) {
      this.#weights = this.#build();
      this.#seen = v;
    }
    const key = `${batch}x${size}`;
    let c = this.#compiled.get(key);
    if (c) this.#compiled.delete(key);
    else {
      c = new CompiledEncoder(this.#weights, batch, size);
      if (this.#compiled.size >= 2) {
        const [k, old] = this.#compiled.entries().next().value!;
        old.destroy();
        this.#compiled.delete(k);
      }
    }
    this.#compiled.set(key, c);
    c.loadWeights(this.#weights);
    return c.run(x);
  }

  /** Free every compiled encoder. */
  dispose(): void {
    for (const c of this.#compiled.values()) c.destroy();
    this.#compiled.clear();
    this.#weights = null;
  }
}

/** The kernel running an {@linkcode InferenceHandle}'s encoder (see `inference_graph.ts`). */
export function encoderKernel(): NativeKernel {
  return {
    name: ENCODER,
    fn: (args) => {
      const { x } = args.inputs as { x: tf.TensorInfo };
      const handle = (args.attrs as unknown as { handle: InferenceHandle<EncoderWeights> }).handle;
      let runner: EncoderRunner;
      if (handle.state instanceof EncoderRunner) runner = handle.state;
      else {
        handle.state?.dispose();
        handle.state = runner = new EncoderRunner(handle.build, handle.version);
      }
      const [batch, size] = x.shape;
      const logits = runner.run(valuesOf(args.backend, x), batch, size);
      countCompiledRun();
      return output(args.backend, [batch, logits.length / batch], logits);
    },
  };
}
