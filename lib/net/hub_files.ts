/**
 * Files of hub repositories through the shared Hugging Face cache (see `hf_cache.ts`), the way
 * `hf_hub_download` / `snapshot_download` behave: a HEAD request names the file's commit
 * (`X-Repo-Commit`) and blob (`X-Linked-Etag`/`ETag`); a blob already in the cache, from this
 * toolkit or from Python, is linked instead of downloaded; new blobs download resumably (HTTP
 * Range into `blobs/<etag>.incomplete`) and checked (sha256 for LFS files, git sha1 otherwise).
 * `HF_HUB_OFFLINE=1` sends no request at all; a missing file is then named in one line.
 * Every repository read is recorded with its commit (`resolvedRepos`).
 * @module
 */
import { createHash } from "node:crypto";
import { type Hint, hintedError, UserError } from "../core/errors.ts";
import { DownloadError, downloadFile, errorText, sha256FromEtag } from "./download.ts";
import {
  hubApiUrl,
  hubEndpoint,
  hubFileUrl,
  hubHeaders,
  hubOffline,
  isHubUrl,
  recordResolved,
  repoLabel,
  type RepoRef,
} from "./hub.ts";
import {
  blobPath,
  cachedCommit,
  cacheDirForWriting,
  hubCacheDir,
  isCommit,
  linkSnapshot,
  lockPath,
  lookupCached,
  markAbsent,
  snapshotFiles,
  writeRef,
} from "./hf_cache.ts";
import {
  alteredBlobError,
  blobIsIntact,
  checkCommit,
  checkEtag,
  checkRepoPath,
  fileMatchesEtag,
  recordVerified,
  snapshotBlob,
} from "./cache_trust.ts";
import { dirname } from "node:path";

/** Options shared by the functions here. */
export interface HubOptions {
  quiet?: boolean;
  /**
   * What the user can do instead, added to "cannot get ..." errors: text, or a flag's hint that
   * only commands with the flag show (e.g. `--data DIR`).
   */
  hint?: Hint;
  /** Download retries (default 5). */
  retries?: number;
}

/** A file resolved through the cache. */
export interface HubFile {
  /** Local path (a snapshot entry). */
  path: string;
  commit: string;
}

function missingOffline(ref: RepoRef, path: string, hint?: Hint): UserError {
  return hintedError(
    `HF_HUB_OFFLINE is set and ${repoLabel(ref)}/${path} is not in the Hugging Face cache ` +
      `(${hubCacheDir()})`,
    hint,
  );
}

function unreachable(ref: RepoRef, path: string, why: string, hint?: Hint): UserError {
  return hintedError(
    `cannot get ${repoLabel(ref)}/${path}: the Hugging Face hub at ${hubEndpoint()} is ` +
      `unreachable (${why}) and the file is not in the cache (${hubCacheDir()})`,
    hint,
  );
}

function httpError(ref: RepoRef, what: string, status: number, hint?: Hint): UserError {
  const why = status === 401 || status === 403
    ? "private or gated? set HF_TOKEN"
    : status === 404
    ? "not found"
    : `HTTP ${status}`;
  return hintedError(`${repoLabel(ref)}: ${what}: ${why}`, hint);
}

/** Metadata of one file from a HEAD request (redirects to a CDN are not followed). */
interface FileMeta {
  commit: string;
  etag: string;
  size?: number;
}

async function headFile(url: string, ref: RepoRef, path: string): Promise<FileMeta | number> {
  let target = url;
  for (let hop = 0; hop < 5; hop++) {
    const res = await fetch(target, {
      method: "HEAD",
      redirect: "manual",
      // Compression would change the ETag of small files.
      headers: hubHeaders(target, { "Accept-Encoding": "identity" }),
      signal: AbortSignal.timeout(10_000),
    });
    await res.body?.cancel();
    const h = res.headers;
    const location = h.get("location");
    // A path on the hub is a renamed repository: follow it. A full URL goes to a CDN, whose
    // answer the HEAD does not need; `//host/…` (or `/\host/…`) is another host, though it
    // starts with a slash, and must not get the request (nor its token).
    if (res.status >= 300 && res.status < 400 && location?.startsWith("/")) {
      const next = new URL(location, target);
      if (isHubUrl(next)) {
        target = next.href;
        continue;
      }
    }
    if (res.status >= 400) return res.status;
    const commitText = h.get("x-repo-commit") ?? undefined;
    const etagHeader = h.get("x-linked-etag") ? "X-Linked-Etag" : "ETag";
    const etagText = h.get(etagHeader) ?? undefined;
    if (!commitText || !etagText) {
      throw new UserError(
        `${repoLabel(ref)}/${path}: the server at ${hubEndpoint()} sent no ` +
          `${!commitText ? "X-Repo-Commit" : "ETag"} header (is HF_ENDPOINT a Hugging Face hub?)`,
      );
    }
    // Both become names in the cache (blobs/<etag>, snapshots/<commit>/): only hashes may.
    const where = `${repoLabel(ref)}/${path} from ${hubEndpoint()}`;
    const commit = checkCommit(commitText, "X-Repo-Commit", where);
    const etag = checkEtag(etagText, etagHeader, where);
    const sizeText = h.get("x-linked-size") ?? h.get("content-length");
    const size = sizeText ? Number(sizeText) : undefined;
    return { commit, etag, size: Number.isFinite(size) ? size : undefined };
  }
  throw new UserError(`${repoLabel(ref)}/${path}: too many redirects from ${hubEndpoint()}`);
}

