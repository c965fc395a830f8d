/**
 * The one module that talks to oneDNN 2.x (`libdnnl.so.2`, Debian `libdnnl2`) through Deno FFI,
 * hand-written because no binding exists for Deno. It builds every primitive from a description
 * ({@linkcode OpSpec}: the operation and its memory descriptors, plus post-ops and the
 * scratchpad mode) and owns every native object: primitive descriptors, primitives and memory
 * objects live inside {@linkcode Executable} (freed by its `destroy`) or a cached
 * {@linkcode Primitive} (kept for the process); primitive attributes and descriptors never leave
 * here (memory descriptors are plain bytes, {@linkcode Md}).
 * Tensors stay in JS typed arrays: each execution points oneDNN's memory objects at them.
 * @module
 */

/** oneDNN enum values (from `dnnl_types.h` of 2.6). */
export const D = {
  f32: 3,
  tag: { any: 1, a: 2, ab: 3, nhwc: 20, hwio: 30, hwigo: 33 },
  prop: { fwdTraining: 64, fwdInference: 96, bwd: 128 },
  alg: {
    convDirect: 1,
    clip: 255,
    geluErf: 0x30,
    linear: 0x7f,
    poolingAvg: 0x3ff,
    clipV2UseDst: 262,
    relu: 31,
    add: 131056,
    mul: 131057,
    max: 131058,
    sub: 131061,
    div: 131060,
  },
  arg: {
    src: 1,
    src1: 2,
    dst: 17,
    weights: 33,
    bias: 41,
    mean: 49,
    variance: 50,
    scale: 51,
    shift: 52,
    scratchpad: 80,
    diffSrc: 129,
    diffDst: 145,
    diffWeights: 161,
    diffBias: 169,
    diffScale: 255,
    diffShift: 256,
  },
} as const;

const QUERY = { implInfoStr: 8, scratchpadMd: 136, execArgMd: 255 };
const NORM_SCALE_SHIFT = 8 | 16;

/** A `dnnl_memory_desc_t` (opaque bytes; made by {@linkcode md} or {@linkcode mdStrides}). */
export type Md = Uint8Array<ArrayBuffer>;

/** Execution-argument id of the `src1` of post-op number `index` (binary post-ops). */
export function postOpSrc1(index: number): number {
  return (16384 * (index + 1)) | D.arg.src1;
}

/** A post-op: binary with a second tensor of layout `src1`, eltwise, or accumulate (`sum`). */
export type PostOp =
  | { kind: "binary"; alg: number; src1: Md }
  | { kind: "eltwise"; alg: number; alpha: number; beta: number }
  | { kind: "sum" };

/**
 * What a primitive computes, on which memory descriptors: oneDNN's op descriptors as data.
 * Convolution geometry is `[h, w]` pairs; `dilations` are oneDNN's (0: none). Backward specs
 * take the forward's descriptors (`src`, `weights`, `dst` stand for their diffs where written).
 */
export type OpSpec =
  | {
    op: "conv" | "convBwdData" | "convBwdWeights";
    prop?: number;
    src: Md;
    weights: Md;
    bias?: Md;
    dst: Md;
    strides: readonly number[];
    dilations?: readonly number[];
    padL: readonly number[];
    padR: readonly number[];
  }
  | { op: "matmul"; src: Md; weights: Md; bias?: Md; dst: Md }
  | { op: "softmax"; prop: number; data: Md; axis: number }
  | { op: "binary"; alg: number; src: Md; src1: Md; dst: Md }
  | {
    op: "eltwise" | "eltwiseBwd";
    prop?: number;
    alg: number;
    data: Md;
    alpha: number;
    beta: number;
  }
  | { op: "bnorm" | "bnormBwd" | "lnorm"; prop: number; data: Md; channels: Md; eps: number }
  | {
    op: "pool";
    prop: number;
    alg: number;
    src: Md;
    dst: Md;
    strides: readonly number[];
    kernel: readonly number[];
    padL: readonly number[];
    padR: readonly number[];
  }
  | { op: "reorder"; src: Md; dst: Md };

/** Bytes reserved for a `dnnl_memory_desc_t` (696 in 2.6) and for an op descriptor (≤ 5976). */
const MD_BYTES = 1024;
const OP_BYTES = 8192;

