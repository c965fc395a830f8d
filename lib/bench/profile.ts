/**
 * Per-kernel wall time of a stretch of work: every kernel registered on the active backend is
 * wrapped with a timer (then restored), so `bench train --kernel-times` shows where a step goes.
 * Kernels called from inside other kernels count in both; the sum can exceed the total.
 * @module
 */
import * as tf from "../tf.ts";

/** Milliseconds and calls per kernel name. */
export type KernelProfile = Record<string, { ms: number; calls: number }>;

/** Time every kernel of the active backend from now on; the returned function stops and reports. */
export function startKernelProfile(): () => KernelProfile {
  const backend = tf.getBackend();
  const originals = tf.getKernelsForBackend(backend);
  const out: KernelProfile = {};
  const swap = (configs: tf.KernelConfig[]) => {
    // tfjs warns on re-registration; quiet for the swap.
    const warn = console.warn;
    console.warn = () => {};
    try {
      for (const k of configs) {
        tf.unregisterKernel(k.kernelName, backend);
        tf.registerKernel(k);
      }
    } finally {
      console.warn = warn;
    }
  };
  swap(originals.map((k) => ({
    ...k,
    kernelFunc: (args: Parameters<tf.KernelFunc>[0]) => {
      const t0 = performance.now();
      const r = k.kernelFunc(args);
      const e = out[k.kernelName] ??= { ms: 0, calls: 0 };
      e.ms += performance.now() - t0;
      e.calls++;
      return r;
    },
  })));
  return () => {
    swap(originals);
    return out;
  };
}
