/**
 * Resumable, verified HTTP downloads: a `.part` file continued with HTTP Range after a dropped
 * connection, retries with exponential backoff, sha256 verification (expected hash passed in, or
 * the one the Hugging Face hub advertises for LFS files), progress on stderr, and an atomic
 * rename so a final file only ever exists complete and verified.
 * @module
 */
import { createHash, type Hash } from "node:crypto";
import { sha256File } from "../core/hash.ts";
import { UserError } from "../core/errors.ts";
import { Progress } from "../progress.ts";
import { hubHeaders } from "./hub.ts";

/** Options for {@linkcode downloadFile}. */
export interface DownloadOptions {
  /**
   * Expected sha256 (hex). Default: the hub's `X-Linked-Etag`/`ETag` when it is a sha256 (one
   * HEAD request); `null`: none known, and no HEAD request either.
   */
  sha256?: string | null;
  /** Suffix of the partial file beside `dest` (default `.part`; the HF cache uses `.incomplete`). */
  partSuffix?: string;
  /** Extra check of the complete partial file before it is renamed (throw a DownloadError). */
  verify?: (part: string) => Promise<void>;
  /**
   * Size the server announced (the hub's `X-Linked-Size`): a body that runs past it is cut off
   * there and refused, instead of being written in full and then failing its checksum.
   */
  size?: number;
  /** Extra attempts after the first failure (default 5). */
  retries?: number;
  /** First backoff delay in ms, doubled per attempt (default 1000). */
  backoffMs?: number;
  /** Abort an attempt after this long without data (default 60000 ms). */
  idleTimeoutMs?: number;
  /** Extra request headers (an `Authorization` header is added from env `HF_TOKEN` for the hub). */
  headers?: Record<string, string>;
  /** Label for progress lines (default: the file name). */
  label?: string;
  quiet?: boolean;
}

/** What {@linkcode downloadFile} did. */
export interface DownloadResult {
  path: string;
  sha256: string;
  bytes: number;
  /** True when `dest` already existed (and matched the expected hash, if any). */
  skipped: boolean;
}

/** A download that failed for good; `kind` says whether the server was reachable at all. */
export class DownloadError extends UserError {
  constructor(message: string, readonly kind: "unreachable" | "http" | "checksum") {
    super(message);
  }
}

class RetryableError extends Error {}

const SHA256_RE = /^[0-9a-f]{64}$/;

/** An error's message with its cause, e.g. "fetch failed (connection refused)". */
export function errorText(e: unknown): string {
  const err = e as Error & { cause?: unknown };
  const cause = err.cause instanceof Error ? err.cause.message : err.cause ? String(err.cause) : "";
  return cause && !err.message.includes(cause)
    ? `${err.message} (${cause})`
    : String(err.message ?? e);
}