const B = "buffer", P = "pointer", I = "i32", F = "f32";
const fn = <const A extends readonly Deno.NativeType[], R extends Deno.NativeResultType = "i32">(
  parameters: A,
  result: R = I as R,
) => ({ parameters, result });

const SYMBOLS = {
  dnnl_engine_create: fn([B, I, "usize"]),
  dnnl_stream_create: fn([B, P, "u32"]),
  dnnl_stream_wait: fn([P]),
  dnnl_memory_desc_init_by_tag: fn([B, I, B, I, I]),
  dnnl_memory_desc_init_by_strides: fn([B, I, B, I, B]),
  dnnl_memory_desc_equal: fn([P, P]),
  dnnl_memory_desc_get_size: fn([P], "usize"),
  dnnl_dilated_convolution_forward_desc_init: fn([B, I, I, B, B, P, B, B, B, B, B]),
  dnnl_convolution_backward_data_desc_init: fn([B, I, B, B, B, B, B, B]),
  dnnl_convolution_backward_weights_desc_init: fn([B, I, B, B, P, B, B, B, B]),
  dnnl_matmul_desc_init: fn([B, B, B, P, B]),
  dnnl_softmax_forward_desc_init: fn([B, I, B, I]),
  dnnl_binary_desc_init: fn([B, I, B, B, B]),
  dnnl_eltwise_forward_desc_init: fn([B, I, I, B, F, F]),
  dnnl_eltwise_backward_desc_init: fn([B, I, B, B, F, F]),
  dnnl_batch_normalization_forward_desc_init: fn([B, I, B, F, "u32"]),
  dnnl_batch_normalization_backward_desc_init: fn([B, I, B, B, F, "u32"]),
  dnnl_layer_normalization_forward_desc_init: fn([B, I, B, P, F, "u32"]),
  dnnl_pooling_v2_forward_desc_init: fn([B, I, I, B, B, B, B, B, B, B]),
  dnnl_primitive_desc_create: fn([B, B, P, P, P]),
  dnnl_reorder_primitive_desc_create: fn([B, P, P, P, P, P]),
  dnnl_primitive_desc_query_md: fn([P, I, I], P),
  dnnl_primitive_desc_query: fn([P, I, I, B]),
  dnnl_primitive_desc_destroy: fn([P]),
  dnnl_primitive_create: fn([B, P]),
  dnnl_primitive_destroy: fn([P]),
  dnnl_primitive_execute: fn([P, P, I, B]),
  dnnl_memory_create: fn([B, P, P, P]),
  dnnl_memory_set_data_handle: fn([P, P]),
  dnnl_memory_destroy: fn([P]),
  dnnl_primitive_attr_create: fn([B]),
  dnnl_primitive_attr_destroy: fn([P]),
  dnnl_primitive_attr_set_post_ops: fn([P, P]),
  dnnl_primitive_attr_set_scratchpad_mode: fn([P, I]),
  dnnl_post_ops_create: fn([B]),
  dnnl_post_ops_destroy: fn([P]),
  dnnl_post_ops_append_binary: fn([P, I, B]),
  dnnl_post_ops_append_sum: fn([P, F]),
  dnnl_post_ops_append_eltwise: fn([P, F, I, F, F]),
  dnnl_sgemm: fn(["u8", "u8", "i64", "i64", "i64", F, B, "i64", B, "i64", F, B, "i64"]),
} as const;

type Lib = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/** The Debian package that provides `libdnnl.so.2`. */
export const DNNL_PACKAGE = "libdnnl2";

let lib: Lib | undefined;
let engine: Deno.PointerValue = null;
let stream: Deno.PointerValue = null;

/** Whether this module set `OMP_WAIT_POLICY` (so child processes can get the user's own). */
export let ompPolicySetHere = false;

function tryOpen(): Lib {
  // libgomp reads this when it loads. Spinning workers (its default) collapse when other
  // processes share the cores: every oneDNN call then waits for a descheduled spinner.
  if (!Deno.env.get("OMP_WAIT_POLICY")) {
    Deno.env.set("OMP_WAIT_POLICY", "passive");
    ompPolicySetHere = true;
  }
  return Deno.dlopen(libraryPath(), SYMBOLS).symbols;
}

/** `KD_DNNL_LIB` (a user-managed oneDNN 2.x build; never auto-installed), else `libdnnl.so.2`. */
function libraryPath(): string {
  return Deno.env.get("KD_DNNL_LIB") || "libdnnl.so.2";
}

