/**
 * The `native` tfjs backend: a `MathBackendCPU` instance (tensors are plain JS typed arrays)
 * with every cpu kernel copied over and the hot ones replaced by oneDNN-backed kernels.
 * @module
 */
import * as tf from "../../tf.ts";
import { MathBackendCPU } from "@tensorflow/tfjs-backend-cpu";
import { ctx } from "./dnnl.ts";
import { keepFreedMemory } from "./malloc.ts";
import { nativeKernels } from "./kernels.ts";
import { fusedKernels } from "./fused.ts";
import { elementwiseKernels } from "./elementwise.ts";
import { fusedConvKernels } from "./fused_conv.ts";
import { activationKernels } from "./activations.ts";

/** Name under which the backend is registered with tfjs. */
export const NATIVE = "native";

let registered = false;

/** Number of OpenMP threads oneDNN will use (env `OMP_NUM_THREADS`, else all cores). */
export function nativeThreads(): number {
  const env = Number(Deno.env.get("OMP_NUM_THREADS"));
  return Number.isInteger(env) && env > 0 ? env : navigator.hardwareConcurrency;
}

/** Register the `native` backend (loads libdnnl; throws a clear Error when it is absent). Returns a device description. */
export function registerNativeBackend(): string {
  ctx();
  keepFreedMemory();
  const device = `CPU (oneDNN via FFI, ${nativeThreads()} threads)`;
  if (registered) return device;
  tf.registerBackend(NATIVE, () => {
    const b = new MathBackendCPU();
    // Silence tfjs's "install tfjs-node" banner: this backend is the fast path.
    (b as unknown as { firstUse: boolean }).firstUse = false;
    return b;
  }, 0);
  const overrides = new Map(
    [
      ...nativeKernels(),
      ...fusedKernels(),
      ...elementwiseKernels(),
      ...fusedConvKernels(),
      ...activationKernels(),
    ].map((
      k,
    ) => [k.name, k.fn]),
  );
  for (const k of tf.getKernelsForBackend("cpu")) {
    if (overrides.has(k.kernelName)) continue;
    tf.registerKernel({ ...k, backendName: NATIVE });
  }
  for (const [name, fn] of overrides) {
    tf.registerKernel({ kernelName: name, backendName: NATIVE, kernelFunc: fn as tf.KernelFunc });
  }
  registered = true;
  return device;
}

/** Names of the kernels the native backend runs through oneDNN (the rest are tfjs cpu kernels). */
export function nativeKernelNames(): string[] {
  return [
    ...nativeKernels(),
    ...fusedKernels(),
    ...elementwiseKernels(),
    ...fusedConvKernels(),
    ...activationKernels(),
  ]
    .map((k) => k.name);
}
