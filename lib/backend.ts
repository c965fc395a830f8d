/**
 * Backend selection: `--backend auto|native|tensorflow|webgpu|wasm|cpu` (or env `KD_BACKEND`).
 * `auto` prefers libtensorflow (tfjs-node-gpu), then a real (non-software) WebGPU
 * adapter, then the native oneDNN CPU path, then wasm with gradient kernels, then pure-JS cpu.
 * @module
 */
import * as tf from "./tf.ts";
import { UserError } from "./core/errors.ts";
import { holdLine } from "./core/held_line.ts";

/** Names accepted by `--backend` and `KD_BACKEND`. */
export const BACKEND_NAMES = ["auto", "native", "tensorflow", "webgpu", "wasm", "cpu"] as const;

/**
 * What {@linkcode initBackend} chose.
 *
 * @example Record the backend beside a benchmark's numbers
 * ```ts
 * import { type BackendChoice, initBackend } from "@kd/vision/train";
 *
 * const backend: BackendChoice = await initBackend("cpu", { quiet: true });
 * console.log({ backend: backend.name, device: backend.device, why: backend.reason });
 * ```
 */
export interface BackendChoice {
  /** The backend in effect: one of `BACKEND_NAMES` other than `auto`. */
  name: string;
  /** What it runs on, for people (e.g. "CPU (pure JS)", "WebGPU NVIDIA …"). */
  device: string;
  /** Why it was chosen: "requested", or `auto` and the candidates skipped, with their reasons. */
  reason: string;
}

/** Why a candidate backend is unavailable (a message meant for the user). */
class Unavailable extends Error {}

let current: BackendChoice | undefined;

const TF_NODE_HELP = "the tensorflow backend needs @tensorflow/tfjs-node-gpu (NVIDIA GPU with " +
  "CUDA 11.2 and cuDNN 8.1); its install script downloads " +
  "libtensorflow, which Deno only runs when allowed: `deno install " +
  '--allow-scripts=npm:@tensorflow/tfjs-node-gpu` (or `"allowScripts"` in deno.json)';

async function tryTensorflow(): Promise<BackendChoice> {
  const spec = "@tensorflow/tfjs-node-gpu";
  try {
    await import(spec);
  } catch (e) {
    throw new Unavailable(`${TF_NODE_HELP} (${String((e as Error).message ?? e).split("\n")[0]})`);
  }
  if (!(await tf.setBackend("tensorflow"))) {
    throw new Unavailable(`${TF_NODE_HELP} (${spec}: backend failed to initialise)`);
  }
  return {
    name: "tensorflow",
    device: "libtensorflow (CUDA GPU if visible)",
    reason: `${spec} loaded`,
  };
}

/** The WebGPU adapter Deno offers, or a reason why there is no usable (hardware) one. */
export async function probeWebGPU(): Promise<{ adapter: GPUAdapter; description: string }> {
  const gpu = (navigator as { gpu?: GPU }).gpu;
  if (!gpu) throw new Unavailable("navigator.gpu is not available in this Deno");
  const adapter = await gpu.requestAdapter();
  if (!adapter) throw new Unavailable("no WebGPU adapter");
  const info = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  const description = [info.vendor, info.architecture, info.device, info.description]
    .filter((s) => s && s !== "0").join(" ");
  const fallback = info.isFallbackAdapter ??
    (adapter as GPUAdapter & { isFallbackAdapter?: boolean }).isFallbackAdapter ?? false;
  if (fallback || /llvmpipe|lavapipe|swiftshader|software/i.test(description)) {
    throw new Unavailable(`WebGPU adapter is a software fallback (${description})`);
  }
  return { adapter, description };
}

/**
 * On Linux, the device node a hardware WebGPU adapter would sit on (a DRM render node, NVIDIA's
 * or WSL's), or null when there is none: then `auto` does not probe at all. Probing without one
 * loads only Mesa's software Vulkan (lavapipe) and its threads; with it loaded, about one process
 * in ten under load died with SIGSEGV at exit, after all output was written (a core showed a
 * worker thread in unmapped code); without the probe, none in 100 runs did.
 */
export function gpuDeviceNode(): string | null {
  if (Deno.build.os !== "linux") return "(not Linux: no device node to check)";
  const candidates = ["/dev/nvidia0", "/dev/dxg"];
  try {
    for (const e of Deno.readDirSync("/dev/dri")) {
      if (e.name.startsWith("renderD")) candidates.unshift(`/dev/dri/${e.name}`);
    }
  } catch { /* no /dev/dri */ }
  for (const path of candidates) {
    try {
      Deno.statSync(path);
      return path;
    } catch { /* absent */ }
  }
  return null;
}