function isRootDebian(): boolean {
  try {
    return Deno.uid() === 0 && Deno.statSync("/usr/bin/apt-get").isFile;
  } catch {
    return false;
  }
}

/** Load libdnnl (installing `libdnnl2` with apt when root on Debian); throws a clear Error if absent. */
function loadDnnl(opts: { install?: boolean } = {}): Lib {
  if (lib) return lib;
  try {
    lib = tryOpen();
  } catch (e) {
    if (!(opts.install ?? true) || !isRootDebian() || Deno.env.get("KD_DNNL_LIB")) {
      throw new Error(
        `oneDNN (${libraryPath()}) not found: install the Debian package ${DNNL_PACKAGE} ` +
          `(apt-get install ${DNNL_PACKAGE}) [${(e as Error).message.split("\n")[0]}]`,
      );
    }
    console.error(`native backend: installing ${DNNL_PACKAGE} with apt-get (one-time)...`);
    const env = { DEBIAN_FRONTEND: "noninteractive" };
    const run = (args: string[]) =>
      new Deno.Command("apt-get", { args, env, stdout: "null", stderr: "piped" }).outputSync();
    let res = run(["install", "-y", "-qq", DNNL_PACKAGE]);
    if (!res.success) {
      run(["update", "-qq"]);
      res = run(["install", "-y", "-qq", DNNL_PACKAGE]);
    }
    if (!res.success) {
      throw new Error(
        `apt-get install ${DNNL_PACKAGE} failed: ${new TextDecoder().decode(res.stderr).trim()}`,
      );
    }
    lib = tryOpen();
  }
  return lib;
}

/** Whether libdnnl can be loaded right now (no install attempt). */
export function dnnlAvailable(): boolean {
  try {
    loadDnnl({ install: false });
    return true;
  } catch {
    return false;
  }
}

function check(status: number, what: string): void {
  if (status !== 0) throw new Error(`oneDNN ${what} failed with status ${status}`);
}

const ptrOut = () => new BigUint64Array(1);
const ptrOf = (cell: BigUint64Array): Deno.PointerValue => Deno.UnsafePointer.create(cell[0]);
const ptr = (a?: ArrayBufferView | null): Deno.PointerValue =>
  a ? Deno.UnsafePointer.of(a as Uint8Array<ArrayBuffer>) : null;

function ctx(): { lib: Lib; engine: Deno.PointerValue; stream: Deno.PointerValue } {
  const l = loadDnnl();
  if (!engine) {
    const e = ptrOut();
    check(l.dnnl_engine_create(e, 1, 0n), "engine_create");
    engine = ptrOf(e);
    const s = ptrOut();
    check(l.dnnl_stream_create(s, engine, 1), "stream_create");
    stream = ptrOf(s);
  }
  return { lib: l, engine, stream };
}

/** Load libdnnl and create the CPU engine and stream (once); throws a clear Error if absent. */
export function initDnnl(): void {
  ctx();
}

/** A `dnnl_dims_t` (int64[12]). */
function dims(values: readonly number[]): BigInt64Array {
  const out = new BigInt64Array(12);
  values.forEach((v, i) => out[i] = BigInt(v));
  return out;
}

/** A plain f32 memory descriptor with logical `d` (oneDNN order, e.g. NCHW) and layout `tag`. */
export function md(d: readonly number[], tag: number): Md {
  const buf = new Uint8Array(MD_BYTES);
  check(ctx().lib.dnnl_memory_desc_init_by_tag(buf, d.length, dims(d), D.f32, tag), "md_init");
  return buf;
}

/** An f32 memory descriptor with logical dims `d` and explicit element `strides`. */
export function mdStrides(d: readonly number[], strides: readonly number[]): Md {
  const buf = new Uint8Array(MD_BYTES);
  check(
    ctx().lib.dnnl_memory_desc_init_by_strides(buf, d.length, dims(d), D.f32, dims(strides)),
    "md_init_by_strides",
  );
  return buf;
}

/** Row-major element strides of `shape`. */
export function denseStrides(shape: readonly number[]): number[] {
  const st = new Array(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) st[i] = st[i + 1] * shape[i + 1];
  return st;
}

function mdSize(m: Md): number {
  return Number(ctx().lib.dnnl_memory_desc_get_size(ptr(m)));
}

