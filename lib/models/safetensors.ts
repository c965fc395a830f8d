/**
 * Reading and writing the safetensors format: an 8-byte little-endian header length N, N bytes of
 * JSON (`name -> {dtype, shape, data_offsets}` plus optional `__metadata__`), then raw
 * little-endian tensor bytes. Headers are validated fully before any tensor is decoded, and every
 * error names the file and, where there is one, the tensor.
 * @module
 */
import * as tf from "../tf.ts";
import { UserError } from "../core/errors.ts";
import { isJsonObject } from "../core/fs.ts";

/** Element types this module decodes. */
export type DType = "F32" | "F16" | "BF16" | "I64" | "I32";

const BYTES: Record<DType, number> = { F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4 };

/** The element types a float parameter may be stored in (decoded to float32). */
export const FLOAT_DTYPES: readonly DType[] = ["F32", "F16", "BF16"];

/** The element types an integer state tensor (a step counter) may be stored in. */
export const INT_DTYPES: readonly DType[] = ["I64", "I32"];

/** What a variable of tf dtype `dtype` may be read from: floats from floats, ints from ints. */
export function dtypesFor(dtype: string): readonly DType[] {
  return dtype === "float32" ? FLOAT_DTYPES : INT_DTYPES;
}

/**
 * Throw a UserError naming `what` when a stored tensor's element type is not one of `allowed`:
 * the bytes of an I32 tensor read as a weight are valid numbers, just wrong ones (logits off by
 * 1e11 and no error), so the type is checked, not only the shape.
 */
export function assertDtype(info: { dtype: DType }, allowed: readonly DType[], what: string): void {
  if (!allowed.includes(info.dtype)) {
    throw new UserError(
      `${what} has dtype ${info.dtype}; the model expects ${allowed.join(", ")} there`,
    );
  }
}

/** Header entry for one tensor; `offsets` are relative to the start of the data section. */
export interface TensorInfo {
  dtype: DType;
  shape: number[];
  offsets: [number, number];
}

/** A parsed safetensors file: validated header plus the data section. */
export interface SafetensorsFile {
  /** Where the bytes came from, for error messages. */
  path: string;
  metadata: Record<string, string>;
  tensors: Map<string, TensorInfo>;
  data: Uint8Array;
}

/** Decoded tensor contents: floats as float32, integers as int32 or int64. */
export interface RawTensor {
  dtype: DType;
  shape: number[];
  data: Float32Array | Int32Array | BigInt64Array;
}

// The reference implementation refuses headers above 100 MB; so do we, before allocating.
const MAX_HEADER = 100_000_000;

function bad(path: string, msg: string): UserError {
  return new UserError(`${path}: invalid safetensors file: ${msg}`);
}

