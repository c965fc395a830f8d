/**
 * The trust boundary of the Hugging Face cache. What the hub sends (`ETag`, `X-Repo-Commit`, file
 * names from listings and indexes) becomes a path only after it is checked, and what the cache
 * holds is read only once it is known to be ours: a snapshot entry must resolve into its
 * repository's `blobs/` folder, and a blob must hash to its own name (sha256 for LFS files, git
 * sha1 for the others). Hashing a large blob on every read would cost seconds per command, so a
 * blob verified once is remembered with its size, mtime and ctime and hashed again only when one
 * of them changes.
 * @module
 */
import { createHash } from "node:crypto";
import { basename, dirname, join, resolve } from "node:path";
import { UserError } from "../core/errors.ts";
import { writeFileAtomic } from "../core/fs.ts";
import { cacheDirForWriting, hubCacheDir, repoFolder, unlinkedInCache } from "./hf_cache.ts";
import type { RepoRef } from "./hub.ts";

const ETAG_RE = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;
const COMMIT_RE = /^[0-9a-f]{40}$/;

/**
 * Where verified (size, mtime) records live: a dot-folder beside `blobs/`, `refs/` and
 * `snapshots/`. Not inside `blobs/`, whose every file huggingface_hub takes for a blob (its cache
 * scan and `hf cache delete` would count or remove it), and not at the cache's top level, where
 * every folder is read as a repository; a repository folder's other entries are ignored by it.
 */
const RECORD_DIR = ".kd_verified";

/** Shorten a value the network sent, for an error line (quoted, at most 80 characters). */
function shown(value: string): string {
  return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
}

/**
 * The blob name an ETag header gives, after the quotes and `W/` are stripped: a git sha1 (40 hex)
 * or a sha256 (64 hex); anything else is a UserError naming `header` (it would become a path).
 */
export function checkEtag(value: string, header: string, where: string): string {
  const e = value.replace(/^W\//, "").replaceAll('"', "").trim().toLowerCase();
  if (!ETAG_RE.test(e)) {
    throw new UserError(
      `${where}: the ${header} header ${shown(value)} is not a git sha1 or sha256 ` +
        `(40 or 64 hex digits); refusing to use it as a cache file name`,
    );
  }
  return e;
}

/** A commit the server named (`X-Repo-Commit`): 40 hex digits, else a UserError naming `header`. */
export function checkCommit(value: string, header: string, where: string): string {
  const c = value.trim();
  if (!COMMIT_RE.test(c)) {
    throw new UserError(
      `${where}: the ${header} header ${shown(value)} is not a commit (40 hex digits); ` +
        `refusing to use it as a cache folder name`,
    );
  }
  return c;
}

/**
 * A file name inside a repository (from a listing, an index or the caller) that is safe to join
 * under `snapshots/<commit>/`: relative, no empty, `.` or `..` segment, no backslash or NUL.
 */
export function checkRepoPath(path: string, where: string): string {
  const segs = path.split("/");
  if (!path || /[\\\0]/.test(path) || segs.some((s) => s === "" || s === "." || s === "..")) {
    throw new UserError(`${where}: the file name ${shown(path)} is not a plain relative path`);
  }
  return path;
}

async function realCacheRoot(): Promise<string> {
  // The cache root may be a symlink (HF_HOME on another disk); below it nothing may be.
  try {
    return await Deno.realPath(hubCacheDir());
  } catch {
    return hubCacheDir(); // no cache yet: nothing resolves into it either
  }
}

/**
 * Whether `real` is an entry of huggingface_hub's cache-wide shared blob store
 * (`<cache>/blobs/<2 hex>/<64 hex>`, marked by `.huggingface-shared-blobs`), which newer versions
 * link a repository's `blobs/<etag>` to instead of keeping a copy per repository.
 */
async function inSharedStore(root: string, real: string): Promise<boolean> {
  const store = join(root, "blobs");
  const name = basename(real);
  if (dirname(dirname(real)) !== store || !/^[0-9a-f]{64}$/.test(name)) return false;
  if (basename(dirname(real)) !== name.slice(0, 2)) return false;
  try {
    return (await Deno.lstat(join(store, ".huggingface-shared-blobs"))).isFile;
  } catch {
    return false;
  }
}

/**
 * The blob a snapshot entry stands for. As Python makes them, an entry is a symlink to a
 * hash-named file in this repository's `blobs/` folder, and that file is a regular file there or
 * a link into the shared blob store. Where symlinks are unavailable (Windows without developer
 * mode, a cache copied with links dereferenced) Python puts the file itself in the snapshot: such
 * a plain file is accepted when no link leads to it, with `etag` null (its name says no hash).
 * Anything else (a link to `/etc/passwd` or into another repository, a linked-away folder) is
 * refused with a UserError naming the entry, before anything is read.
 */
export async function snapshotBlob(
  ref: RepoRef,
  pointer: string,
): Promise<{ blob: string; etag: string | null }> {
  const root = await realCacheRoot();
  const blobs = join(root, basename(repoFolder(ref)), "blobs");
  const refuse = (where: string) =>
    new UserError(
      `${pointer}: the snapshot entry resolves to ${where}, outside ${blobs}; refusing to read ` +
        `it (remove the entry and fetch again)`,
    );
  let hop: string, real: string;
  try {
    if ((await Deno.lstat(pointer)).isFile) {
      real = await Deno.realPath(pointer);
      if (!(await unlinkedInCache(pointer, real))) throw refuse(real);
      return { blob: pointer, etag: null };
    }
    hop = resolve(dirname(pointer), await Deno.readLink(pointer));
    real = await Deno.realPath(hop);
    hop = join(await Deno.realPath(dirname(hop)), basename(hop));
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`${pointer}: cannot resolve the snapshot entry (${(e as Error).message})`);
  }
  const etag = basename(hop);
  if (dirname(hop) !== blobs || !ETAG_RE.test(etag)) throw refuse(real);
  if (real !== hop && !(await inSharedStore(root, real))) throw refuse(real);
  return { blob: hop, etag };
}

