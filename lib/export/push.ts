/**
 * Upload an exported folder to a Hugging Face hub model repository, the way `huggingface_hub`'s
 * `upload_folder` does: create the repo (an existing one is fine), ask `preupload` which files
 * go through LFS, upload those with the git-LFS batch API (basic or multipart transfer, then
 * `verify` when asked), and create one commit whose NDJSON body lists regular files inline
 * (base64) and LFS files by sha256. `HF_ENDPOINT` selects the server; `HF_TOKEN` authenticates.
 * @module
 */
import { join } from "node:path";
import { UserError } from "../core/errors.ts";
import { sha256Hex } from "../core/hash.ts";
import { encodeBase64 } from "../core/base64.ts";
import { redactSecrets } from "../core/redact.ts";

/** Options of {@linkcode pushFolder}. */
export interface PushOptions {
  /** `ORG/NAME`. */
  repoId: string;
  dir: string;
  token: string;
  /** Hub URL (default: env `HF_ENDPOINT`, else https://huggingface.co). */
  endpoint?: string;
  revision?: string;
  commitMessage?: string;
  private?: boolean;
  quiet?: boolean;
}

/** What was pushed. */
export interface PushResult {
  repo_id: string;
  revision: string;
  commit_oid: string | null;
  commit_url: string | null;
  files: { path: string; bytes: number; mode: "lfs" | "regular" }[];
}

interface LfsAction {
  href: string;
  header?: Record<string, string>;
}

/** The hub endpoint in effect. */
export function hubEndpoint(): string {
  return (Deno.env.get("HF_ENDPOINT") ?? "https://huggingface.co").replace(/\/+$/, "");
}

/**
 * An error line about a request: the server's words may echo our `Authorization` header (and a
 * pre-signed URL may carry credentials), so the token is cut out here, where it is known, besides
 * the generic scrub every command's error line gets.
 */
function requestError(text: string, token: string | undefined): UserError {
  const cut = token && token.length >= 4 ? text.replaceAll(token, "***") : text;
  return new UserError(redactSecrets(cut));
}

type Requester = (
  method: string,
  url: string,
  init?: { headers?: Record<string, string>; body?: BodyInit; ok?: number[] },
) => Promise<Response>;

async function request(
  method: string,
  url: string,
  init: {
    headers?: Record<string, string>;
    body?: BodyInit;
    ok?: number[];
    token?: string;
  } = {},
): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(url, { method, headers: init.headers, body: init.body });
  } catch (e) {
    throw requestError(`hub: ${method} ${url} failed (${(e as Error).message})`, init.token);
  }
  if (!res.ok && !(init.ok ?? []).includes(res.status)) {
    const text = (await res.text().catch(() => "")).replace(/\s+/g, " ").slice(0, 200);
    throw requestError(
      `hub: ${method} ${url} answered ${res.status}${text ? `: ${text}` : ""}`,
      init.token,
    );
  }
  return res;
}

async function json<T>(res: Response, what: string): Promise<T> {
  try {
    return await res.json() as T;
  } catch {
    throw new UserError(`hub: ${what} did not answer with JSON`);
  }
}

