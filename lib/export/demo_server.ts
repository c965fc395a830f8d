/**
 * The browser demo's web server: a static page (`demo/index.html`), its script (`demo/app.ts`,
 * bundled for the browser with `deno bundle` at start, so the page runs the toolkit's own resize
 * and normalisation code), TensorFlow.js and its wasm backend straight from `node_modules`, the
 * bundled sample leaves, and the exported model folder. Nothing comes from a CDN; it binds to
 * 127.0.0.1 only.
 * @module
 */
import { extname, join } from "node:path";
import { UserError } from "../core/errors.ts";
import { exists } from "../core/fs.ts";

const DEMO = new URL("./demo/", import.meta.url).pathname;
const NODE_MODULES = new URL("../../node_modules/@tensorflow/", import.meta.url).pathname;
/** The toolkit's deno.json (import map), whatever the current directory. */
const CONFIG = new URL("../../deno.json", import.meta.url).pathname;

/** Files under `/vendor/`: name → path in node_modules. */
const VENDOR: Record<string, string> = {
  "tf.min.js": "tfjs/dist/tf.min.js",
  "tf-backend-wasm.min.js": "tfjs-backend-wasm/dist/tf-backend-wasm.min.js",
  "tfjs-backend-wasm.wasm": "tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm",
  "tfjs-backend-wasm-simd.wasm": "tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm",
  "tfjs-backend-wasm-threaded-simd.wasm":
    "tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm",
};

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".json": "application/json",
  ".bin": "application/octet-stream",
  ".wasm": "application/wasm",
  ".jpg": "image/jpeg",
  ".png": "image/png",
};

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
        "content-type": TYPES[extname(path)] ?? "application/octet-stream",
        "cache-control": "no-store",
      },
    });
  } catch {
    return new Response("not found", { status: 404 });
  }
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
  if (!(await exists(join(opts.modelDir, "model.json")))) {
    throw new UserError(`${opts.modelDir}: no model.json (export one with --format tfjs)`);
  }
  for (const [name, rel] of Object.entries(VENDOR)) {
    if (!(await exists(join(NODE_MODULES, rel)))) {
      throw new UserError(`node_modules lacks ${rel} (for /vendor/${name}); run \`deno install\``);
    }
  }
  const script = await bundleDemoScript();
  const safe = /^[\w.-]+$/;
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({ hostname: host, port: opts.port ?? 0, onListen() {} }, (req) => {
      const path = new URL(req.url).pathname;
      if (req.method !== "GET" && req.method !== "HEAD") {
        return new Response("method not allowed", { status: 405 });
      }
      if (path === "/" || path === "/index.html") return file(join(DEMO, "index.html"));
      if (path === "/app.js") {
        return new Response(script, { headers: { "content-type": TYPES[".js"] } });
      }
      const [, dir, name, ...rest] = path.split("/");
      if (rest.length || !name || !safe.test(name) || name.startsWith(".")) {
        return new Response("not found", { status: 404 });
      }
      if (dir === "vendor" && VENDOR[name]) return file(join(NODE_MODULES, VENDOR[name]));
      if (dir === "samples") return file(join(DEMO, "samples", name));
      if (dir === "model") return file(join(opts.modelDir, name));
      return new Response("not found", { status: 404 });
    });
  } catch (e) {
    if (e instanceof Deno.errors.AddrInUse) {
      throw new UserError(`--port ${opts.port}: already in use on ${host}`);
    }
    throw e;
  }
  const port = server.addr.port;
  return { url: `http://${host}:${port}/`, port, close: () => server.shutdown() };
}
