/**
 * Deno FFI bindings to the oneDNN 2.x C API (`libdnnl.so.2`, Debian `libdnnl2`): engine and
 * stream, memory descriptors, primitive descriptors, primitives with cached memory objects and
 * automatic weight reorders, and `dnnl_sgemm`. Tensors stay in JS typed arrays: each execution
 * points oneDNN's memory objects at them, so nothing is copied.
 * @module
 */

/** oneDNN enum values (from `dnnl_types.h` of 2.6). */
export const D = {
  f32: 3,
  tag: { any: 1, a: 2, ab: 3, abc: 4, abcd: 5, nhwc: 20, hwio: 30, hwigo: 33 },
  prop: { fwdTraining: 64, fwdInference: 96, bwd: 128, bwdData: 160, bwdWeights: 192 },
  alg: {
    convDirect: 1,
    convAuto: 3,
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
  bn: { useScale: 8, useShift: 16 },
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
  query: { implInfoStr: 8, scratchpadMd: 136, execArgMd: 255 },
} as const;

/** Execution-argument id of the `src1` of post-op number `index` (binary post-ops). */
export function postOpSrc1(index: number): number {
  return (16384 * (index + 1)) | D.arg.src1;
}

/** A post-op for {@linkcode primitiveAttr}: binary with a second tensor, or eltwise. */
export type PostOp =
  | { kind: "binary"; alg: number; src1: Uint8Array<ArrayBuffer> }
  | { kind: "eltwise"; alg: number; alpha: number; beta: number }
  | { kind: "sum" };

/**
 * A primitive attribute carrying `postOps` (created once per cached primitive, never freed), and
 * with `userScratchpad` the scratchpad supplied by the caller (`D.arg.scratchpad`) instead of
 * allocated by oneDNN on every execution.
 */
export function primitiveAttr(postOps: PostOp[], userScratchpad = false): Deno.PointerValue {
  const { lib } = ctx();
  const a = ptrOut(), p = ptrOut();
  check(lib.dnnl_primitive_attr_create(a), "primitive_attr_create");
  check(lib.dnnl_post_ops_create(p), "post_ops_create");
  const ops = ptrOf(p);
  for (const op of postOps) {
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
  const attr = ptrOf(a);
  check(lib.dnnl_primitive_attr_set_post_ops(attr, ops), "primitive_attr_set_post_ops");
  lib.dnnl_post_ops_destroy(ops);
  if (userScratchpad) {
    check(lib.dnnl_primitive_attr_set_scratchpad_mode(attr, 1), "set_scratchpad_mode");
  }
  return attr;
}

/** Bytes reserved for a `dnnl_memory_desc_t` (696 in 2.6) and for an op descriptor (≤ 5976). */
const MD_BYTES = 1024;
const OP_BYTES = 8192;

const SYMBOLS = {
  dnnl_engine_create: { parameters: ["buffer", "i32", "usize"], result: "i32" },
  dnnl_stream_create: { parameters: ["buffer", "pointer", "u32"], result: "i32" },
  dnnl_stream_wait: { parameters: ["pointer"], result: "i32" },
  dnnl_memory_desc_init_by_tag: {
    parameters: ["buffer", "i32", "buffer", "i32", "i32"],
    result: "i32",
  },
  dnnl_memory_desc_init_by_strides: {
    parameters: ["buffer", "i32", "buffer", "i32", "buffer"],
    result: "i32",
  },
  dnnl_softmax_forward_desc_init: {
    parameters: ["buffer", "i32", "buffer", "i32"],
    result: "i32",
  },
  dnnl_memory_desc_equal: { parameters: ["pointer", "pointer"], result: "i32" },
  dnnl_memory_desc_get_size: { parameters: ["pointer"], result: "usize" },
  dnnl_convolution_forward_desc_init: {
    parameters: [
      "buffer",
      "i32",
      "i32",
      "buffer",
      "buffer",
      "pointer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
    ],
    result: "i32",
  },
  dnnl_dilated_convolution_forward_desc_init: {
    parameters: [
      "buffer",
      "i32",
      "i32",
      "buffer",
      "buffer",
      "pointer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
    ],
    result: "i32",
  },
  dnnl_convolution_backward_data_desc_init: {
    parameters: ["buffer", "i32", "buffer", "buffer", "buffer", "buffer", "buffer", "buffer"],
    result: "i32",
  },
  dnnl_convolution_backward_weights_desc_init: {
    parameters: [
      "buffer",
      "i32",
      "buffer",
      "buffer",
      "pointer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
    ],
    result: "i32",
  },
  dnnl_batch_normalization_forward_desc_init: {
    parameters: ["buffer", "i32", "buffer", "f32", "u32"],
    result: "i32",
  },
  dnnl_batch_normalization_backward_desc_init: {
    parameters: ["buffer", "i32", "buffer", "buffer", "f32", "u32"],
    result: "i32",
  },
  dnnl_eltwise_forward_desc_init: {
    parameters: ["buffer", "i32", "i32", "buffer", "f32", "f32"],
    result: "i32",
  },
  dnnl_eltwise_backward_desc_init: {
    parameters: ["buffer", "i32", "buffer", "buffer", "f32", "f32"],
    result: "i32",
  },
  dnnl_binary_desc_init: {
    parameters: ["buffer", "i32", "buffer", "buffer", "buffer"],
    result: "i32",
  },
  dnnl_primitive_desc_create: {
    parameters: ["buffer", "buffer", "pointer", "pointer", "pointer"],
    result: "i32",
  },
  dnnl_reorder_primitive_desc_create: {
    parameters: ["buffer", "pointer", "pointer", "pointer", "pointer", "pointer"],
    result: "i32",
  },
  dnnl_primitive_desc_query_md: { parameters: ["pointer", "i32", "i32"], result: "pointer" },
  dnnl_primitive_desc_query: {
    parameters: ["pointer", "i32", "i32", "buffer"],
    result: "i32",
  },
  dnnl_primitive_desc_destroy: { parameters: ["pointer"], result: "i32" },
  dnnl_primitive_create: { parameters: ["buffer", "pointer"], result: "i32" },
  dnnl_primitive_destroy: { parameters: ["pointer"], result: "i32" },
  dnnl_primitive_execute: {
    parameters: ["pointer", "pointer", "i32", "buffer"],
    result: "i32",
  },
  dnnl_memory_create: { parameters: ["buffer", "pointer", "pointer", "pointer"], result: "i32" },
  dnnl_memory_set_data_handle: { parameters: ["pointer", "pointer"], result: "i32" },
  dnnl_memory_destroy: { parameters: ["pointer"], result: "i32" },
  dnnl_primitive_attr_create: { parameters: ["buffer"], result: "i32" },
  dnnl_primitive_attr_set_post_ops: { parameters: ["pointer", "pointer"], result: "i32" },
  dnnl_post_ops_create: { parameters: ["buffer"], result: "i32" },
  dnnl_post_ops_destroy: { parameters: ["pointer"], result: "i32" },
  dnnl_post_ops_append_binary: { parameters: ["pointer", "i32", "buffer"], result: "i32" },
  dnnl_post_ops_append_sum: { parameters: ["pointer", "f32"], result: "i32" },
  dnnl_primitive_attr_destroy: { parameters: ["pointer"], result: "i32" },
  dnnl_primitive_attr_set_scratchpad_mode: { parameters: ["pointer", "i32"], result: "i32" },
  dnnl_pooling_v2_forward_desc_init: {
    parameters: [
      "buffer",
      "i32",
      "i32",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
    ],
    result: "i32",
  },
  dnnl_matmul_desc_init: {
    parameters: ["buffer", "buffer", "buffer", "pointer", "buffer"],
    result: "i32",
  },
  dnnl_layer_normalization_forward_desc_init: {
    parameters: ["buffer", "i32", "buffer", "pointer", "f32", "u32"],
    result: "i32",
  },
  dnnl_post_ops_append_eltwise: {
    parameters: ["pointer", "f32", "i32", "f32", "f32"],
    result: "i32",
  },
  dnnl_sgemm: {
    parameters: [
      "u8",
      "u8",
      "i64",
      "i64",
      "i64",
      "f32",
      "buffer",
      "i64",
      "buffer",
      "i64",
      "f32",
      "buffer",
      "i64",
    ],
    result: "i32",
  },
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
export function loadDnnl(opts: { install?: boolean } = {}): Lib {
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

/** The library, CPU engine and stream (created once). */
export function ctx(): { lib: Lib; engine: Deno.PointerValue; stream: Deno.PointerValue } {
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

/** A `dnnl_dims_t` (int64[12]). */
export function dims(values: readonly number[]): BigInt64Array {
  const out = new BigInt64Array(12);
  values.forEach((v, i) => out[i] = BigInt(v));
  return out;
}

/** A plain f32 memory descriptor with logical `d` (oneDNN order, e.g. NCHW) and layout `tag`. */
export function md(d: readonly number[], tag: number): Uint8Array<ArrayBuffer> {
  const buf = new Uint8Array(MD_BYTES);
  check(ctx().lib.dnnl_memory_desc_init_by_tag(buf, d.length, dims(d), D.f32, tag), "md_init");
  return buf;
}

/** An f32 memory descriptor with logical dims `d` and explicit element `strides`. */
export function mdStrides(
  d: readonly number[],
  strides: readonly number[],
): Uint8Array<ArrayBuffer> {
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

/** A cached reorder (layout copy, e.g. a transpose) between two descriptors of the same dims. */
export class Reorder {
  #prim: Deno.PointerValue;
  #src: Deno.PointerValue;
  #dst: Deno.PointerValue;
  #args: Uint8Array<ArrayBuffer>;
  #keep: Uint8Array[];

  constructor(src: Uint8Array<ArrayBuffer>, dst: Uint8Array<ArrayBuffer>) {
    const { lib, engine } = ctx();
    this.#keep = [src, dst];
    const cell = ptrOut();
    check(
      lib.dnnl_reorder_primitive_desc_create(
        cell,
        Deno.UnsafePointer.of(src),
        engine,
        Deno.UnsafePointer.of(dst),
        engine,
        null,
      ),
      "reorder_primitive_desc_create",
    );
    const pd = ptrOf(cell);
    this.#prim = createPrimitive(pd);
    lib.dnnl_primitive_desc_destroy(pd);
    this.#src = createMemory(Deno.UnsafePointer.of(src));
    this.#dst = createMemory(Deno.UnsafePointer.of(dst));
    this.#args = execArgs([[D.arg.src, this.#src], [D.arg.dst, this.#dst]]);
  }

  /** Copy `src` into `dst` with the layout change. */
  run(src: ArrayBufferView, dst: ArrayBufferView): void {
    const { lib, stream } = ctx();
    lib.dnnl_memory_set_data_handle(this.#src, ptrOfView(src));
    lib.dnnl_memory_set_data_handle(this.#dst, ptrOfView(dst));
    check(lib.dnnl_primitive_execute(this.#prim, stream, 2, this.#args), "reorder");
    check(lib.dnnl_stream_wait(stream), "stream_wait");
  }
}

/** A fresh buffer for an op descriptor (`dnnl_*_desc_t`). */
export function opDesc(): Uint8Array<ArrayBuffer> {
  return new Uint8Array(OP_BYTES);
}

/** Check a `dnnl_*_desc_init` status. */
export function checkInit(status: number, what: string): void {
  check(status, what);
}

const live = { primitives: 0, memories: 0, scratchBytes: 0 };

/** Counts of native objects this module holds (primitives, memory objects, internal bytes). */
export function nativeAllocations(): {
  primitives: number;
  memories: number;
  scratchBytes: number;
} {
  return { ...live };
}

function ptrOfView(a: ArrayBufferView): Deno.PointerValue {
  return Deno.UnsafePointer.of(a as Uint8Array<ArrayBuffer>);
}

/** One argument of a primitive: the user's layout, and a reorder when oneDNN wants another. */
interface Slot {
  arg: number;
  mem: Deno.PointerValue;
  /** Present when the primitive wants a different layout than the user's. */
  reorder?: {
    prim: Deno.PointerValue;
    user: Deno.PointerValue;
    internal: Float32Array;
    args: Uint8Array<ArrayBuffer>;
    toUser: boolean;
  };
}

function createPrimitive(pd: Deno.PointerValue): Deno.PointerValue {
  const { lib } = ctx();
  const p = ptrOut();
  check(lib.dnnl_primitive_create(p, pd), "primitive_create");
  live.primitives++;
  return ptrOf(p);
}

function createMemory(mdPtr: Deno.PointerValue): Deno.PointerValue {
  const { lib, engine } = ctx();
  const m = ptrOut();
  check(lib.dnnl_memory_create(m, mdPtr, engine, null), "memory_create");
  live.memories++;
  return ptrOf(m);
}

function execArgs(pairs: [number, Deno.PointerValue][]): Uint8Array<ArrayBuffer> {
  const buf = new Uint8Array(16 * pairs.length);
  const view = new DataView(buf.buffer);
  pairs.forEach(([arg, mem], i) => {
    view.setInt32(16 * i, arg, true);
    view.setBigUint64(16 * i + 8, BigInt(Deno.UnsafePointer.value(mem)), true);
  });
  return buf;
}

/**
 * A ready-to-run primitive. `userMds` gives, per argument id, the layout the caller's arrays
 * have; arguments whose layout the primitive chose differently (format `any`) get a cached
 * reorder and an internal buffer. `outputs` lists argument ids written by the primitive.
 */
export class Primitive {
  readonly impl: string;
  #prim: Deno.PointerValue;
  #slots: Slot[] = [];
  #args: Uint8Array<ArrayBuffer>;

  constructor(
    op: Uint8Array<ArrayBuffer>,
    userMds: Map<number, Uint8Array<ArrayBuffer>>,
    outputs: Set<number>,
    hint: Primitive | null = null,
    attr: Deno.PointerValue = null,
  ) {
    const { lib, engine } = ctx();
    const pdCell = ptrOut();
    check(
      lib.dnnl_primitive_desc_create(pdCell, op, attr, engine, hint ? hint.pd : null),
      "primitive_desc_create",
    );
    const pd = ptrOf(pdCell);
    this.pd = pd;
    const implCell = ptrOut();
    lib.dnnl_primitive_desc_query(pd, D.query.implInfoStr, 0, new Uint8Array(implCell.buffer));
    this.impl = implCell[0]
      ? Deno.UnsafePointerView.getCString(Deno.UnsafePointer.create(implCell[0])!)
      : "?";
    this.#prim = createPrimitive(pd);
    const pairs: [number, Deno.PointerValue][] = [];
    for (const [arg, user] of userMds) {
      const want = lib.dnnl_primitive_desc_query_md(pd, D.query.execArgMd, arg);
      const userPtr = Deno.UnsafePointer.of(user);
      if (!want || lib.dnnl_memory_desc_equal(want, userPtr) === 1) {
        const mem = createMemory(userPtr);
        this.#slots.push({ arg, mem });
        pairs.push([arg, mem]);
        continue;
      }
      const wantCopy = new Uint8Array(MD_BYTES);
      wantCopy.set(new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(want, 696)));
      const internalMem = createMemory(Deno.UnsafePointer.of(wantCopy));
      const userMem = createMemory(userPtr);
      const bytes = Number(lib.dnnl_memory_desc_get_size(Deno.UnsafePointer.of(wantCopy)));
      const internal = new Float32Array(Math.ceil(bytes / 4));
      live.scratchBytes += internal.byteLength;
      lib.dnnl_memory_set_data_handle(internalMem, ptrOfView(internal));
      const toUser = outputs.has(arg);
      const rpdCell = ptrOut();
      check(
        lib.dnnl_reorder_primitive_desc_create(
          rpdCell,
          toUser ? Deno.UnsafePointer.of(wantCopy) : userPtr,
          engine,
          toUser ? userPtr : Deno.UnsafePointer.of(wantCopy),
          engine,
          null,
        ),
        "reorder_primitive_desc_create",
      );
      const rpd = ptrOf(rpdCell);
      const rprim = createPrimitive(rpd);
      lib.dnnl_primitive_desc_destroy(rpd);
      const rargs = toUser
        ? execArgs([[D.arg.src, internalMem], [D.arg.dst, userMem]])
        : execArgs([[D.arg.src, userMem], [D.arg.dst, internalMem]]);
      this.#slots.push({
        arg,
        mem: internalMem,
        reorder: { prim: rprim, user: userMem, internal, args: rargs, toUser },
      });
      pairs.push([arg, internalMem]);
      this.#keep.push(wantCopy);
    }
    this.#args = execArgs(pairs);
  }

  /** The primitive descriptor (kept for backward primitives' hints). */
  readonly pd: Deno.PointerValue;
  #keep: Uint8Array[] = [];

  /** Run with `buffers[arg]` as the data of each argument (same order as `userMds`). */
  run(buffers: Map<number, ArrayBufferView>): void {
    const { lib, stream } = ctx();
    for (const s of this.#slots) {
      const data = buffers.get(s.arg);
      if (!data) throw new Error(`oneDNN primitive: missing argument ${s.arg}`);
      if (s.reorder) {
        lib.dnnl_memory_set_data_handle(s.reorder.user, ptrOfView(data));
        if (!s.reorder.toUser) {
          check(lib.dnnl_primitive_execute(s.reorder.prim, stream, 2, s.reorder.args), "reorder");
        }
      } else {
        lib.dnnl_memory_set_data_handle(s.mem, ptrOfView(data));
      }
    }
    check(
      lib.dnnl_primitive_execute(this.#prim, stream, this.#slots.length, this.#args),
      "execute",
    );
    for (const s of this.#slots) {
      if (s.reorder?.toUser) {
        check(lib.dnnl_primitive_execute(s.reorder.prim, stream, 2, s.reorder.args), "reorder");
      }
    }
    check(lib.dnnl_stream_wait(stream), "stream_wait");
  }
}

const cache = new Map<string, Primitive>();

/** The cached primitive for `key`, built by `make` on first use (keys encode shapes and params). */
export function cached(key: string, make: () => Primitive): Primitive {
  let p = cache.get(key);
  if (!p) {
    p = make();
    cache.set(key, p);
    if (Deno.env.get("KD_NATIVE_VERBOSE")) console.error(`oneDNN ${key}: ${p.impl}`);
  }
  return p;
}

/** Row-major `C = alpha·op(A)·op(B) + beta·C` via `dnnl_sgemm`. */
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
  const lda = transA ? m : k;
  const ldb = transB ? k : n;
  const status = ctx().lib.dnnl_sgemm(
    transA ? 84 : 78,
    transB ? 84 : 78,
    BigInt(m),
    BigInt(n),
    BigInt(k),
    1,
    a as Float32Array<ArrayBuffer>,
    BigInt(lda),
    b as Float32Array<ArrayBuffer>,
    BigInt(ldb),
    beta,
    c as Float32Array<ArrayBuffer>,
    BigInt(n),
  );
  check(status, "sgemm");
}

/** A primitive descriptor for `op` (with `attr`, and a forward `hint` for backward ops). */
export function primitiveDesc(
  op: Uint8Array<ArrayBuffer>,
  attr: Deno.PointerValue = null,
  hint: Deno.PointerValue = null,
): Deno.PointerValue {
  const { lib, engine } = ctx();
  const cell = ptrOut();
  check(lib.dnnl_primitive_desc_create(cell, op, attr, engine, hint), "primitive_desc_create");
  return ptrOf(cell);
}

/** A copy of the memory descriptor `pd` wants for execution argument `arg` (null: none). */
export function wantedMd(pd: Deno.PointerValue, arg: number): Uint8Array<ArrayBuffer> | null {
  const { lib } = ctx();
  const want = arg === D.arg.scratchpad
    ? lib.dnnl_primitive_desc_query_md(pd, D.query.scratchpadMd, 0)
    : lib.dnnl_primitive_desc_query_md(pd, D.query.execArgMd, arg);
  if (!want) return null;
  const out = new Uint8Array(MD_BYTES);
  out.set(new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(want, 696)));
  return out;
}

/** Bytes of data a memory descriptor describes (0 for an empty one). */
export function mdSize(m: Uint8Array<ArrayBuffer>): number {
  return Number(ctx().lib.dnnl_memory_desc_get_size(Deno.UnsafePointer.of(m)));
}

/** Whether two memory descriptors are identical. */
export function mdEqual(a: Uint8Array<ArrayBuffer>, b: Uint8Array<ArrayBuffer>): boolean {
  return ctx().lib.dnnl_memory_desc_equal(Deno.UnsafePointer.of(a), Deno.UnsafePointer.of(b)) ===
    1;
}

/** The implementation a primitive descriptor picked (e.g. `brgconv:avx512_core`). */
export function implName(pd: Deno.PointerValue): string {
  const cell = ptrOut();
  ctx().lib.dnnl_primitive_desc_query(pd, D.query.implInfoStr, 0, new Uint8Array(cell.buffer));
  return cell[0] ? Deno.UnsafePointerView.getCString(Deno.UnsafePointer.create(cell[0])!) : "?";
}

/**
 * A primitive whose arguments are memory objects created once and pointed at caller-owned
 * buffers with {@linkcode Executable.bind}: a compiled graph binds its buffers once and then
 * only executes. Owns its native objects until {@linkcode Executable.destroy}.
 */
export class Executable {
  readonly impl: string;
  /** Bytes of the user scratchpad this primitive takes (0: none bound). */
  readonly scratchBytes: number = 0;
  #prim: Deno.PointerValue;
  #mems = new Map<number, Deno.PointerValue>();
  #args: Uint8Array<ArrayBuffer> = new Uint8Array(0);
  #count = 0;
  #keep: unknown[] = [];

  /** Build from `pd` (destroyed here) with a memory object per `[arg, md]`. */
  constructor(pd: Deno.PointerValue, args: [number, Uint8Array<ArrayBuffer>][]) {
    this.impl = implName(pd);
    this.#prim = createPrimitive(pd);
    ctx().lib.dnnl_primitive_desc_destroy(pd);
    for (const [arg, m] of args) {
      this.#mems.set(arg, createMemory(Deno.UnsafePointer.of(m)));
      this.#keep.push(m);
      if (arg === D.arg.scratchpad) this.scratchBytes = Math.max(mdSize(m), 1);
    }
    this.#args = execArgs([...this.#mems]);
    this.#count = this.#mems.size;
  }

  /** Point argument `arg` at `data` (kept alive by this object until rebound). */
  bind(arg: number, data: ArrayBufferView): void {
    const mem = this.#mems.get(arg);
    if (!mem) throw new Error(`oneDNN executable: no argument ${arg}`);
    ctx().lib.dnnl_memory_set_data_handle(mem, ptrOfView(data));
  }

  /** Execute on the stream (CPU streams run in order; call {@linkcode streamWait} before reading). */
  run(): void {
    const { lib, stream } = ctx();
    check(lib.dnnl_primitive_execute(this.#prim, stream, this.#count, this.#args), "execute");
  }

  /** Free the primitive and its memory objects. */
  destroy(): void {
    const { lib } = ctx();
    if (!this.#prim) return;
    lib.dnnl_primitive_destroy(this.#prim);
    live.primitives--;
    for (const m of this.#mems.values()) {
      lib.dnnl_memory_destroy(m);
      live.memories--;
    }
    this.#mems.clear();
    this.#prim = null;
  }
}

/** Wait for the stream's queued executions. */
export function streamWait(): void {
  const { lib, stream } = ctx();
  check(lib.dnnl_stream_wait(stream), "stream_wait");
}

/** Copy `src` (layout `from`) into `dst` (layout `to`) once, e.g. weights into a blocked layout. */
export function reorderOnce(
  from: Uint8Array<ArrayBuffer>,
  to: Uint8Array<ArrayBuffer>,
  src: ArrayBufferView,
  dst: ArrayBufferView,
): void {
  const { lib, engine } = ctx();
  const cell = ptrOut();
  check(
    lib.dnnl_reorder_primitive_desc_create(
      cell,
      Deno.UnsafePointer.of(from),
      engine,
      Deno.UnsafePointer.of(to),
      engine,
      null,
    ),
    "reorder_primitive_desc_create",
  );
  const e = new Executable(ptrOf(cell), [[D.arg.src, from], [D.arg.dst, to]]);
  e.bind(D.arg.src, src);
  e.bind(D.arg.dst, dst);
  e.run();
  streamWait();
  e.destroy();
}