function mdEqual(a: Md, b: Md): boolean {
  return ctx().lib.dnnl_memory_desc_equal(ptr(a), ptr(b)) === 1;
}

const live = { primitives: 0, memories: 0, scratchBytes: 0 };

/** Counts of native objects alive (primitives, memory objects, bytes of internal buffers). */
export function nativeAllocations(): {
  primitives: number;
  memories: number;
  scratchBytes: number;
} {
  return { ...live };
}

type Role = [arg: number, md: Md, written: boolean];

/** The arguments of `s`: id, descriptor, and whether the primitive writes it. */
function roles(s: OpSpec): Role[] {
  const { arg } = D;
  const r = (a: number, m: Md | undefined, written = false): Role[] => m ? [[a, m, written]] : [];
  switch (s.op) {
    case "conv":
    case "matmul":
      return [
        ...r(arg.src, s.src),
        ...r(arg.weights, s.weights),
        ...r(arg.bias, s.bias),
        ...r(arg.dst, s.dst, true),
      ];
    case "convBwdData":
      return [
        ...r(arg.diffDst, s.dst),
        ...r(arg.weights, s.weights),
        ...r(arg.diffSrc, s.src, true),
      ];
    case "convBwdWeights":
      return [
        ...r(arg.src, s.src),
        ...r(arg.diffDst, s.dst),
        ...r(arg.diffWeights, s.weights, true),
        ...r(arg.diffBias, s.bias, true),
      ];
    case "softmax":
    case "eltwise":
      return [...r(arg.src, s.data), ...r(arg.dst, s.data, true)];
    case "eltwiseBwd":
      return [...r(arg.dst, s.data), ...r(arg.diffDst, s.data), ...r(arg.diffSrc, s.data, true)];
    case "binary":
      return [...r(arg.src, s.src), ...r(arg.src1, s.src1), ...r(arg.dst, s.dst, true)];
    case "bnorm":
    case "lnorm": {
      const stats = s.op === "bnorm" && s.prop === D.prop.fwdTraining ? s.channels : undefined;
      return [
        ...r(arg.src, s.data),
        ...r(arg.scale, s.channels),
        ...r(arg.shift, s.channels),
        ...r(arg.dst, s.data, true),
        ...r(arg.mean, stats, true),
        ...r(arg.variance, stats, true),
      ];
    }
    case "bnormBwd":
      return [
        ...r(arg.src, s.data),
        ...r(arg.mean, s.channels),
        ...r(arg.variance, s.channels),
        ...r(arg.diffDst, s.data),
        ...r(arg.scale, s.channels),
        // oneDNN 2.x validates that SHIFT is bound for use_shift backward but never reads it.
        ...r(arg.shift, s.channels),
        ...r(arg.diffSrc, s.data, true),
        ...r(arg.diffScale, s.channels, true),
        ...r(arg.diffShift, s.channels, true),
      ];
    case "pool":
    case "reorder":
      return [...r(arg.src, s.src), ...r(arg.dst, s.dst, true)];
  }
}