/** git's object id of a file: sha1 over `blob <size>\0` and the bytes (the hub's ETag of small files). */
async function gitBlobSha1(path: string): Promise<string> {
  const size = (await Deno.stat(path)).size;
  const hash = createHash("sha1").update(`blob ${size}\0`);
  using f = await Deno.open(path);
  for await (const chunk of f.readable) hash.update(chunk);
  return hash.digest("hex");
}

async function withLock<T>(file: string, fn: () => Promise<T>): Promise<T> {
  await cacheDirForWriting(dirname(file));
  using f = await Deno.open(file, { create: true, write: true });
  // flock, the same lock Python's filelock takes, so the two never write one blob at once.
  await f.lock(true);
  try {
    return await fn();
  } finally {
    await f.unlock().catch(() => {});
  }
}

/** A cached snapshot entry checked before use: whether its blob still matches its name. */
interface Checked {
  pointer: string;
  commit: string;
  blob: string;
  /** Null for a plain file in the snapshot (no hash-named blob; see `snapshotBlob`). */
  etag: string | null;
  intact: boolean;
}

/** Resolve a present cache entry into `blobs/` (else UserError) and verify its blob. */
async function checkCached(ref: RepoRef, pointer: string, commit: string): Promise<Checked> {
  const { blob, etag } = await snapshotBlob(ref, pointer);
  // A plain file has no name to check offline; online it is checked against the HEAD's ETag.
  const intact = etag === null || await blobIsIntact(ref, etag);
  return { pointer, commit, blob, etag, intact };
}

/**
 * The local path of `path` in a hub repository, downloading it into the cache if needed.
 * With `optional`, a file the hub does not have gives null (and is remembered as absent).
 * Nothing is returned that does not resolve into the repository's `blobs/` and match its
 * checksum name; online, an altered blob is downloaded again.
 */
