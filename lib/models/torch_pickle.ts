/**
 * Reading PyTorch's `torch.save` checkpoints (`pytorch_model.bin`, the zip format of PyTorch
 * ≥ 1.6) without running any pickled code. The zip holds `<name>/data.pkl`, a pickle of the
 * state dict whose tensors are `torch._utils._rebuild_tensor_v2(...)` calls over persistent ids
 * `('storage', torch.FloatStorage, key, location, numel)`, and the raw little-endian storages
 * `<name>/data/<key>`.
 *
 * Written by hand because no JavaScript library unpickles with an allow-list: this is a small
 * pickle machine that knows only the opcodes a state dict uses and only the globals
 * `collections.OrderedDict`, `torch._utils._rebuild_tensor_v2` and the `torch.*Storage` types.
 * Anything else (another global such as `os.system`, an opcode that builds arbitrary objects)
 * is refused with one line naming it; nothing is ever executed. The zip container is read with
 * `fflate`.
 * @module
 */
import { unzipSync } from "fflate";
import { UserError } from "../core/errors.ts";
import type { DType, RawTensor } from "./safetensors.ts";
import type { TensorStore } from "./tensor_store.ts";

/** Element type of each storage class a state dict may reference. */
const STORAGES: Record<string, { bytes: number; kind: string }> = {
  FloatStorage: { bytes: 4, kind: "f32" },
  DoubleStorage: { bytes: 8, kind: "f64" },
  HalfStorage: { bytes: 2, kind: "f16" },
  BFloat16Storage: { bytes: 2, kind: "bf16" },
  LongStorage: { bytes: 8, kind: "i64" },
  IntStorage: { bytes: 4, kind: "i32" },
  ShortStorage: { bytes: 2, kind: "i16" },
  CharStorage: { bytes: 1, kind: "i8" },
  ByteStorage: { bytes: 1, kind: "u8" },
  BoolStorage: { bytes: 1, kind: "u8" },
};

const ALLOWED = "collections.OrderedDict, torch._utils._rebuild_tensor_v2 and torch.*Storage";

class Global {
  constructor(readonly module: string, readonly name: string) {}
}

interface StorageRef {
  type: string;
  key: string;
  numel: number;
}

/** A tensor as the pickle describes it: a strided view into a storage. */
interface TensorRef {
  storage: StorageRef;
  offset: number;
  shape: number[];
  stride: number[];
}

type Value = unknown;

function refuse(path: string, what: string): never {
  throw new UserError(
    `${path}: refusing to unpickle ${what} (a state dict needs only ${ALLOWED}); nothing was executed`,
  );
}