/** oneDNN's op descriptor for `s` (reorders have none). */
function opDesc(s: Exclude<OpSpec, { op: "reorder" }>): Md {
  const op = new Uint8Array(OP_BYTES), l = ctx().lib;
  const status = (() => {
    switch (s.op) {
      case "conv":
        return l.dnnl_dilated_convolution_forward_desc_init(
          op,
          s.prop ?? D.prop.fwdTraining,
          D.alg.convDirect,
          s.src,
          s.weights,
          ptr(s.bias),
          s.dst,
          dims(s.strides),
          dims(s.dilations ?? [0, 0]),
          dims(s.padL),
          dims(s.padR),
        );
      case "convBwdData":
        return l.dnnl_convolution_backward_data_desc_init(
          op,
          D.alg.convDirect,
          s.src,
          s.weights,
          s.dst,
          dims(s.strides),
          dims(s.padL),
          dims(s.padR),
        );
      case "convBwdWeights":
        return l.dnnl_convolution_backward_weights_desc_init(
          op,
          D.alg.convDirect,
          s.src,
          s.weights,
          ptr(s.bias),
          s.dst,
          dims(s.strides),
          dims(s.padL),
          dims(s.padR),
        );
      case "matmul":
        return l.dnnl_matmul_desc_init(op, s.src, s.weights, ptr(s.bias), s.dst);
      case "softmax":
        return l.dnnl_softmax_forward_desc_init(op, s.prop, s.data, s.axis);
      case "binary":
        return l.dnnl_binary_desc_init(op, s.alg, s.src, s.src1, s.dst);
      case "eltwise":
        return l.dnnl_eltwise_forward_desc_init(op, s.prop!, s.alg, s.data, s.alpha, s.beta);
      case "eltwiseBwd":
        return l.dnnl_eltwise_backward_desc_init(op, s.alg, s.data, s.data, s.alpha, s.beta);
      case "bnorm":
        return l.dnnl_batch_normalization_forward_desc_init(
          op,
          s.prop,
          s.data,
          s.eps,
          NORM_SCALE_SHIFT,
        );
      case "bnormBwd":
        return l.dnnl_batch_normalization_backward_desc_init(
          op,
          s.prop,
          s.data,
          s.data,
          s.eps,
          NORM_SCALE_SHIFT,
        );
      case "lnorm":
        return l.dnnl_layer_normalization_forward_desc_init(
          op,
          s.prop,
          s.data,
          null,
          s.eps,
          NORM_SCALE_SHIFT,
        );
      case "pool":
        return l.dnnl_pooling_v2_forward_desc_init(
          op,
          s.prop,
          s.alg,
          s.src,
          s.dst,
          dims(s.strides),
          dims(s.kernel),
          dims([0, 0]),
          dims(s.padL),
          dims(s.padR),
        );
    }
  })();
  check(status, `${s.op} descriptor`);
  return op;
}

/** A primitive descriptor for `s`; the attribute (post-ops, scratchpad mode) lives only here. */
function primitiveDesc(
  s: OpSpec,
  post: readonly PostOp[],
  userScratchpad: boolean,
  hint: Deno.PointerValue,
): Deno.PointerValue {
  const { lib, engine } = ctx();
  const a = ptrOut(), p = ptrOut();
  check(lib.dnnl_primitive_attr_create(a), "primitive_attr_create");
  const attr = ptrOf(a);
  try {
    check(lib.dnnl_post_ops_create(p), "post_ops_create");
    const ops = ptrOf(p);
    for (const op of post) {
      if (op.kind === "binary") {
        check(lib.dnnl_post_ops_append_binary(ops, op.alg, op.src1), "post_ops_append_binary");
      } else if (op.kind === "sum") {
        check(lib.dnnl_post_ops_append_sum(ops, 1), "post_ops_append_sum");
      } else {
        check(
          lib.dnnl_post_ops_append_eltwise(ops, 1, op.alg, op.alpha, op.beta),
          "post_ops_append_eltwise",
        );
      }
    }
    check(lib.dnnl_primitive_attr_set_post_ops(attr, ops), "primitive_attr_set_post_ops");
    lib.dnnl_post_ops_destroy(ops);
    if (userScratchpad) {
      check(lib.dnnl_primitive_attr_set_scratchpad_mode(attr, 1), "set_scratchpad_mode");
    }
    const cell = ptrOut();
    const status = s.op === "reorder"
      ? lib.dnnl_reorder_primitive_desc_create(cell, ptr(s.src), engine, ptr(s.dst), engine, attr)
      : lib.dnnl_primitive_desc_create(cell, opDesc(s), attr, engine, hint);
    check(status, `${s.op} primitive_desc_create`);
    return ptrOf(cell);
  } finally {
    lib.dnnl_primitive_attr_destroy(attr);
  }
}

/** A copy of the descriptor `pd` uses for `arg` (null: none). */
function queryMd(pd: Deno.PointerValue, arg: number): Md | null {
  const { lib } = ctx();
  const want = arg === D.arg.scratchpad
    ? lib.dnnl_primitive_desc_query_md(pd, QUERY.scratchpadMd, 0)
    : lib.dnnl_primitive_desc_query_md(pd, QUERY.execArgMd, arg);
  if (!want) return null;
  const out = new Uint8Array(MD_BYTES);
  out.set(new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(want, 696)));
  return out;
}

function implName(pd: Deno.PointerValue): string {
  const cell = ptrOut();
  ctx().lib.dnnl_primitive_desc_query(pd, QUERY.implInfoStr, 0, new Uint8Array(cell.buffer));
  return cell[0] ? Deno.UnsafePointerView.getCString(Deno.UnsafePointer.create(cell[0])!) : "?";
}

