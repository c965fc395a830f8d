import { test } from "./permissions.ts";
import { assert, assertEquals, assertRejects, assertStringIncludes } from "@std/assert";
import { BACKEND_NAMES, initBackend } from "../lib/backend.ts";
import { UserError } from "../lib/core/errors.ts";
import * as tf from "../lib/tf.ts";

// initBackend caches its choice, so each case runs in a fresh process.
async function choose(args: string[], env: Record<string, string> = {}) {
  const code = `import { initBackend } from "${new URL("../lib/backend.ts", import.meta.url).href}";
    const c = await initBackend(${args.length ? JSON.stringify(args[0]) : ""});
    console.log(JSON.stringify(c));`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-check", code],
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout).trim().split("\n");
  return {
    ok: out.success,
    choice: out.success ? JSON.parse(stdout[stdout.length - 1]) : undefined,
    stderr: new TextDecoder().decode(out.stderr),
  };
}

test("cpu is selected when requested, with one line on stderr", async () => {
  const r = await choose(["cpu"]);
  assert(r.ok, r.stderr);
  assertEquals(r.choice.name, "cpu");
  assertEquals(r.choice.reason, "requested");
  const lines = r.stderr.split("\n").filter((l) => l.startsWith("backend:"));
  assertEquals(lines.length, 1);
  assertStringIncludes(lines[0], "backend: cpu");
});

test("wasm is selected via KD_BACKEND and has the training gradient kernels", async () => {
  const r = await choose([], { KD_BACKEND: "wasm" });
  assert(r.ok, r.stderr);
  assertEquals(r.choice.name, "wasm");
  await initBackend("wasm", { quiet: true });
  assertEquals(tf.getBackend(), "wasm");
  assert(tf.getKernel("Conv2DBackpropFilter", "wasm"));
});

test("auto picks a backend and says why", async () => {
  const r = await choose(["auto"]);
  assert(r.ok, r.stderr);
  assert(["tensorflow", "webgpu", "native", "wasm", "cpu"].includes(r.choice.name));
  assertStringIncludes(r.choice.reason, "auto");
  // tfjs-node(-gpu) is not installed in this environment's CI, so auto must have skipped it.
  if (r.choice.name !== "tensorflow") assertStringIncludes(r.choice.reason, "tensorflow");
});

Deno.test("an unknown backend name is a UserError listing the valid names", async () => {
  const e = await assertRejects(() => initBackend("tpu", { quiet: true }), UserError);
  for (const name of BACKEND_NAMES) assertStringIncludes(e.message, name);
  assertStringIncludes(e.message, '"tpu"');
});

Deno.test("a missing tfjs-node-gpu is a UserError explaining CUDA and allow-scripts", async () => {
  let installed = true;
  try {
    await import("@tensorflow/tfjs-node-gpu");
  } catch {
    installed = false;
  }
  if (installed) return; // a machine with libtensorflow: nothing to report
  const e = await assertRejects(() => initBackend("tensorflow", { quiet: true }), UserError);
  assertStringIncludes(e.message, "CUDA 11.2");
  assertStringIncludes(e.message, "cuDNN 8.1");
  assertStringIncludes(e.message, "--allow-scripts=npm:@tensorflow/tfjs-node-gpu");
  assert(!e.message.includes("\n    at "), "no stack trace in the message");
});

test("auto falls back to wasm, naming the package, when oneDNN cannot be loaded", async () => {
  const r = await choose(["auto"], { KD_DNNL_LIB: "/nonexistent/libdnnl.so.2" });
  assert(r.ok, r.stderr);
  // A machine with libtensorflow or a hardware GPU legitimately picks those first.
  if (r.choice.name === "tensorflow" || r.choice.name === "webgpu") return;
  assertEquals(r.choice.name, "wasm");
  assertStringIncludes(r.choice.reason, "native: oneDNN (/nonexistent/libdnnl.so.2) not found");
  assertStringIncludes(r.choice.reason, "libdnnl2");
});

test("--backend native without oneDNN is a one-line UserError naming the package", async () => {
  const r = await choose(["native"], { KD_DNNL_LIB: "/nonexistent/libdnnl.so.2" });
  assert(!r.ok);
  assertStringIncludes(r.stderr, "--backend native: oneDNN");
  assertStringIncludes(r.stderr, "apt-get install libdnnl2");
});

test("without a GPU device node, auto does not load a Vulkan driver (no software adapter probe)", async () => {
  const { gpuDeviceNode } = await import("../lib/backend.ts");
  if (gpuDeviceNode() !== null) return; // a GPU machine: probing is right there
  const r = await choose(["auto"]);
  assert(r.ok, r.stderr);
  assertStringIncludes(r.choice.reason, "webgpu: no GPU device node");
  // Mesa's lavapipe, once loaded, complains about XDG_RUNTIME_DIR and leaves threads that could
  // crash the process at exit; nothing of it may appear.
  assert(!/XDG_RUNTIME_DIR|llvmpipe|lavapipe/.test(r.stderr), r.stderr);
});