/** Refuse (UserError) if any entry under the snapshot folder `dir` resolves outside `blobs/`. */
export async function checkSnapshotDir(ref: RepoRef, dir: string): Promise<void> {
  for await (const e of Deno.readDir(dir)) {
    const p = join(dir, e.name);
    if (e.isDirectory) await checkSnapshotDir(ref, p);
    else await snapshotBlob(ref, p);
  }
}

/** Whether the file at `path` hashes to `etag` (sha256 or git sha1, by its length). */
export async function fileMatchesEtag(path: string, etag: string): Promise<boolean> {
  return (await blobHash(path, etag, (await Deno.stat(path)).size)) === etag;
}

/** Hash of a file as the hub names it: sha256 for a 64-hex name, git's blob sha1 otherwise. */
async function blobHash(path: string, etag: string, size: number): Promise<string> {
  const hash = etag.length === 64
    ? createHash("sha256")
    : createHash("sha1").update(`blob ${size}\0`);
  using f = await Deno.open(path);
  for await (const chunk of f.readable) hash.update(chunk);
  return hash.digest("hex");
}

interface Stamp {
  size: number;
  mtime: number;
  /**
   * Also kept because, unlike the mtime, no `touch` can set it back after a rewrite (Deno
   * reports it in whole seconds only, so it adds to the mtime rather than replacing it).
   */
  ctime: number;
}

async function stamp(path: string): Promise<Stamp> {
  const s = await Deno.stat(path);
  return { size: s.size, mtime: s.mtime?.getTime() ?? 0, ctime: s.ctime?.getTime() ?? 0 };
}

function same(a: Stamp, b: Stamp): boolean {
  return a.size === b.size && a.mtime === b.mtime && a.ctime === b.ctime;
}

function recordPath(ref: RepoRef, etag: string): string {
  return join(repoFolder(ref), RECORD_DIR, etag);
}

async function writeRecord(ref: RepoRef, etag: string, s: Stamp): Promise<void> {
  const file = recordPath(ref, etag);
  await cacheDirForWriting(dirname(file));
  await writeFileAtomic(file, JSON.stringify(s));
}

/** Note that blob `etag` hashed to its name at its current size and mtime. */
export async function recordVerified(ref: RepoRef, etag: string): Promise<void> {
  const s = await stamp(join(repoFolder(ref), "blobs", etag));
  await writeRecord(ref, etag, s);
}

/**
 * Whether blob `etag` of `ref` holds the bytes its name promises. Hashed only when its size or
 * mtime differ from the last verification (a rewrite in place changes the mtime).
 */
export async function blobIsIntact(ref: RepoRef, etag: string): Promise<boolean> {
  const path = join(repoFolder(ref), "blobs", etag);
  const before = await stamp(path);
  try {
    const record = recordPath(ref, etag);
    // A record is read only from inside the cache (a linked-away file or folder is not).
    if (await unlinkedInCache(record, await Deno.realPath(record))) {
      const known = JSON.parse(await Deno.readTextFile(record)) as Stamp;
      if (same(known, before)) return true;
    }
  } catch { /* never verified here */ }
  if ((await blobHash(path, etag, before.size)) !== etag) return false;
  const after = await stamp(path);
  // Only a file that did not change while it was hashed is vouched for.
  if (same(after, before)) {
    await writeRecord(ref, etag, after).catch(() => {});
  }
  return true;
}

/** The one line for a blob whose bytes no longer match its name. */
export function alteredBlobError(blob: string, where: string): UserError {
  return new UserError(
    `${where}: the cached blob ${blob} does not match its checksum name (altered or corrupted ` +
      `after download); delete it and fetch again`,
  );
}