/** Options of {@linkcode Executable}. */
export interface BuildOptions {
  post?: readonly PostOp[];
  /** The forward primitive a backward one is built against. */
  hint?: Executable | null;
  /** Take the scratchpad as an argument (bound by the caller) instead of allocating per run. */
  userScratchpad?: boolean;
}

/**
 * A primitive built from `spec` with one memory object per argument, each pointed at a
 * caller-owned buffer by {@linkcode Executable.bind}: a compiled graph binds once and then only
 * executes. Arguments declared with format `any` take the layout oneDNN picks
 * ({@linkcode Executable.own} fills such a buffer). Owns its native objects until `destroy`.
 */
export class Executable {
  readonly impl: string;
  /** Bytes of the user scratchpad this primitive takes (0: none). */
  readonly scratchBytes: number = 0;
  #pd: Deno.PointerValue;
  #prim: Deno.PointerValue;
  #mems = new Map<number, Deno.PointerValue>();
  #mds = new Map<number, Md>();
  #args: Uint8Array<ArrayBuffer>;

  constructor(readonly spec: OpSpec, opts: BuildOptions = {}) {
    const { lib, engine } = ctx();
    const post = opts.post ?? [];
    this.#pd = primitiveDesc(
      spec,
      post,
      opts.userScratchpad ?? false,
      opts.hint ? opts.hint.#pd : null,
    );
    this.impl = implName(this.#pd);
    const cell = ptrOut();
    check(lib.dnnl_primitive_create(cell, this.#pd), "primitive_create");
    this.#prim = ptrOf(cell);
    live.primitives++;
    for (const [arg, m] of roles(spec)) this.#mds.set(arg, queryMd(this.#pd, arg) ?? m);
    post.forEach((p, i) => p.kind === "binary" && this.#mds.set(postOpSrc1(i), p.src1));
    const scratch = opts.userScratchpad && queryMd(this.#pd, D.arg.scratchpad);
    if (scratch && mdSize(scratch) > 0) {
      this.#mds.set(D.arg.scratchpad, scratch);
      this.scratchBytes = mdSize(scratch);
    }
    this.#args = new Uint8Array(16 * this.#mds.size);
    const view = new DataView(this.#args.buffer);
    [...this.#mds].forEach(([arg, m], i) => {
      const mem = ptrOut();
      check(lib.dnnl_memory_create(mem, ptr(m), engine, null), "memory_create");
      live.memories++;
      this.#mems.set(arg, ptrOf(mem));
      view.setInt32(16 * i, arg, true);
      view.setBigUint64(16 * i + 8, mem[0], true);
    });
  }

  /** The descriptor of argument `arg` as the primitive uses it. */
  md(arg: number): Md {
    const m = this.#mds.get(arg);
    if (!m) throw new Error(`oneDNN ${this.spec.op}: no argument ${arg}`);
    return m;
  }

  /** Point argument `arg` at `data` (the caller keeps `data` alive while bound). */
  bind(arg: number, data: ArrayBufferView): void {
    const mem = this.#mems.get(arg);
    if (!mem) throw new Error(`oneDNN ${this.spec.op}: no argument ${arg}`);
    ctx().lib.dnnl_memory_set_data_handle(mem, ptr(data));
  }

  /**
   * Bind `arg` to a new buffer in the primitive's own layout, and return a loader that fills it
   * from values in the layout `user` (reordered once per load when the layouts differ; copied
   * when `user` is omitted; zeroed for null).
   */
  own(arg: number, user?: Md): (values: Float32Array | null) => void {
    const want = this.md(arg);
    const buffer = new Float32Array(Math.ceil(mdSize(want) / 4));
    this.bind(arg, buffer);
    if (!user || mdEqual(user, want)) return (v) => v ? buffer.set(v) : buffer.fill(0);
    return (v) => {
      const r = new Executable({ op: "reorder", src: user, dst: want });
      r.bind(D.arg.src, v ?? new Float32Array(buffer.length));
      r.bind(D.arg.dst, buffer);
      r.run();
      streamWait();
      r.destroy();
    };
  }

  /** Execute on the stream (CPU streams run in order; {@linkcode streamWait} before reading). */
  run(): void {
    const { lib, stream } = ctx();
    check(lib.dnnl_primitive_execute(this.#prim, stream, this.#mems.size, this.#args), "execute");
  }

  /** Free the primitive, its descriptor and its memory objects. */
  destroy(): void {
    if (!this.#prim) return;
    const { lib } = ctx();
    lib.dnnl_primitive_destroy(this.#prim);
    lib.dnnl_primitive_desc_destroy(this.#pd);
    live.primitives--;
    for (const m of this.#mems.values()) lib.dnnl_memory_destroy(m);
    live.memories -= this.#mems.size;
    this.#mems.clear();
    this.#prim = this.#pd = null;
  }
}

/** Wait for the stream's queued executions. */
export function streamWait(): void {
  const { lib, stream } = ctx();
  check(lib.dnnl_stream_wait(stream), "stream_wait");
}

/** Options of {@linkcode Primitive}: the caller's layouts where they differ from the spec's. */
export interface PrimitiveOptions extends Omit<BuildOptions, "hint" | "userScratchpad"> {
  hint?: Primitive | null;
  /** Per argument id, the layout of the caller's array (default: the spec's descriptor). */
  user?: Record<number, Md>;
}

/**
 * A ready-to-run primitive for tfjs kernels: each run binds the caller's arrays. Arguments whose
 * layout the primitive chose differently (format `any`) go through a cached reorder and an
 * internal buffer, in before the run for inputs and out after it for outputs.
 */
export class Primitive {
  readonly main: Executable;
  #slots: { arg: number; out: boolean; reorder?: Executable; internal?: Float32Array }[] = [];

  constructor(spec: OpSpec, opts: PrimitiveOptions = {}) {
    this.main = new Executable(spec, { post: opts.post, hint: opts.hint?.main });
    const post = (opts.post ?? []).flatMap((p, i): Role[] =>
      p.kind === "binary" ? [[postOpSrc1(i), p.src1, false]] : []
    );
    for (const [arg, m, out] of [...roles(spec), ...post]) {
      const user = opts.user?.[arg] ?? m, want = this.main.md(arg);
      if (mdEqual(user, want)) {
        this.#slots.push({ arg, out });
        continue;
      }
      const internal = new Float32Array(Math.ceil(mdSize(want) / 4));
      live.scratchBytes += internal.byteLength;
      this.main.bind(arg, internal);
      const reorder = new Executable({
        op: "reorder",
        src: out ? want : user,
        dst: out ? user : want,
      });
      reorder.bind(out ? D.arg.src : D.arg.dst, internal);
      this.#slots.push({ arg, out, reorder, internal });
    }
  }

  /** Run with `buffers[arg]` as the data of each argument. */
  run(buffers: Record<number, ArrayBufferView>): void {
    for (const s of this.#slots) {
      const data = buffers[s.arg];
      if (!data) throw new Error(`oneDNN ${this.main.spec.op}: missing argument ${s.arg}`);
      if (!s.reorder) this.main.bind(s.arg, data);
      else {
        s.reorder.bind(s.out ? D.arg.dst : D.arg.src, data);
        if (!s.out) s.reorder.run();
      }
    }
    this.main.run();
    for (const s of this.#slots) if (s.out) s.reorder?.run();
    streamWait();
  }
}

const cache = new Map<string, Primitive>();

/** The process-wide primitive for `key`, built by `make` on first use (keys encode shapes). */
export function cached(key: string, make: () => Primitive): Primitive {
  let p = cache.get(key);
  if (!p) {
    p = make();
    cache.set(key, p);
    if (Deno.env.get("KD_NATIVE_VERBOSE")) console.error(`oneDNN ${key}: ${p.main.impl}`);
  }
  return p;
}

/** Row-major `C = op(A)·op(B) + beta·C` via `dnnl_sgemm`. */
export function sgemm(
  transA: boolean,
  transB: boolean,
  m: number,
  n: number,
  k: number,
  a: Float32Array,
  b: Float32Array,
  c: Float32Array,
  beta = 0,
): void {
  const status = ctx().lib.dnnl_sgemm(
    transA ? 84 : 78,
    transB ? 84 : 78,
    BigInt(m),
    BigInt(n),
    BigInt(k),
    1,
    a as Float32Array<ArrayBuffer>,
    BigInt(transA ? m : k),
    b as Float32Array<ArrayBuffer>,
    BigInt(transB ? k : n),
    beta,
    c as Float32Array<ArrayBuffer>,
    BigInt(n),
  );
  check(status, "sgemm");
}