export async function hubFile(
  ref: RepoRef,
  path: string,
  opts: HubOptions & { optional?: boolean; recordAs?: RepoRef } = {},
): Promise<HubFile | null> {
  const label = `${repoLabel(ref)}/${path}`;
  checkRepoPath(path, repoLabel(ref));
  const record = (commit: string) => recordResolved(opts.recordAs ?? ref, commit);
  const found = lookupCached(ref, path);
  const cached = found.state === "present"
    ? await checkCached(ref, found.path, found.commit)
    : null;
  const useCached = (c: Checked): HubFile => {
    if (!c.intact) throw alteredBlobError(c.blob, label);
    record(c.commit);
    return { path: c.pointer, commit: c.commit };
  };
  if (hubOffline()) {
    if (cached) return useCached(cached);
    if (found.state === "absent-upstream" && opts.optional) return null;
    throw missingOffline(ref, path, opts.hint);
  }
  // A commit never changes: what the cache holds for it is final (no request, as in Python).
  if (isCommit(ref.revision) && cached?.intact) return useCached(cached);
  const url = hubFileUrl(ref.repo, path, { type: ref.type, revision: ref.revision });
  let meta: FileMeta | number;
  try {
    meta = await headFile(url, ref, path);
  } catch (e) {
    if (e instanceof UserError) throw e;
    // As huggingface_hub does: without a connection, a cached copy of the revision is used.
    if (cached) {
      if (cached.intact && !opts.quiet) {
        console.error(`note: the hub is unreachable; using the cached ${label}`);
      }
      return useCached(cached);
    }
    if (found.state === "absent-upstream" && opts.optional) return null;
    throw unreachable(ref, path, errorText(e), opts.hint);
  }
  if (typeof meta === "number") {
    if (meta === 404 && opts.optional) {
      const commit = cachedCommit(ref);
      if (commit) await markAbsent(ref, commit, path);
      return null;
    }
    throw httpError(ref, path, meta, opts.hint);
  }
  const { commit, etag } = meta;
  // Files asked for at a commit must come from it, or one snapshot would mix two commits.
  if (isCommit(ref.revision) && commit !== ref.revision) {
    throw new UserError(
      `${label}: asked for commit ${ref.revision}, the server at ${hubEndpoint()} answered for ` +
        `${commit} (is HF_ENDPOINT a Hugging Face hub?)`,
    );
  }
  await writeRef(ref, commit);
  record(commit);
  const present = lookupCached(ref, path, commit);
  if (present.state === "present") {
    const c = await checkCached(ref, present.path, commit);
    if (c.etag === null ? await fileMatchesEtag(c.blob, etag) : c.intact && c.etag === etag) {
      return { path: c.pointer, commit };
    }
  }
  const blob = blobPath(ref, etag);
  const lfs = sha256FromEtag(etag);
  await cacheDirForWriting(dirname(blob));
  await withLock(lockPath(ref, etag), async () => {
    try {
      await Deno.stat(blob);
      // Downloaded before (by us or by Python) under another snapshot: used if still intact.
      if (await blobIsIntact(ref, etag)) return;
      if (!opts.quiet) console.error(`${blob}: altered or corrupted; downloading it again`);
      await Deno.remove(blob);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    try {
      await downloadFile(url, blob, {
        sha256: lfs ?? null,
        size: meta.size,
        partSuffix: ".incomplete",
        label,
        quiet: opts.quiet,
        retries: opts.retries,
        verify: lfs ? undefined : async (part) => {
          const sha1 = await gitBlobSha1(part);
          if (sha1 !== etag) {
            throw new DownloadError(
              `${url}: git sha1 mismatch (expected ${etag}, got ${sha1}); the partial file was removed`,
              "checksum",
            );
          }
        },
      });
    } catch (e) {
      if (e instanceof DownloadError && e.kind === "unreachable") {
        throw unreachable(ref, path, e.message, opts.hint);
      }
      throw e;
    }
    await recordVerified(ref, etag);
  });
  return { path: await linkSnapshot(ref, commit, path, etag), commit };
}

/** A repository's file list at a revision, and the commit it resolved to. */
export interface RepoFiles {
  commit: string;
  files: string[];
  /** True when the list came from the cached snapshot (offline or hub unreachable). */
  fromCache: boolean;
}

function fromSnapshot(ref: RepoRef): RepoFiles | null {
  const commit = cachedCommit(ref);
  const files = commit ? snapshotFiles(ref, commit) : null;
  return commit && files ? { commit, files, fromCache: true } : null;
}

/**
 * Which files a repository has (the hub API's `siblings`), at the commit the revision names now.
 * Offline, or with the hub unreachable, the cached snapshot's files stand in for the list.
 */
export async function hubRepoFiles(ref: RepoRef, opts: HubOptions = {}): Promise<RepoFiles> {
  const key = `${hubEndpoint()} ${hubCacheDir()} ${ref.type}:${ref.repo}@${ref.revision}`;
  const known = listed.get(key);
  if (known) {
    recordResolved(ref, known.commit);
    return known;
  }
  const got = await listRepoFiles(ref, opts);
  // One answer per process: every later use in this run sees the same commit, with no request.
  listed.set(key, got);
  return got;
}

const listed = new Map<string, RepoFiles>();

async function listRepoFiles(ref: RepoRef, opts: HubOptions): Promise<RepoFiles> {
  if (hubOffline()) {
    const snap = fromSnapshot(ref);
    if (!snap) {
      throw hintedError(
        `HF_HUB_OFFLINE is set and ${repoLabel(ref)} is not in the Hugging Face cache ` +
          `(${hubCacheDir()})`,
        opts.hint,
      );
    }
    recordResolved(ref, snap.commit);
    return snap;
  }
  const url = hubApiUrl(ref);
  let res: Response;
  try {
    res = await fetch(url, { headers: hubHeaders(url), signal: AbortSignal.timeout(15_000) });
  } catch (e) {
    const snap = fromSnapshot(ref);
    if (snap) {
      if (!opts.quiet) {
        console.error(`note: the hub is unreachable; using the cached ${repoLabel(ref)}`);
      }
      recordResolved(ref, snap.commit);
      return snap;
    }
    throw hintedError(
      `cannot list ${repoLabel(ref)}: the Hugging Face hub at ${hubEndpoint()} is unreachable ` +
        `(${errorText(e)}) and the repository is not in the cache (${hubCacheDir()})`,
      opts.hint,
    );
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw httpError(ref, "listing its files", res.status, opts.hint);
  }
  let info: unknown;
  try {
    info = await res.json();
  } catch (e) {
    throw new UserError(`${url}: not a hub API answer (${(e as Error).message})`);
  }
  const { sha, siblings } = (typeof info === "object" && info !== null ? info : {}) as {
    sha?: unknown;
    siblings?: unknown;
  };
  const commit = typeof sha === "string" ? sha : "";
  if (!isCommit(commit) || !Array.isArray(siblings)) {
    throw new UserError(`${url}: the answer has no commit "sha" or "siblings" list`);
  }
  const files = siblings.map((s) => typeof s === "object" && s !== null ? s.rfilename : undefined)
    .filter((f): f is string => typeof f === "string");
  await writeRef(ref, commit);
  recordResolved(ref, commit);
  return { commit, files: files.sort(), fromCache: false };
}

/** Fetch `paths` of a repository at one commit (as `snapshot_download` pins its files). */
export async function hubFiles(
  ref: RepoRef,
  commit: string,
  paths: string[],
  opts: HubOptions = {},
): Promise<HubFile[]> {
  const pinned = { ...ref, revision: commit };
  const out: HubFile[] = [];
  for (const p of paths) out.push((await hubFile(pinned, p, { ...opts, recordAs: ref }))!);
  return out;
}
