/** A local HTTP file server for download tests: Range support, dropped connections, hub redirects. */

/** What the server did, for assertions. */
export interface Served {
  method: string;
  path: string;
  range: string | null;
}

/** Options of {@linkcode serveBytes}. */
export interface ServeOptions {
  /** Abort the first N GET responses after this many bytes. */
  dropAfter?: number;
  dropTimes?: number;
  /** Ignore Range headers (always answer 200 with the whole file). */
  noRange?: boolean;
  /** Value of X-Linked-Etag on the hub-style redirect at /resolve/... */
  linkedEtag?: string;
}

/** Serve `files` (path -> bytes) on 127.0.0.1 at a free port. `/resolve<path>` redirects like the hub. */
export function serveBytes(files: Record<string, Uint8Array>, opts: ServeOptions = {}) {
  const log: Served[] = [];
  let drops = opts.dropTimes ?? (opts.dropAfter !== undefined ? 1 : 0);
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const url = new URL(req.url);
    log.push({ method: req.method, path: url.pathname, range: req.headers.get("range") });
    if (url.pathname.startsWith("/resolve/")) {
      const target = url.pathname.slice("/resolve".length);
      const headers = new Headers({ location: target });
      if (opts.linkedEtag) headers.set("x-linked-etag", `"${opts.linkedEtag}"`);
      if (files[target]) headers.set("x-linked-size", String(files[target].length));
      return new Response(null, { status: 302, headers });
    }
    const body = files[url.pathname];
    if (!body) return new Response("not found", { status: 404 });
    let start = 0;
    const m = /^bytes=(\d+)-$/.exec(req.headers.get("range") ?? "");
    if (m && !opts.noRange) {
      start = Number(m[1]);
      if (start >= body.length) {
        return new Response(null, {
          status: 416,
          headers: { "content-range": `bytes */${body.length}` },
        });
      }
    }
    const part = body.subarray(start);
    const headers = new Headers({
      "content-length": String(part.length),
      "accept-ranges": "bytes",
    });
    if (start > 0) headers.set("content-range", `bytes ${start}-${body.length - 1}/${body.length}`);
    if (req.method === "HEAD") return new Response(null, { status: 200, headers });
    const drop = drops > 0 && opts.dropAfter !== undefined;
    if (drop) drops--;
    const stream = new ReadableStream<Uint8Array>({
      start(ctrl) {
        if (drop) {
          ctrl.enqueue(part.slice(0, opts.dropAfter));
          // Erroring the body aborts the connection mid-transfer.
          setTimeout(() => ctrl.error(new Error("dropped on purpose")), 20);
        } else {
          ctrl.enqueue(part.slice());
          ctrl.close();
        }
      },
    });
    return new Response(stream, { status: start > 0 ? 206 : 200, headers });
  });
  const base = `http://127.0.0.1:${server.addr.port}`;
  return {
    base,
    log,
    gets: () => log.filter((l) => l.method === "GET"),
    close: () => server.shutdown(),
  };
}
