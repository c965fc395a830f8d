/**
 * The browser demo's web server: a static page (`demo/index.html`), its script (`demo/app.ts`,
 * bundled for the browser with `deno bundle` at start, so the page runs the toolkit's own resize
 * and normalisation code), TensorFlow.js and its wasm backend straight from `node_modules`, the
 * bundled sample leaves, and the exported model folder. Nothing comes from a CDN; it binds to
 * 127.0.0.1 only, and serves only regular files that resolve into its own folders.
 * @module
 */
import { dirname, extname, join } from "node:path";
import { UserError } from "../core/errors.ts";
import { exists, readJson } from "../core/fs.ts";

const DEMO = new URL("./demo/", import.meta.url).pathname;
const NODE_MODULES = new URL("../../node_modules/@tensorflow/", import.meta.url).pathname;
/** The toolkit's deno.json (import map), whatever the current directory. */
const CONFIG = new URL("../../deno.json", import.meta.url).pathname;

/**
 * Files under `/vendor/`: name → path in node_modules. Maps, not object literals: a request for
 * `/vendor/constructor` must find nothing rather than `Object.prototype`'s members.
 */
const VENDOR = new Map<string, string>([
  ["tf.min.js", "tfjs/dist/tf.min.js"],
  ["tf-backend-wasm.min.js", "tfjs-backend-wasm/dist/tf-backend-wasm.min.js"],
  ["tfjs-backend-wasm.wasm", "tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm"],
  ["tfjs-backend-wasm-simd.wasm", "tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm"],
  [
    "tfjs-backend-wasm-threaded-simd.wasm",
    "tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm",
  ],
]);

const TYPES = new Map<string, string>([
  [".html", "text/html; charset=utf-8"],
  [".js", "text/javascript; charset=utf-8"],
  [".json", "application/json"],
  [".bin", "application/octet-stream"],
  [".wasm", "application/wasm"],
  [".jpg", "image/jpeg"],
  [".png", "image/png"],
]);

const NOT_FOUND = () => new Response("not found", { status: 404 });

/** The loopback host the demo binds to (the only one accepted). */
export const DEMO_HOST = "127.0.0.1";

/** Options of {@linkcode startDemoServer}. */
export interface DemoServerOptions {
  /** A tfjs export folder (`model.json` + shards). */
  modelDir: string;
  /** Port (default: a free one). */
  port?: number;
  host?: string;
}

/** A running demo server. */
export interface DemoServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** The page script: `demo/app.ts` and the toolkit modules it imports, bundled for browsers. */
export async function bundleDemoScript(): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "bundle",
      "--quiet",
      "--config",
      CONFIG,
      "--platform",
      "browser",
      "--format",
      "esm",
      join(DEMO, "app.ts"),
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success || !text.includes("kdDemo")) {
    const err = new TextDecoder().decode(out.stderr).trim().split("\n").slice(-3).join("; ");
    throw new UserError(`cannot bundle the demo page script with \`deno bundle\`: ${err}`);
  }
  return text;
}

async function file(path: string): Promise<Response> {
  try {
    const body = await Deno.readFile(path);
    return new Response(body, {
      headers: {
        "content-type": TYPES.get(extname(path)) ?? "application/octet-stream",
        "cache-control": "no-store",
      },
    });
  } catch {
    return NOT_FOUND();
  }
}

/**
 * `name` in the folder `realRoot` (already resolved), served only when it resolves to a regular
 * file directly in that folder: a symlink in an export folder (`passwd` → `/etc/passwd`) is 404.
 */
async function confinedFile(realRoot: string, name: string): Promise<Response> {
  let real: string;
  try {
    real = await Deno.realPath(join(realRoot, name));
    if (dirname(real) !== realRoot || !(await Deno.stat(real)).isFile) return NOT_FOUND();
  } catch {
    return NOT_FOUND();
  }
  return file(real);
}

/** Start the server (see the module doc); bad options throw a UserError naming the flag. */
export async function startDemoServer(opts: DemoServerOptions): Promise<DemoServer> {
  const host = opts.host ?? DEMO_HOST;
  if (host !== DEMO_HOST) {
    throw new UserError(
      `--host must be ${DEMO_HOST}: the demo serves local files on loopback only`,
    );
  }
  if (
    opts.port !== undefined && !(Number.isInteger(opts.port) && opts.port >= 0 && opts.port < 65536)
  ) {
    throw new UserError(`--port must be an integer in 0..65535, got ${opts.port}`);
  }
  const modelJson = join(opts.modelDir, "model.json");
  if (!(await exists(modelJson))) {
    throw new UserError(`${opts.modelDir}: no model.json (export one with --format tfjs)`);
  }
  // Checked here, not in the page: a broken file there was an "Uncaught … in the page".
  const mj = await readJson<
    { modelTopology?: unknown; userDefinedMetadata?: { preprocessing?: { size?: unknown } } } | null
  >(modelJson);
  if (!mj?.modelTopology || !Number.isInteger(mj.userDefinedMetadata?.preprocessing?.size)) {
    throw new UserError(
      `${modelJson}: not a tfjs export of this toolkit (needs modelTopology and ` +
        `userDefinedMetadata.preprocessing.size; export one with --format tfjs)`,
    );
  }
  for (const [name, rel] of VENDOR) {
    if (!(await exists(join(NODE_MODULES, rel)))) {
      throw new UserError(`node_modules lacks ${rel} (for /vendor/${name}); run \`deno install\``);
    }
  }
  const script = await bundleDemoScript();
  const modelRoot = await Deno.realPath(opts.modelDir);
  const samplesRoot = await Deno.realPath(join(DEMO, "samples"));
  const safe = /^[\w.-]+$/;
  const route = (req: Request): Response | Promise<Response> => {
    const path = new URL(req.url).pathname;
    if (req.method !== "GET" && req.method !== "HEAD") {
      return new Response("method not allowed", { status: 405 });
    }
    if (path === "/" || path === "/index.html") return file(join(DEMO, "index.html"));
    if (path === "/app.js") {
      return new Response(script, { headers: { "content-type": TYPES.get(".js")! } });
    }
    const [, dir, name, ...rest] = path.split("/");
    if (rest.length || !name || !safe.test(name) || name.startsWith(".")) return NOT_FOUND();
    const vendored = dir === "vendor" ? VENDOR.get(name) : undefined;
    if (vendored) return file(join(NODE_MODULES, vendored));
    if (dir === "samples") return confinedFile(samplesRoot, name);
    if (dir === "model") return confinedFile(modelRoot, name);
    return NOT_FOUND();
  };
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({
      hostname: host,
      port: opts.port ?? 0,
      onListen() {},
      // Whatever slips through is one log line and a bare 500: no stack trace, nothing leaked.
      onError(e) {
        console.error(`demo server: ${(e as Error)?.message ?? e}`.split("\n")[0]);
        return new Response("internal error", { status: 500 });
      },
    }, route);
  } catch (e) {
    if (e instanceof Deno.errors.AddrInUse) {
      throw new UserError(`--port ${opts.port}: already in use on ${host}`);
    }
    throw e;
  }
  const port = server.addr.port;
  return { url: `http://${host}:${port}/`, port, close: () => server.shutdown() };
}