/** A sha256 hex digest from an ETag-style header value, if it is one. */
export function sha256FromEtag(value: string | null): string | undefined {
  const v = value?.replace(/^W\//, "").replaceAll('"', "").trim().toLowerCase();
  return v && SHA256_RE.test(v) ? v : undefined;
}

async function fileSize(path: string): Promise<number | undefined> {
  try {
    return (await Deno.stat(path)).size;
  } catch {
    return undefined;
  }
}

/**
 * Ask the server about `url` without downloading it: the sha256 and size the Hugging Face hub
 * sends on the (unfollowed) redirect of an LFS file, or plain ETag/Content-Length otherwise.
 */
export async function probe(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ sha256?: string; size?: number }> {
  const res = await fetch(url, {
    method: "HEAD",
    redirect: "manual",
    headers: hubHeaders(url, headers),
  });
  await res.body?.cancel();
  const h = res.headers;
  const sha256 = sha256FromEtag(h.get("x-linked-etag")) ?? sha256FromEtag(h.get("etag"));
  const sizeText = h.get("x-linked-size") ?? (res.status === 200 ? h.get("content-length") : null);
  const size = sizeText ? Number(sizeText) : undefined;
  return { sha256, size: Number.isFinite(size) ? size : undefined };
}

async function hashExisting(path: string, hash: Hash): Promise<number> {
  let n = 0;
  try {
    using f = await Deno.open(path);
    for await (const c of f.readable) {
      hash.update(c);
      n += c.length;
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return n;
}

/** One attempt: continue `part` from its current length; resolves when the body ended cleanly. */
async function attempt(
  url: string,
  part: string,
  hash: Hash,
  opts: DownloadOptions,
  progress: Progress,
  onResponse: () => void,
): Promise<{ size: number; total?: number }> {
  const offset = await hashExisting(part, hash);
  const ctrl = new AbortController();
  let timer = setTimeout(() => ctrl.abort(), opts.idleTimeoutMs ?? 60_000);
  const bump = () => {
    clearTimeout(timer);
    timer = setTimeout(() => ctrl.abort(), opts.idleTimeoutMs ?? 60_000);
  };
  try {
    const headers = hubHeaders(url, opts.headers);
    if (offset > 0) headers.Range = `bytes=${offset}-`;
    let res: Response;
    try {
      res = await fetch(url, { headers, signal: ctrl.signal });
    } catch (e) {
      throw new RetryableError(`request failed: ${errorText(e)}`);
    }
    onResponse();
    if (res.status === 416 && offset > 0) {
      // The part file is already complete (or longer than the file): let the caller verify it.
      await res.body?.cancel();
      return { size: offset, total: offset };
    }
    if (res.status >= 500 || res.status === 408 || res.status === 429) {
      await res.body?.cancel();
      throw new RetryableError(`HTTP ${res.status} ${res.statusText}`);
    }
    if (res.status !== 200 && res.status !== 206) {
      await res.body?.cancel();
      const hint = res.status === 401 || res.status === 403
        ? " (private or gated? set HF_TOKEN)"
        : res.status === 404
        ? " (not found)"
        : "";
      throw new DownloadError(`${url}: HTTP ${res.status} ${res.statusText}${hint}`, "http");
    }
    let total: number | undefined;
    if (res.status === 206) {
      const m = /bytes (\d+)-\d+\/(\d+|\*)/.exec(res.headers.get("content-range") ?? "");
      if (!m || Number(m[1]) !== offset) {
        // A range we did not ask for: restart from scratch rather than splice wrong bytes.
        await res.body?.cancel();
        await Deno.remove(part).catch(() => {});
        throw new RetryableError(
          `server answered an unexpected range (${res.headers.get("content-range")})`,
        );
      }
      if (m[2] !== "*") total = Number(m[2]);
    } else {
      if (offset > 0) {
        // The server ignored Range: drop the partial file and start over on the next attempt.
        await res.body?.cancel();
        await Deno.truncate(part, 0);
        throw new RetryableError("server ignored the Range request; restarting from zero");
      }
      const len = res.headers.get("content-length");
      if (len) total = Number(len);
    }
    if (total) progress.total = total;
    progress.update(offset);
    using f = await Deno.open(part, { create: true, append: true });
    let size = offset;
    try {
      for await (const chunk of res.body!) {
        bump();
        if (opts.size !== undefined && size + chunk.length > opts.size) {
          throw new DownloadError(
            `${url}: the server sent more than the ${opts.size} bytes it announced`,
            "checksum",
          );
        }
        for (let w = 0; w < chunk.length;) w += await f.write(chunk.subarray(w));
        hash.update(chunk);
        size += chunk.length;
        progress.update(size);
      }
    } catch (e) {
      if (e instanceof DownloadError) {
        ctrl.abort();
        await Deno.remove(part).catch(() => {});
        throw new DownloadError(`${e.message}; the partial file was removed`, e.kind);
      }
      throw new RetryableError(`connection lost after ${size} bytes: ${(e as Error).message}`);
    }
    if (total !== undefined && size < total) {
      throw new RetryableError(`connection closed after ${size} of ${total} bytes`);
    }
    return { size, total };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Download `url` to `dest` (resumable via `dest.part`, retried, sha256-checked, atomically
 * renamed). An existing `dest` is kept when it matches the expected hash (or none is known).
 */
export async function downloadFile(
  url: string,
  dest: string,
  opts: DownloadOptions = {},
): Promise<DownloadResult> {
  const label = opts.label ?? dest.split("/").pop()!;
  let expected = opts.sha256 === null ? null : opts.sha256?.toLowerCase();
  if (expected && !SHA256_RE.test(expected)) {
    throw new UserError(`expected sha256 for ${label} is not 64 hex digits: ${opts.sha256}`);
  }
  let reached = false;
  if (expected === undefined) {
    try {
      const info = await probe(url, opts.headers);
      reached = true;
      expected = info.sha256;
    } catch {
      // Unreachable: the download attempts below report it with retries.
    }
  }
  const existing = await fileSize(dest);
  if (existing !== undefined) {
    const got = await sha256File(dest);
    if (!expected || got === expected) {
      return { path: dest, sha256: got, bytes: existing, skipped: true };
    }
    if (!opts.quiet) console.error(`${dest}: sha256 differs from the server's, downloading again`);
  }
  await Deno.mkdir(dest.replace(/\/[^/]*$/, "") || ".", { recursive: true });
  const part = `${dest}${opts.partSuffix ?? ".part"}`;
  const retries = opts.retries ?? 5;
  const progress = new Progress(`download ${label}`, 0, { unit: "bytes", quiet: opts.quiet });
  let lastError = "";
  for (let i = 0; i <= retries; i++) {
    if (i > 0) {
      const delay = (opts.backoffMs ?? 1000) * 2 ** (i - 1) * (0.75 + Math.random() * 0.5);
      if (!opts.quiet) {
        console.error(
          `${label}: ${lastError}; retry ${i}/${retries} in ${(delay / 1000).toFixed(1)}s`,
        );
      }
      await new Promise((r) => setTimeout(r, delay));
    }
    const hash = createHash("sha256");
    let result: { size: number; total?: number };
    try {
      result = await attempt(url, part, hash, opts, progress, () => (reached = true));
    } catch (e) {
      if (e instanceof RetryableError) {
        lastError = e.message;
        continue;
      }
      throw e;
    }
    progress.finish();
    const got = hash.digest("hex");
    if (expected && got !== expected) {
      await Deno.remove(part).catch(() => {});
      throw new DownloadError(
        `${url}: sha256 mismatch (expected ${expected}, got ${got}); the partial file was removed`,
        "checksum",
      );
    }
    if (opts.verify) {
      try {
        await opts.verify(part);
      } catch (e) {
        await Deno.remove(part).catch(() => {});
        throw e;
      }
    }
    await Deno.rename(part, dest);
    return { path: dest, sha256: got, bytes: result.size, skipped: false };
  }
  throw new DownloadError(
    reached
      ? `${url}: download failed after ${retries + 1} attempts: ${lastError}`
      : `${url}: server unreachable (${lastError})`,
    reached ? "http" : "unreachable",
  );
}