/** Run the restricted pickle machine over `data`; returns the unpickled state dict. */
export function unpickleStateDict(data: Uint8Array, path: string): Map<string, TensorRef> {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const dec = new TextDecoder();
  const stack: Value[] = [];
  const marks: number[] = [];
  const memo = new Map<number, Value>();
  const storages = new Map<string, StorageRef>();
  let pos = 0;
  const need = (n: number) => {
    if (pos + n > data.length) throw new UserError(`${path}: pickle ends early at byte ${pos}`);
  };
  const u8 = () => (need(1), data[pos++]);
  const u16 = () => (need(2), pos += 2, view.getUint16(pos - 2, true));
  const u32 = () => (need(4), pos += 4, view.getUint32(pos - 4, true));
  const i32 = () => (need(4), pos += 4, view.getInt32(pos - 4, true));
  const bytes = (n: number) => (need(n), pos += n, data.subarray(pos - n, pos));
  const line = () => {
    const end = data.indexOf(0x0a, pos);
    if (end < 0) throw new UserError(`${path}: pickle ends early at byte ${pos}`);
    const s = dec.decode(data.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const pop = () => {
    if (!stack.length) throw new UserError(`${path}: malformed pickle (stack underflow at ${pos})`);
    return stack.pop();
  };
  const popMark = (): Value[] => {
    const m = marks.pop();
    if (m === undefined) throw new UserError(`${path}: malformed pickle (no MARK at ${pos})`);
    return stack.splice(m);
  };
  const global = (module: string, name: string): Global => {
    const ok = (module === "collections" && name === "OrderedDict") ||
      (module === "torch._utils" && name === "_rebuild_tensor_v2") ||
      (module === "torch" && name in STORAGES);
    if (!ok) refuse(path, `the global ${module}.${name}`);
    return new Global(module, name);
  };
  const setItems = (dict: Value, items: Value[]) => {
    if (!(dict instanceof Map)) refuse(path, "items set on something that is not a dict");
    for (let i = 0; i + 1 < items.length; i += 2) {
      (dict as Map<Value, Value>).set(items[i], items[i + 1]);
    }
  };
  const int = (v: Value, what: string): number => {
    if (typeof v === "number" && Number.isSafeInteger(v)) return v;
    if (typeof v === "bigint" && v <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(v);
    throw new UserError(`${path}: ${what} is not an integer`);
  };
  const ints = (v: Value, what: string): number[] => {
    if (!Array.isArray(v)) throw new UserError(`${path}: ${what} is not a tuple`);
    return v.map((x) => int(x, what));
  };
  const reduce = (fn: Value, args: Value): Value => {
    if (!(fn instanceof Global) || !Array.isArray(args)) refuse(path, "a call of a non-global");
    const f = fn as Global;
    if (f.name === "OrderedDict") {
      const m = new Map<Value, Value>();
      if (args.length && Array.isArray(args[0])) {
        for (const kv of args[0] as Value[][]) m.set(kv[0], kv[1]);
      }
      return m;
    }
    if (f.name === "_rebuild_tensor_v2") {
      const [storage, offset, size, stride] = args as Value[];
      if (!storage || typeof storage !== "object" || !("key" in (storage as object))) {
        throw new UserError(`${path}: _rebuild_tensor_v2 without a storage`);
      }
      return {
        storage: storage as StorageRef,
        offset: int(offset, "storage offset"),
        shape: ints(size, "tensor size"),
        stride: ints(stride, "tensor stride"),
      } satisfies TensorRef;
    }
    return refuse(path, `a call of ${f.module}.${f.name}`);
  };

  for (;;) {
    const at = pos;
    const op = u8();
    switch (op) {
      case 0x80: // PROTO
        u8();
        break;
      case 0x95: // FRAME
        bytes(8);
        break;
      case 0x2e: { // STOP
        const result = pop();
        if (!(result instanceof Map)) {
          throw new UserError(`${path}: the pickle holds no state dict (not a dict of tensors)`);
        }
        const out = new Map<string, TensorRef>();
        for (const [k, v] of result) {
          if (typeof k !== "string" || !v || typeof v !== "object" || !("storage" in v)) {
            throw new UserError(
              `${path}: entry ${
                JSON.stringify(String(k))
              } is not a tensor (expected a flat state dict)`,
            );
          }
          out.set(k, v as TensorRef);
        }
        return out;
      }
      case 0x28: // MARK
        marks.push(stack.length);
        break;
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push([]);
        break;
      case 0x64: // DICT
        {
          const items = popMark();
          const m = new Map();
          setItems(m, items);
          stack.push(m);
        }
        break;
      case 0x6c: // LIST
      case 0x74: // TUPLE
        stack.push(popMark());
        break;
      case 0x85: // TUPLE1
        stack.push([pop()]);
        break;
      case 0x86: { // TUPLE2
        const b = pop(), a = pop();
        stack.push([a, b]);
        break;
      }
      case 0x87: { // TUPLE3
        const c = pop(), b = pop(), a = pop();
        stack.push([a, b, c]);
        break;
      }
      case 0x61: { // APPEND
        const v = pop();
        const list = stack[stack.length - 1];
        if (!Array.isArray(list)) refuse(path, "APPEND to something that is not a list");
        (list as Value[]).push(v);
        break;
      }
      case 0x65: { // APPENDS
        const items = popMark();
        const list = stack[stack.length - 1];
        if (!Array.isArray(list)) refuse(path, "APPENDS to something that is not a list");
        (list as Value[]).push(...items);
        break;
      }
      case 0x73: { // SETITEM
        const v = pop(), k = pop();
        setItems(stack[stack.length - 1], [k, v]);
        break;
      }
      case 0x75: { // SETITEMS
        const items = popMark();
        setItems(stack[stack.length - 1], items);
        break;
      }
      case 0x71: // BINPUT
        memo.set(u8(), stack[stack.length - 1]);
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), stack[stack.length - 1]);
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, stack[stack.length - 1]);
        break;
      case 0x68: // BINGET
      case 0x6a: { // LONG_BINGET
        const i = op === 0x68 ? u8() : u32();
        if (!memo.has(i)) throw new UserError(`${path}: malformed pickle (memo ${i} unset)`);
        stack.push(memo.get(i));
        break;
      }
      case 0x4a: // BININT
        stack.push(i32());
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x8a: { // LONG1
        const b = bytes(u8());
        let v = 0n;
        for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
        if (b.length && b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
        stack.push(
          v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)
            ? Number(v)
            : v,
        );
        break;
      }
      case 0x47: // BINFLOAT
        need(8);
        stack.push(view.getFloat64(pos, false));
        pos += 8;
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x58: // BINUNICODE
        stack.push(dec.decode(bytes(u32())));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(dec.decode(bytes(u8())));
        break;
      case 0x54: // BINSTRING
        stack.push(new TextDecoder("latin1").decode(bytes(i32())));
        break;
      case 0x55: // SHORT_BINSTRING
        stack.push(new TextDecoder("latin1").decode(bytes(u8())));
        break;
      case 0x63: // GLOBAL
        stack.push(global(line(), line()));
        break;
      case 0x93: { // STACK_GLOBAL
        const name = pop(), module = pop();
        if (typeof name !== "string" || typeof module !== "string") {
          refuse(path, "a global with a computed name");
        }
        stack.push(global(module as string, name as string));
        break;
      }
      case 0x52: { // REDUCE
        const args = pop(), fn = pop();
        stack.push(reduce(fn, args));
        break;
      }
      case 0x62: { // BUILD: only the `_metadata` attribute torch sets on a state dict
        pop();
        if (!(stack[stack.length - 1] instanceof Map)) refuse(path, "BUILD on a non-dict");
        break;
      }
      case 0x51: { // BINPERSID
        const pid = pop();
        if (
          !Array.isArray(pid) || pid[0] !== "storage" || !(pid[1] instanceof Global) ||
          !(pid[1].name in STORAGES) || typeof pid[2] !== "string"
        ) refuse(path, "a persistent id that is not a torch storage");
        const p = pid as [string, Global, string, string, Value];
        let s = storages.get(p[2]);
        if (!s) {
          s = { type: p[1].name, key: p[2], numel: int(p[4], "storage size") };
          storages.set(p[2], s);
        }
        stack.push(s);
        break;
      }
      case 0x30: // POP
        pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(stack[stack.length - 1]);
        break;
      default:
        refuse(
          path,
          `pickle opcode 0x${op.toString(16).padStart(2, "0")} ` +
            `(${JSON.stringify(String.fromCharCode(op))}) at byte ${at}`,
        );
    }
  }
}

