/**
 * Backend selection. Minimal first version (cpu, wasm); the backends helper extends it
 * with tensorflow, webgpu and the native CPU path.
 * @module
 */
import * as tf from "./tf.ts";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import { UserError } from "./cli/errors.ts";

/** Names accepted by `--backend` and `KD_BACKEND`. */
export type BackendName = "auto" | "tensorflow" | "webgpu" | "wasm" | "cpu";

/** What {@linkcode initBackend} chose. */
export interface BackendChoice {
  name: string;
  device: string;
  reason: string;
}

let current: BackendChoice | undefined;

/** Initialise the requested backend (default: env `KD_BACKEND`, else auto) and say which in one line. */
export async function initBackend(
  requested: string = Deno.env.get("KD_BACKEND") ?? "auto",
  opts: { quiet?: boolean } = {},
): Promise<BackendChoice> {
  if (current && (requested === "auto" || requested === current.name)) return current;
  tf.env().set("PROD", true);
  let choice: BackendChoice;
  if (requested === "cpu") {
    await tf.setBackend("cpu");
    choice = { name: "cpu", device: "CPU (pure JS)", reason: "requested" };
  } else if (requested === "wasm" || requested === "auto") {
    setWasmPaths(
      new URL("../node_modules/@tensorflow/tfjs-backend-wasm/dist/", import.meta.url).href,
    );
    if (!(await tf.setBackend("wasm"))) {
      throw new UserError("the wasm backend failed to initialise");
    }
    choice = {
      name: "wasm",
      device: "CPU (WebAssembly SIMD)",
      reason: requested === "auto" ? "auto: fallback" : "requested",
    };
  } else {
    throw new UserError(
      `unknown backend "${requested}"; expected auto, tensorflow, webgpu, wasm or cpu`,
    );
  }
  current = choice;
  if (!opts.quiet) console.error(`backend: ${choice.name} on ${choice.device} (${choice.reason})`);
  return choice;
}
