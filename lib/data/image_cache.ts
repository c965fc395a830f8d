/**
 * On-disk cache of decoded, resized uint8 images, so later epochs and later runs never decode
 * JPEGs again. One file per (split source checksum, preprocessing) key. Files are written to a
 * temporary name and renamed, so a crash mid-write never leaves a half file under the real name;
 * a file that is still wrong (truncated copy, foreign file) fails the header/length check and is
 * rebuilt.
 * @module
 */
import { createHash } from "node:crypto";
import { defaultCacheDir } from "../core/project.ts";

const MAGIC = "KDIMG01\n";
const TRAILER = "KDIMGEND";
const enc = new TextEncoder();
const dec = new TextDecoder();

/** The cache folder: the argument, else env `KD_CACHE_DIR`, else `<repo>/data/cache`. */
export function cacheDir(override?: string): string {
  return override ?? defaultCacheDir();
}

/** Short stable hash of a JSON-able description of everything the cached bytes depend on. */
export function cacheKey(parts: Record<string, unknown>): string {
  const json = JSON.stringify(parts, Object.keys(parts).sort());
  return createHash("sha256").update(json).digest("hex").slice(0, 20);
}

/** A row that was skipped while building the cache, and why. */
export interface SkippedRow {
  row: number;
  reason: string;
}

/** Cached images: `n` square RGB images of side `size`, taken from source rows `rows`. */
export interface CachedImages {
  key: string;
  size: number;
  /** Source row index of each cached image (rows that failed to decode are absent). */
  rows: Int32Array;
  skipped: SkippedRow[];
  pixels: Uint8Array;
}

/** Read a cache file; undefined when missing, and when malformed (with a note on stderr). */
export async function readImageCache(
  path: string,
  expect: { key: string; size: number },
  opts: { quiet?: boolean } = {},
): Promise<CachedImages | undefined> {
  let buf: Uint8Array;
  try {
    buf = await Deno.readFile(path);
  } catch (e) {
    // No cache there (a folder of the path may even be a file): decode, and the write says why.
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) {
      return undefined;
    }
    throw e;
  }
  const bad = (why: string) => {
    if (!opts.quiet) console.error(`cache ${path}: ${why}; rebuilding`);
    return undefined;
  };
  if (buf.length < 12 || dec.decode(buf.subarray(0, 8)) !== MAGIC) return bad("not a cache file");
  const jsonLen = new DataView(buf.buffer, buf.byteOffset).getUint32(8, true);
  if (12 + jsonLen > buf.length) return bad("truncated header");
  let header: { key: string; size: number; n: number; rows: number[]; skipped: SkippedRow[] };
  try {
    header = JSON.parse(dec.decode(buf.subarray(12, 12 + jsonLen)));
  } catch {
    return bad("unreadable header");
  }
  if (header.key !== expect.key || header.size !== expect.size) return bad("key mismatch");
  const bytes = header.n * header.size * header.size * 3;
  const end = 12 + jsonLen + bytes;
  if (
    !Array.isArray(header.rows) || header.rows.length !== header.n ||
    buf.length !== end + TRAILER.length || dec.decode(buf.subarray(end)) !== TRAILER
  ) {
    return bad(`length ${buf.length} does not match its header (truncated?)`);
  }
  return {
    key: header.key,
    size: header.size,
    rows: Int32Array.from(header.rows),
    skipped: header.skipped ?? [],
    pixels: buf.subarray(12 + jsonLen, end),
  };
}

/** Write a cache file atomically (temporary file in the same folder, then rename). */
export async function writeImageCache(path: string, c: CachedImages): Promise<void> {
  const header = enc.encode(JSON.stringify({
    key: c.key,
    size: c.size,
    n: c.rows.length,
    rows: [...c.rows],
    skipped: c.skipped,
  }));
  const len = new Uint8Array(4);
  new DataView(len.buffer).setUint32(0, header.length, true);
  const dir = path.replace(/\/[^/]*$/, "");
  await Deno.mkdir(dir, { recursive: true });
  const tmp = `${path}.${Deno.pid}-${crypto.randomUUID().slice(0, 8)}.tmp`;
  try {
    using f = await Deno.open(tmp, { write: true, createNew: true });
    for (const part of [enc.encode(MAGIC), len, header, c.pixels, enc.encode(TRAILER)]) {
      for (let w = 0; w < part.length;) w += await f.write(part.subarray(w));
    }
    await f.sync();
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
  await Deno.rename(tmp, path);
}