function decodeElements(raw: Uint8Array, kind: string, n: number): RawTensor["data"] {
  const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  switch (kind) {
    case "f32":
      return new Float32Array(raw.slice().buffer, 0, n);
    case "f64":
      return Float32Array.from({ length: n }, (_, i) => v.getFloat64(i * 8, true));
    case "f16": {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = f16(v.getUint16(i * 2, true));
      return out;
    }
    case "bf16": {
      const out = new Float32Array(n);
      const u = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) u[i] = v.getUint16(i * 2, true) << 16;
      return out;
    }
    case "i64":
      return new BigInt64Array(raw.slice().buffer, 0, n);
    case "i32":
      return new Int32Array(raw.slice().buffer, 0, n);
    case "i16":
      return Int32Array.from({ length: n }, (_, i) => v.getInt16(i * 2, true));
    case "i8":
      return Int32Array.from({ length: n }, (_, i) => v.getInt8(i));
    default:
      return Int32Array.from(raw.subarray(0, n));
  }
}

function f16(h: number): number {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

function dtypeOf(kind: string): DType {
  return kind === "i64" ? "I64" : kind.startsWith("i") || kind === "u8" ? "I32" : "F32";
}

/** Read a `torch.save` zip checkpoint held in memory as a {@linkcode TensorStore}. */
export function parseTorchCheckpoint(bytes: Uint8Array, path: string): TensorStore {
  if (!(bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04)) {
    throw new UserError(
      `${path}: not a zip-format torch.save file (the pre-1.6 format is not supported; ` +
        `re-save it with a current PyTorch, or convert it to safetensors)`,
    );
  }
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(bytes, {
      filter: (f) => /(^|\/)(data\.pkl|byteorder)$/.test(f.name),
    });
  } catch (e) {
    throw new UserError(`${path}: unreadable zip (${(e as Error).message})`);
  }
  const pkl = Object.keys(entries).find((n) => n.endsWith("data.pkl"));
  if (!pkl) throw new UserError(`${path}: no data.pkl in the archive (not a torch.save file)`);
  const prefix = pkl.slice(0, -"data.pkl".length);
  const order = entries[`${prefix}byteorder`];
  if (order && new TextDecoder().decode(order).trim() !== "little") {
    throw new UserError(`${path}: big-endian storages are not supported`);
  }
  const tensors = unpickleStateDict(entries[pkl], path);
  const storageBytes = new Map<string, Uint8Array>();
  const storage = (s: StorageRef): Uint8Array => {
    let b = storageBytes.get(s.key);
    if (!b) {
      const name = `${prefix}data/${s.key}`;
      b = unzipSync(bytes, { filter: (f) => f.name === name })[name];
      const want = s.numel * STORAGES[s.type].bytes;
      if (!b || b.length < want) {
        throw new UserError(`${path}: storage ${name} is missing or shorter than ${want} bytes`);
      }
      storageBytes.set(s.key, b);
    }
    return b;
  };
  return {
    path,
    names: () => [...tensors.keys()],
    has: (name) => tensors.has(name),
    get(name: string, shape?: number[]): RawTensor {
      const t = tensors.get(name);
      if (!t) throw new UserError(`${path}: missing tensor "${name}"`);
      if (shape && (shape.length !== t.shape.length || shape.some((d, i) => d !== t.shape[i]))) {
        throw new UserError(
          `${path}: tensor "${name}" has shape [${t.shape}], expected [${shape}]`,
        );
      }
      const { bytes: size, kind } = STORAGES[t.storage.type];
      const n = t.shape.reduce((a, b) => a * b, 1);
      const src = storage(t.storage);
      const rank = t.shape.length;
      let contiguous = true;
      for (let d = rank - 1, step = 1; d >= 0; step *= t.shape[d], d--) {
        if (t.shape[d] !== 1 && t.stride[d] !== step) contiguous = false;
      }
      if (contiguous) {
        const begin = t.offset * size, end = begin + n * size;
        if (end > src.length) {
          throw new UserError(`${path}: tensor "${name}" reaches past the end of its storage`);
        }
        return {
          dtype: dtypeOf(kind),
          shape: t.shape,
          data: decodeElements(src.subarray(begin, end), kind, n),
        };
      }
      // A strided view (e.g. a transposed or shared tensor): gather it into row-major order.
      const out = new Uint8Array(n * size);
      const idx = new Array(rank).fill(0);
      let maxEl = t.offset;
      for (let d = 0; d < rank; d++) maxEl += (t.shape[d] - 1) * t.stride[d];
      if (n > 0 && (maxEl + 1) * size > src.length) {
        throw new UserError(`${path}: tensor "${name}" reaches past the end of its storage`);
      }
      for (let k = 0; k < n; k++) {
        let el = t.offset;
        for (let d = 0; d < rank; d++) el += idx[d] * t.stride[d];
        out.set(src.subarray(el * size, (el + 1) * size), k * size);
        for (let d = rank - 1; d >= 0; d--) {
          if (++idx[d] < t.shape[d]) break;
          idx[d] = 0;
        }
      }
      return { dtype: dtypeOf(kind), shape: t.shape, data: decodeElements(out, kind, n) };
    },
  };
}

/** Read a `torch.save` zip checkpoint (`pytorch_model.bin`) from disk. */
export async function readTorchCheckpoint(path: string): Promise<TensorStore> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw new UserError(`${path}: cannot read (${(e as Error).message})`);
  }
  return parseTorchCheckpoint(bytes, path);
}