/** Parse and validate a safetensors file held in memory. */
export function parseSafetensors(bytes: Uint8Array, path = "<memory>"): SafetensorsFile {
  if (bytes.length < 8) {
    throw bad(path, `only ${bytes.length} bytes, shorter than the header length`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(0, true));
  if (n > MAX_HEADER) throw bad(path, `header length ${n} exceeds the ${MAX_HEADER}-byte limit`);
  if (8 + n > bytes.length) {
    throw bad(path, `header length ${n} runs past the end of the ${bytes.length}-byte file`);
  }
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + n)));
  } catch (e) {
    throw bad(path, `header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (!isJsonObject(header)) {
    throw bad(path, "header is not a JSON object");
  }
  const data = bytes.subarray(8 + n);
  const tensors = new Map<string, TensorInfo>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (!isJsonObject(entry)) {
        throw bad(path, "__metadata__ is not an object");
      }
      for (const [k, v] of Object.entries(entry)) {
        if (typeof v !== "string") throw bad(path, `__metadata__.${k} is not a string`);
      }
      metadata = entry as Record<string, string>;
      continue;
    }
    tensors.set(name, validateEntry(path, name, entry, data.length));
  }
  const sorted = [...tensors.entries()].sort((a, b) => a[1].offsets[0] - b[1].offsets[0]);
  for (let i = 1; i < sorted.length; i++) {
    const [prevName, prev] = sorted[i - 1];
    const [name, info] = sorted[i];
    if (info.offsets[0] < prev.offsets[1]) {
      throw bad(
        path,
        `tensor "${name}" bytes [${info.offsets}] overlap tensor "${prevName}" [${prev.offsets}]`,
      );
    }
  }
  return { path, metadata, tensors, data };
}

function validateEntry(path: string, name: string, entry: unknown, dataLen: number): TensorInfo {
  const where = `tensor "${name}"`;
  if (typeof entry !== "object" || entry === null) {
    throw bad(path, `${where}: entry is not an object`);
  }
  const { dtype, shape, data_offsets } = entry as Record<string, unknown>;
  if (typeof dtype !== "string" || !(dtype in BYTES)) {
    throw bad(
      path,
      `${where}: unsupported dtype ${JSON.stringify(dtype)} (expected F32, F16, BF16, I64 or I32)`,
    );
  }
  if (
    !Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)
  ) {
    throw bad(
      path,
      `${where}: shape ${JSON.stringify(shape)} is not a list of non-negative integers`,
    );
  }
  if (
    !Array.isArray(data_offsets) || data_offsets.length !== 2 ||
    !data_offsets.every((d) => Number.isSafeInteger(d) && d >= 0) ||
    data_offsets[0] > data_offsets[1]
  ) {
    throw bad(path, `${where}: data_offsets ${JSON.stringify(data_offsets)} are not [begin, end]`);
  }
  const [begin, end] = data_offsets as [number, number];
  if (end > dataLen) {
    throw bad(
      path,
      `${where}: data_offsets [${begin}, ${end}] exceed the ${dataLen}-byte data section`,
    );
  }
  const count = (shape as number[]).reduce((a, b) => a * b, 1);
  const want = count * BYTES[dtype as DType];
  if (end - begin !== want) {
    throw bad(
      path,
      `${where}: ${end - begin} bytes at [${begin}, ${end}] but ${dtype} [${shape}] needs ${want}`,
    );
  }
  return { dtype: dtype as DType, shape: shape as number[], offsets: [begin, end] };
}

/** Read and validate a safetensors file from disk. */
export async function readSafetensors(path: string): Promise<SafetensorsFile> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw new UserError(`${path}: cannot read safetensors file (${(e as Error).message})`);
  }
  return parseSafetensors(bytes, path);
}

function f16ToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** Decode one tensor; when `shape` is given it must match exactly (the error names both shapes). */
export function getRaw(file: SafetensorsFile, name: string, shape?: number[]): RawTensor {
  const info = file.tensors.get(name);
  if (!info) throw new UserError(`${file.path}: missing tensor "${name}"`);
  if (shape && (shape.length !== info.shape.length || shape.some((d, i) => d !== info.shape[i]))) {
    throw new UserError(
      `${file.path}: tensor "${name}" has shape [${info.shape}], expected [${shape}]`,
    );
  }
  // Copy so the typed array is aligned whatever the header length was (host assumed little-endian).
  const bytes = file.data.slice(info.offsets[0], info.offsets[1]);
  const n = bytes.length / BYTES[info.dtype];
  let data: RawTensor["data"];
  switch (info.dtype) {
    case "F32":
      data = new Float32Array(bytes.buffer);
      break;
    case "I32":
      data = new Int32Array(bytes.buffer);
      break;
    case "I64":
      data = new BigInt64Array(bytes.buffer);
      break;
    case "F16": {
      const u = new Uint16Array(bytes.buffer);
      data = new Float32Array(n);
      for (let i = 0; i < n; i++) data[i] = f16ToF32(u[i]);
      break;
    }
    case "BF16": {
      const u = new Uint16Array(bytes.buffer);
      const out = new Uint32Array(n);
      for (let i = 0; i < n; i++) out[i] = u[i] << 16;
      data = new Float32Array(out.buffer);
      break;
    }
  }
  return { dtype: info.dtype, shape: info.shape, data };
}

/** Decode one tensor into a tf tensor: floats → float32, integers → int32 (range-checked). */
export function getTensor(file: SafetensorsFile, name: string, shape?: number[]): tf.Tensor {
  const raw = getRaw(file, name, shape);
  if (raw.data instanceof BigInt64Array) {
    const out = new Int32Array(raw.data.length);
    for (let i = 0; i < out.length; i++) {
      const v = raw.data[i];
      if (v > 2147483647n || v < -2147483648n) {
        throw new UserError(`${file.path}: tensor "${name}" value ${v} does not fit in int32`);
      }
      out[i] = Number(v);
    }
    return tf.tensor(out, raw.shape, "int32");
  }
  return tf.tensor(raw.data, raw.shape, raw.data instanceof Int32Array ? "int32" : "float32");
}

/**
 * A tensor to write: a tf tensor (float32 → F32, int32 → I32) or a typed array with its shape
 * (BigInt64Array → I64, e.g. PyTorch's `num_batches_tracked`).
 */
export type WritableTensor = tf.Tensor | {
  shape: number[];
  data: Float32Array | Int32Array | BigInt64Array;
};

const WRITE_DTYPE = (d: Float32Array | Int32Array | BigInt64Array): DType =>
  d instanceof Float32Array ? "F32" : d instanceof Int32Array ? "I32" : "I64";

/** Serialise tensors (F32/I32/I64) and string metadata to safetensors bytes (see the ordering note). */
export function encodeSafetensors(
  tensors: Map<string, WritableTensor> | Record<string, WritableTensor>,
  metadata: Record<string, string> = {},
): Uint8Array {
  // Wider element types first, then by name (as the reference writer does), so every tensor
  // starts at a multiple of its element size.
  const width = (t: WritableTensor) => t instanceof tf.Tensor ? 4 : t.data.BYTES_PER_ELEMENT;
  const entries = (tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors))
    .sort((a, b) => width(b[1]) - width(a[1]) || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of entries) {
    let data: Float32Array | Int32Array | BigInt64Array;
    if (t instanceof tf.Tensor) {
      if (t.dtype !== "float32" && t.dtype !== "int32") {
        throw new UserError(
          `cannot write tensor "${name}" of dtype ${t.dtype} (float32/int32 only)`,
        );
      }
      data = t.dataSync() as Float32Array | Int32Array;
    } else data = t.data;
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (data.length !== count) {
      throw new UserError(`tensor "${name}": ${data.length} values for shape [${t.shape}]`);
    }
    const b = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    header[name] = {
      dtype: WRITE_DTYPE(data),
      shape: t.shape,
      data_offsets: [offset, offset + b.length],
    };
    chunks.push(b);
    offset += b.length;
  }
  let json = JSON.stringify(header);
  // Pad with spaces to 8-byte alignment as the reference writer does, so readers can map in place.
  json += " ".repeat((8 - ((8 + new TextEncoder().encode(json).length) % 8)) % 8);
  const head = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + head.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  let at = 8 + head.length;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** Write tensors and metadata to `path` as safetensors. */
export async function writeSafetensors(
  path: string,
  tensors: Map<string, WritableTensor> | Record<string, WritableTensor>,
  metadata: Record<string, string> = {},
): Promise<void> {
  await Deno.writeFile(path, encodeSafetensors(tensors, metadata));
}

/** Throw a UserError naming `what` when float data holds NaN or ±Infinity (a corrupt or diverged checkpoint). */
export function assertFinite(data: ArrayLike<number>, what: string): void {
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) {
      throw new UserError(`${what}: element ${i} is ${data[i]}; the checkpoint is not usable`);
    }
  }
}

/**
 * Throw a UserError listing the tensors of `file` that the model does not use (a config that
 * disagrees with its checkpoint, e.g. fewer layers), except those `ignore` accepts.
 */
export function assertAllUsed(
  file: SafetensorsFile | { path: string; names(): string[] },
  used: Iterable<string>,
  ignore: (name: string) => boolean = () => false,
): void {
  const known = new Set(used);
  const all = "tensors" in file ? [...file.tensors.keys()] : file.names();
  const extra = all.filter((k) => !known.has(k) && !ignore(k));
  if (extra.length) {
    throw new UserError(
      `${file.path}: ${extra.length} tensor(s) that the model built from its config does not ` +
        `use (${extra.slice(0, 4).join(", ")}${extra.length > 4 ? ", ..." : ""}); ` +
        `config.json and the weights disagree`,
    );
  }
}
