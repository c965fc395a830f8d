/**
 * The Hugging Face cache, in the layout Python's `huggingface_hub` reads and writes, so both
 * share one copy of every file:
 *
 * ```
 * $HF_HUB_CACHE (else $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub)
 *   models--ORG--NAME/            datasets--ORG--NAME/ likewise
 *     blobs/<etag>                the file's bytes, named by sha256 (LFS) or git sha1
 *     refs/<revision>             the commit a branch or tag pointed at when last resolved
 *     snapshots/<commit>/<path>   relative symlink to ../../blobs/<etag>
 *     .no_exist/<commit>/<path>   empty file: the hub said this file does not exist
 * ```
 * @module
 */
import { homedir } from "node:os";
import { dirname, join, relative } from "node:path";
import { UserError } from "../core/errors.ts";
import type { RepoRef } from "./hub.ts";

const COMMIT_RE = /^[0-9a-f]{40}$/;

/**
 * The hub cache folder in effect (the same variables, in the same order, as huggingface_hub).
 *
 * @example The cache Python's huggingface_hub uses too
 * ```ts
 * import { hubCacheDir } from "@kd/vision/hub";
 *
 * console.log(hubCacheDir()); // $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub
 * ```
 */
export function hubCacheDir(): string {
  const env = (k: string) => Deno.env.get(k) || undefined;
  const hubCache = env("HF_HUB_CACHE") ?? env("HUGGINGFACE_HUB_CACHE");
  if (hubCache) return hubCache;
  const home = env("HF_HOME") ??
    join(env("XDG_CACHE_HOME") ?? join(env("HOME") ?? homedir(), ".cache"), "huggingface");
  return join(home, "hub");
}

/** The cache folder of one repository, e.g. `models--google--mobilenet_v2_1.0_224`. */
export function repoFolder(ref: Pick<RepoRef, "repo" | "type">): string {
  return join(hubCacheDir(), `${ref.type}s--${ref.repo.replaceAll("/", "--")}`);
}

/** Whether `revision` is a full commit hash (then no ref file is involved). */
export function isCommit(revision: string): boolean {
  return COMMIT_RE.test(revision);
}

/** The commit `ref.revision` pointed at when last resolved here, or null if never. */
export function cachedCommit(ref: RepoRef): string | null {
  if (isCommit(ref.revision)) return ref.revision;
  try {
    const c = Deno.readTextFileSync(join(repoFolder(ref), "refs", ref.revision)).trim();
    return isCommit(c) ? c : null;
  } catch {
    return null;
  }
}

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile; // follows the snapshot symlink to its blob
  } catch {
    return false;
  }
}

/** Path of `path` in the snapshot of `commit`. */
export function snapshotPath(ref: RepoRef, commit: string, path: string): string {
  return join(repoFolder(ref), "snapshots", commit, path);
}

/** What the cache knows about one file of a repository at the revision's cached commit. */
export type CachedFile =
  | { state: "present"; path: string; commit: string }
  | { state: "absent-upstream"; commit: string }
  | { state: "unknown" };

/** Look `path` up in the cache, without any request. */
export function lookupCached(ref: RepoRef, path: string, commit = cachedCommit(ref)): CachedFile {
  if (!commit) return { state: "unknown" };
  const p = snapshotPath(ref, commit, path);
  if (isFile(p)) return { state: "present", path: p, commit };
  if (isFile(join(repoFolder(ref), ".no_exist", commit, path))) {
    return { state: "absent-upstream", commit };
  }
  return { state: "unknown" };
}

/** Every file of the snapshot of `commit` (paths relative to it), or null when there is none. */
export function snapshotFiles(ref: RepoRef, commit: string): string[] | null {
  const root = join(repoFolder(ref), "snapshots", commit);
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of Deno.readDirSync(dir)) {
      const p = join(dir, e.name);
      if (e.isDirectory) walk(p);
      else if (isFile(p)) out.push(relative(root, p));
    }
  };
  try {
    walk(root);
  } catch {
    return null;
  }
  return out.sort();
}

/**
 * Make folder `dir` (inside the cache) and refuse (UserError) to write into it when a symlink
 * below the cache root leads it elsewhere, so a planted link cannot send a download outside.
 */
export async function cacheDirForWriting(dir: string): Promise<string> {
  const refuse = (real: string) =>
    new UserError(`${dir}: resolves to ${real}, outside the cache; refusing to write there`);
  // The cache root itself is the user's to place (a symlink to another disk is fine).
  const root = hubCacheDir();
  await Deno.mkdir(root, { recursive: true });
  // The nearest existing ancestor is checked first, so no folder is made through a link either.
  let have = dir;
  while (have !== root && !(await lexists(have)) && dirname(have) !== have) have = dirname(have);
  const realHave = await Deno.realPath(have);
  if (!(await unlinkedInCache(have, realHave))) throw refuse(realHave);
  await Deno.mkdir(dir, { recursive: true });
  const real = await Deno.realPath(dir);
  if (!(await unlinkedInCache(dir, real))) throw refuse(real);
  return dir;
}

/** Whether `path` exists itself (a dangling or foreign symlink counts: it is what is checked). */
async function lexists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

/** Whether `path` (resolving to `real`) is reached from the cache root without a symlink. */
export async function unlinkedInCache(path: string, real: string): Promise<boolean> {
  const root = hubCacheDir();
  return real === join(await Deno.realPath(root), relative(root, path));
}

/** Remember that `ref.revision` resolved to `commit` (nothing to write for a pinned commit). */
export async function writeRef(ref: RepoRef, commit: string): Promise<void> {
  if (isCommit(ref.revision) || ref.revision === commit) return;
  const file = join(repoFolder(ref), "refs", ref.revision);
  await cacheDirForWriting(dirname(file));
  let current = "";
  try {
    current = (await Deno.readTextFile(file)).trim();
  } catch { /* first time */ }
  if (current === commit) return;
  const tmp = `${file}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  await Deno.writeTextFile(tmp, commit);
  await Deno.rename(tmp, file);
}

/** Path of the blob named `etag`. */
export function blobPath(ref: RepoRef, etag: string): string {
  return join(repoFolder(ref), "blobs", etag);
}

/** Point `snapshots/<commit>/<path>` at the blob `etag` (a relative symlink, as Python makes). */
export async function linkSnapshot(
  ref: RepoRef,
  commit: string,
  path: string,
  etag: string,
): Promise<string> {
  const pointer = snapshotPath(ref, commit, path);
  await cacheDirForWriting(dirname(pointer));
  const target = relative(dirname(pointer), blobPath(ref, etag));
  await Deno.remove(pointer).catch(() => {});
  try {
    await Deno.symlink(target, pointer);
  } catch (e) {
    // Another process linked it first: fine if it is the same blob.
    if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
  }
  return pointer;
}

/** Record that the hub has no `path` at `commit` (so optional files are not asked for again). */
export async function markAbsent(ref: RepoRef, commit: string, path: string): Promise<void> {
  const file = join(repoFolder(ref), ".no_exist", commit, path);
  await cacheDirForWriting(dirname(file));
  await Deno.writeFile(file, new Uint8Array());
}

/** The lock file huggingface_hub takes around writing one blob (flock, shared with Python). */
export function lockPath(ref: RepoRef, etag: string): string {
  return join(
    hubCacheDir(),
    ".locks",
    `${ref.type}s--${ref.repo.replaceAll("/", "--")}`,
    `${etag}.lock`,
  );
}