/** Upload `dir` (its files, not sub-folders) to `repoId` in one commit. */
export async function pushFolder(opts: PushOptions): Promise<PushResult> {
  if (!/^[\w.-]+\/[\w.-]+$/.test(opts.repoId) || opts.repoId.includes("..")) {
    throw new UserError(`--push expects ORG/NAME, got "${opts.repoId}"`);
  }
  const log = (m: string) => opts.quiet || console.error(m);
  const endpoint = (opts.endpoint ?? hubEndpoint()).replace(/\/+$/, "");
  const revision = opts.revision ?? "main";
  const rev = encodeURIComponent(revision);
  const auth = { authorization: `Bearer ${opts.token}`, "user-agent": "kd-vision" };
  const call: Requester = (method, url, init = {}) =>
    request(method, url, { ...init, token: opts.token });
  const [org, name] = opts.repoId.split("/");

  const files: { path: string; bytes: Uint8Array<ArrayBuffer>; sha: string }[] = [];
  for await (const e of Deno.readDir(opts.dir)) {
    if (!e.isFile) continue;
    const bytes = await Deno.readFile(join(opts.dir, e.name));
    files.push({ path: e.name, bytes, sha: sha256Hex(bytes) });
  }
  files.sort((a, b) => (a.path < b.path ? -1 : 1));
  if (!files.length) throw new UserError(`${opts.dir}: nothing to push (no files)`);

  // 1. The repository (409: it exists already, which is fine).
  await call("POST", `${endpoint}/api/repos/create`, {
    headers: { ...auth, "content-type": "application/json" },
    body: JSON.stringify({ name, organization: org, private: opts.private ?? false }),
    ok: [409],
  });

  // 2. Which files go through LFS.
  const pre = await json<
    { files?: { path: string; uploadMode: string; shouldIgnore?: boolean }[] }
  >(
    await call("POST", `${endpoint}/api/models/${opts.repoId}/preupload/${rev}`, {
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({
        files: files.map((f) => ({
          path: f.path,
          sample: encodeBase64(f.bytes.subarray(0, 512)),
          size: f.bytes.length,
        })),
      }),
    }),
    "preupload",
  );
  const modes = new Map((pre.files ?? []).map((f) => [f.path, f]));
  for (const f of files) {
    const m = modes.get(f.path)?.uploadMode;
    if (m !== "lfs" && m !== "regular") {
      throw new UserError(`hub: preupload gave no upload mode for ${f.path}`);
    }
  }
  const kept = files.filter((f) => !modes.get(f.path)!.shouldIgnore);
  const lfs = kept.filter((f) => modes.get(f.path)!.uploadMode === "lfs");

  // 3. LFS objects.
  if (lfs.length) {
    const lfsHeaders = {
      ...auth,
      accept: "application/vnd.git-lfs+json",
      "content-type": "application/vnd.git-lfs+json",
    };
    const batch = await json<{
      objects: {
        oid: string;
        size: number;
        error?: { message: string };
        actions?: { upload?: LfsAction; verify?: LfsAction };
      }[];
    }>(
      await call("POST", `${endpoint}/${opts.repoId}.git/info/lfs/objects/batch`, {
        headers: lfsHeaders,
        body: JSON.stringify({
          operation: "upload",
          transfers: ["basic", "multipart"],
          objects: lfs.map((f) => ({ oid: f.sha, size: f.bytes.length })),
          hash_algo: "sha256",
          ref: { name: revision },
        }),
      }),
      "the LFS batch endpoint",
    );
    for (const obj of batch.objects ?? []) {
      const f = lfs.find((x) => x.sha === obj.oid);
      if (!f) continue;
      if (obj.error) {
        throw requestError(`hub: LFS refused ${f.path}: ${obj.error.message}`, opts.token);
      }
      const upload = obj.actions?.upload;
      if (!upload) continue; // already stored upstream
      log(`uploading ${f.path} (${(f.bytes.length / 1e6).toFixed(1)} MB, LFS)`);
      await lfsUpload(f.bytes, f.sha, upload, call);
      const verify = obj.actions?.verify;
      if (verify) {
        await call("POST", verify.href, {
          headers: { ...lfsHeaders, ...(verify.header ?? {}) },
          body: JSON.stringify({ oid: f.sha, size: f.bytes.length }),
        });
      }
    }
  }

  // 4. The commit.
  const lines = [
    {
      key: "header",
      value: { summary: opts.commitMessage ?? "Upload kd-vision export", description: "" },
    },
    ...kept.map((f) =>
      modes.get(f.path)!.uploadMode === "lfs"
        ? {
          key: "lfsFile",
          value: { path: f.path, algo: "sha256", oid: f.sha, size: f.bytes.length },
        }
        : {
          key: "file",
          value: { content: encodeBase64(f.bytes), path: f.path, encoding: "base64" },
        }
    ),
  ];
  const commit = await json<{ commitOid?: string; commitUrl?: string }>(
    await call("POST", `${endpoint}/api/models/${opts.repoId}/commit/${rev}`, {
      headers: { ...auth, "content-type": "application/x-ndjson" },
      body: lines.map((l) => JSON.stringify(l)).join("\n") + "\n",
    }),
    "commit",
  );
  log(`pushed ${kept.length} files to ${opts.repoId}@${revision}`);
  return {
    repo_id: opts.repoId,
    revision,
    commit_oid: commit.commitOid ?? null,
    commit_url: commit.commitUrl ?? null,
    files: kept.map((f) => ({
      path: f.path,
      bytes: f.bytes.length,
      mode: modes.get(f.path)!.uploadMode as "lfs" | "regular",
    })),
  };
}

/** One LFS object: a single PUT, or the multipart protocol when the action carries `chunk_size`. */
async function lfsUpload(
  bytes: Uint8Array<ArrayBuffer>,
  oid: string,
  action: LfsAction,
  request: Requester,
): Promise<void> {
  const header = action.header ?? {};
  const chunk = Number(header.chunk_size);
  if (!chunk) {
    await request("PUT", action.href, { headers: header, body: bytes });
    return;
  }
  // Multipart: header keys "1".."N" are pre-signed part URLs; completion posts their ETags.
  const parts = Object.keys(header).filter((k) => /^\d+$/.test(k)).map(Number).sort((a, b) =>
    a - b
  );
  const etags: { partNumber: number; etag: string }[] = [];
  for (const n of parts) {
    const res = await request("PUT", header[String(n)], {
      body: bytes.subarray((n - 1) * chunk, n * chunk),
    });
    etags.push({ partNumber: n, etag: res.headers.get("etag") ?? "" });
    await res.body?.cancel();
  }
  await request("POST", action.href, {
    headers: {
      accept: "application/vnd.git-lfs+json",
      "content-type": "application/vnd.git-lfs+json",
    },
    body: JSON.stringify({ oid, parts: etags }),
  });
}
