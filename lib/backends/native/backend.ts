/**
 * The `native` tfjs backend: a `MathBackendCPU` instance (tensors are plain JS typed arrays)
 * with every cpu kernel copied over and the hot ones replaced by oneDNN-backed kernels.
 * @module
 */
import { cpuThreads } from "../../core/threads.ts";
import * as tf from "../../tf.ts";
import { MathBackendCPU } from "@tensorflow/tfjs-backend-cpu";
import { initDnnl } from "./dnnl.ts";
import { keepFreedMemory } from "./malloc.ts";
import { nativeKernels } from "./kernels.ts";
import { convKernels } from "./conv.ts";
import { bnTrainGradient, fusedKernels } from "./fused.ts";
import { elementwiseKernels } from "./elementwise.ts";
import { fusedConvKernels } from "./fused_conv.ts";
import { activationKernels } from "./activations.ts";
import { convBNGradient, convBNKernels } from "./conv_bn.ts";
import { cnnGraphKernel } from "./inference.ts";
import { encoderKernel } from "./transformer.ts";
import { trainGraphGradient, trainGraphKernels } from "./train_program.ts";
import { BufferPool } from "./pool.ts";

type DataId = Parameters<MathBackendCPU["disposeData"]>[0];

/** Bytes of free buffers the pool may hold (env `KD_NATIVE_POOL_MB`, default 4096). */
function poolCapBytes(): number {
  const mb = Number(Deno.env.get("KD_NATIVE_POOL_MB"));
  return (Number.isFinite(mb) && mb >= 0 ? mb : 4096) * 2 ** 20;
}

/**
 * The cpu backend with recycled output buffers: native kernels allocate from {@linkcode pool},
 * and a disposed tensor's buffer goes back to it. Reads hand out copies of pooled buffers, so
 * an array obtained with `dataSync()` never changes under its holder after a dispose.
 */
export class NativeBackend extends MathBackendCPU {
  readonly pool = new BufferPool(poolCapBytes());

  override readSync(dataId: DataId): tf.BackendValues {
    const values = this.data.get(dataId)?.values;
    if (this.pool.owns(values)) return values.slice();
    return super.readSync(dataId);
  }

  override disposeData(dataId: DataId, force = false): boolean {
    const values = this.data.get(dataId)?.values;
    const released = super.disposeData(dataId, force);
    if (released && this.pool.owns(values) && !this.data.has(dataId)) this.pool.release(values);
    return released;
  }
}

/** Name under which the backend is registered with tfjs. */
export const NATIVE = "native";

let registered = false;

/**
 * Register the `native` backend with its kernels and gradients (loads libdnnl; throws a clear
 * Error when it is absent). Returns a device description.
 */
export function registerNativeBackend(): string {
  initDnnl();
  keepFreedMemory();
  const device = `CPU (oneDNN via FFI, ${cpuThreads()} threads)`;
  if (registered) return device;
  tf.registerBackend(NATIVE, () => {
    const b = new NativeBackend();
    // Silence tfjs's "install tfjs-node" banner: this backend is the fast path.
    (b as unknown as { firstUse: boolean }).firstUse = false;
    return b;
  }, 0);
  registerKernels();
  registered = true;
  return device;
}

/**
 * Every cpu kernel under the `native` name, with the oneDNN and loop kernels in place of the hot
 * ones, and the gradients of the fused kernels (global in tfjs; they only run on `native`).
 */
function registerKernels(): void {
  const overrides = new Map(
    [
      ...nativeKernels(),
      ...convKernels(),
      ...fusedKernels(),
      ...elementwiseKernels(),
      ...fusedConvKernels(),
      ...activationKernels(),
      ...convBNKernels(),
      cnnGraphKernel(),
      encoderKernel(),
      ...trainGraphKernels(),
    ].map((k) => [k.name, k.fn]),
  );
  for (const k of tf.getKernelsForBackend("cpu")) {
    if (overrides.has(k.kernelName)) continue;
    tf.registerKernel({ ...k, backendName: NATIVE });
  }
  for (const [name, fn] of overrides) {
    tf.registerKernel({ kernelName: name, backendName: NATIVE, kernelFunc: fn as tf.KernelFunc });
  }
  for (const g of [bnTrainGradient, convBNGradient, trainGraphGradient]) tf.registerGradient(g);
}
