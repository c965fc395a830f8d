/**
 * A loopback server that answers like the Hugging Face hub, for tests: `HEAD`/`GET` on
 * `/[datasets/]ORG/NAME/resolve/REV/PATH` with `X-Repo-Commit` and `ETag` (the git sha1 of small
 * files; LFS files answer with a 302 to a CDN path carrying `X-Linked-Etag` (sha256) and
 * `X-Linked-Size`, and the CDN honours `Range`), plus `/api/models/ORG/NAME[/revision/REV]` and
 * `/api/datasets/...` listing `siblings`. Every request is counted.
 * @module
 */
import { createHash } from "node:crypto";

/** One repository the fake hub serves. */
export interface FakeRepo {
  type: "model" | "dataset";
  repo: string;
  /** Path in the repository → bytes. */
  files: Record<string, Uint8Array>;
  /** Commit the `main` branch points at (default: derived from the contents). */
  commit?: string;
  /** Other revisions (branch/tag name or commit) → their files. */
  revisions?: Record<string, { commit: string; files: Record<string, Uint8Array> }>;
}

/** Files at least this large are served the LFS way (redirect + sha256). */
const LFS_MIN = 1024;

/** git's blob id of some bytes (what the hub sends as the ETag of a small file). */
export function gitSha1(bytes: Uint8Array): string {
  return createHash("sha1").update(`blob ${bytes.length}\0`).update(bytes).digest("hex");
}

/** sha256 hex of bytes. */
export function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** A request the fake hub answered. */
export interface HubRequest {
  method: string;
  path: string;
  range: string | null;
  auth: string | null;
}

/** Options of {@linkcode startFakeHub}. */
export interface FakeHubOptions {
  dropFirstCdnGetAfter?: number;
  /** Rewrite the headers of every `/resolve/` answer (to play a hostile or broken hub). */
  tamper?: (path: string, headers: Headers) => void;
}

/** Start the fake hub on 127.0.0.1 at a free port. */
export function startFakeHub(repos: FakeRepo[], opts: FakeHubOptions = {}) {
  const log: HubRequest[] = [];
  let drop = opts.dropFirstCdnGetAfter;
  const byKey = new Map<
    string,
    Map<string, { commit: string; files: Record<string, Uint8Array> }>
  >();
  const blobs = new Map<string, Uint8Array>();
  for (const r of repos) {
    const commit = r.commit ??
      createHash("sha1").update(r.repo + Object.keys(r.files).join(",")).digest("hex");
    const revs = new Map([["main", { commit, files: r.files }], [commit, {
      commit,
      files: r.files,
    }]]);
    for (const [name, rev] of Object.entries(r.revisions ?? {})) {
      revs.set(name, rev);
      revs.set(rev.commit, rev);
    }
    for (const rev of revs.values()) {
      for (const b of Object.values(rev.files)) if (b.length >= LFS_MIN) blobs.set(sha256(b), b);
    }
    byKey.set(`${r.type}:${r.repo}`, revs);
  }
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const url = new URL(req.url);
    const path = decodeURIComponent(url.pathname);
    log.push({
      method: req.method,
      path,
      range: req.headers.get("range"),
      auth: req.headers.get("authorization"),
    });
    const api = /^\/api\/(models|datasets)\/([^/]+\/[^/]+)(?:\/revision\/(.+))?$/.exec(path);
    if (api) {
      const revs = byKey.get(`${api[1].slice(0, -1)}:${api[2]}`);
      const rev = revs?.get(api[3] ?? "main");
      if (!rev) return Response.json({ error: "Repository not found" }, { status: 404 });
      return Response.json({
        id: api[2],
        sha: rev.commit,
        siblings: Object.keys(rev.files).map((rfilename) => ({ rfilename })),
      });
    }
    const cdn = /^\/cdn\/([0-9a-f]{64})$/.exec(path);
    if (cdn) {
      return serveBody(
        req,
        blobs.get(cdn[1]),
        drop !== undefined
          ? () => {
            const d = drop;
            drop = undefined;
            return d;
          }
          : () => undefined,
      );
    }
    const m = /^\/(datasets\/)?([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(path);
    if (!m) return new Response("not found", { status: 404 });
    const revs = byKey.get(`${m[1] ? "dataset" : "model"}:${m[2]}`);
    const rev = revs?.get(m[3]);
    if (!rev) return new Response("Repository not found", { status: 404 });
    const body = rev.files[m[4]];
    const headers = new Headers({ "x-repo-commit": rev.commit });
    if (!body) return new Response("Entry not found", { status: 404, headers });
    if (body.length >= LFS_MIN) {
      const sha = sha256(body);
      headers.set("x-linked-etag", `"${sha}"`);
      headers.set("x-linked-size", String(body.length));
      headers.set("etag", `"${gitSha1(body)}"`);
      headers.set("location", `${url.origin}/cdn/${sha}`);
      opts.tamper?.(m[4], headers);
      return new Response(null, { status: 302, headers });
    }
    headers.set("etag", `"${gitSha1(body)}"`);
    opts.tamper?.(m[4], headers);
    return serveBody(req, body, () => undefined, headers);
  });
  const base = `http://127.0.0.1:${server.addr.port}`;
  return { base, log, close: () => server.shutdown() };
}

function serveBody(
  req: Request,
  body: Uint8Array | undefined,
  dropAfter: () => number | undefined,
  headers = new Headers(),
): Response {
  if (!body) return new Response("not found", { status: 404 });
  let start = 0;
  const m = /^bytes=(\d+)-$/.exec(req.headers.get("range") ?? "");
  if (m) {
    start = Number(m[1]);
    if (start >= body.length) {
      return new Response(null, {
        status: 416,
        headers: { "content-range": `bytes */${body.length}` },
      });
    }
    headers.set("content-range", `bytes ${start}-${body.length - 1}/${body.length}`);
  }
  const part = body.subarray(start);
  headers.set("content-length", String(part.length));
  headers.set("accept-ranges", "bytes");
  if (req.method === "HEAD") return new Response(null, { status: 200, headers });
  const cut = dropAfter();
  const stream = new ReadableStream<Uint8Array>({
    start(ctrl) {
      if (cut !== undefined) {
        ctrl.enqueue(part.slice(0, cut));
        setTimeout(() => ctrl.error(new Error("dropped on purpose")), 20);
      } else {
        ctrl.enqueue(part.slice());
        ctrl.close();
      }
    },
  });
  return new Response(stream, { status: start > 0 ? 206 : 200, headers });
}

/** Read every file of a folder (non-recursive) as path → bytes, optionally renamed. */
export async function folderFiles(
  dir: string,
  rename: Record<string, string> = {},
): Promise<Record<string, Uint8Array>> {
  const out: Record<string, Uint8Array> = {};
  for (const e of Deno.readDirSync(dir)) {
    if (e.isFile) out[rename[e.name] ?? e.name] = await Deno.readFile(`${dir}/${e.name}`);
  }
  return out;
}