async function tryWebGPU(allowSoftware: boolean): Promise<BackendChoice> {
  if (!allowSoftware && gpuDeviceNode() === null) {
    throw new Unavailable("no GPU device node (/dev/dri/renderD*, /dev/nvidia0, /dev/dxg)");
  }
  let description: string;
  try {
    description = (await probeWebGPU()).description;
  } catch (e) {
    if (!(allowSoftware && e instanceof Unavailable && /software/.test(e.message))) throw e;
    description = e.message.replace("WebGPU adapter is a ", "");
  }
  await import("@tensorflow/tfjs-backend-webgpu");
  if (!(await tf.setBackend("webgpu"))) throw new Unavailable("the webgpu backend failed to start");
  return { name: "webgpu", device: `WebGPU ${description}`, reason: "" };
}

async function tryNative(): Promise<BackendChoice> {
  const { registerNativeBackend } = await import("./backends/native/backend.ts");
  let device: string;
  try {
    device = registerNativeBackend();
  } catch (e) {
    throw new Unavailable((e as Error).message);
  }
  if (!(await tf.setBackend("native"))) throw new Unavailable("the native backend failed to start");
  return { name: "native", device, reason: "" };
}

async function tryWasm(): Promise<BackendChoice> {
  // Imported here, not at the top: importing it registers "wasm" as tfjs's preferred backend,
  // and until it is initialised every tensor op throws; so importing this module (as
  // createModel's does) must not register it.
  const { setWasmPaths } = await import("@tensorflow/tfjs-backend-wasm");
  setWasmPaths(
    new URL("../node_modules/@tensorflow/tfjs-backend-wasm/dist/", import.meta.url).href,
  );
  if (!(await tf.setBackend("wasm"))) throw new Unavailable("the wasm backend failed to start");
  const { registerWasmGradients } = await import("./backends/wasm_grads.ts");
  registerWasmGradients();
  return { name: "wasm", device: "CPU (WebAssembly SIMD, 1 thread)", reason: "" };
}

async function tryCpu(): Promise<BackendChoice> {
  await tf.setBackend("cpu");
  // The "install tfjs-node" banner is noise when cpu was chosen deliberately.
  (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
  return { name: "cpu", device: "CPU (pure JS)", reason: "" };
}

async function pickAuto(): Promise<BackendChoice> {
  const skipped: string[] = [];
  const candidates: [string, () => Promise<BackendChoice>][] = [
    ["tensorflow", tryTensorflow],
    ["webgpu", () => tryWebGPU(false)],
    ["native", tryNative],
    ["wasm", tryWasm],
  ];
  for (const [name, attempt] of candidates) {
    try {
      const choice = await attempt();
      choice.reason = skipped.length ? `auto; skipped ${skipped.join("; ")}` : "auto";
      return choice;
    } catch (e) {
      const msg = String((e as Error).message ?? e).split("\n")[0];
      skipped.push(`${name}: ${name === "tensorflow" ? "not installed" : msg}`);
    }
  }
  const choice = await tryCpu();
  choice.reason = `auto; skipped ${skipped.join("; ")}`;
  return choice;
}

/**
 * Initialise the requested backend (default: env `KD_BACKEND`, else auto) and say which in one line.
 *
 * @example The backend in effect (KD_BACKEND, else the best available)
 * ```ts
 * import { initBackend } from "@kd/vision/train";
 *
 * const backend = await initBackend(undefined, { quiet: true });
 * console.log(`${backend.name} on ${backend.device}`);
 * ```
 */
export async function initBackend(
  requested: string = Deno.env.get("KD_BACKEND") ?? "auto",
  opts: { quiet?: boolean; hold?: boolean } = {},
): Promise<BackendChoice> {
  if (current && (requested === "auto" || requested === current.name)) return current;
  if (!(BACKEND_NAMES as readonly string[]).includes(requested)) {
    throw new UserError(
      `unknown backend "${requested}" (--backend / KD_BACKEND); expected one of ${
        BACKEND_NAMES.join(", ")
      }`,
    );
  }
  tf.env().set("PROD", true);
  let choice: BackendChoice;
  if (requested === "auto") {
    choice = await pickAuto();
  } else {
    const attempts: Record<string, () => Promise<BackendChoice>> = {
      tensorflow: tryTensorflow,
      webgpu: () => tryWebGPU(true),
      native: tryNative,
      wasm: tryWasm,
      cpu: tryCpu,
    };
    try {
      choice = await attempts[requested]();
    } catch (e) {
      if (e instanceof Unavailable) throw new UserError(`--backend ${requested}: ${e.message}`);
      throw e;
    }
    choice.reason = "requested";
  }
  current = choice;
  if (!opts.quiet) {
    const line = `backend: ${choice.name} on ${choice.device} (${choice.reason})`;
    // A command holds it until it has more to say (see core/held_line.ts); a library call prints.
    if (opts.hold) holdLine(line);
    else console.error(line);
  }
  return choice;
}

/** The backend in effect, initialising the default choice (quietly) when none was picked yet. */
export async function ensureBackend(): Promise<BackendChoice> {
  return current ?? await initBackend(undefined, { quiet: true });
}
