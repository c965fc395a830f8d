/**
 * How many threads CPU kernels may use: `OMP_NUM_THREADS` (what oneDNN's OpenMP runtime reads)
 * when set to a positive whole number, else every core. Shared by the native backend, which
 * reports it, and a sweep's jobs, which divide it between processes.
 * @module
 */

/** `OMP_NUM_THREADS` if it is a positive whole number, else `navigator.hardwareConcurrency`. */
export function cpuThreads(): number {
  const env = Number(Deno.env.get("OMP_NUM_THREADS"));
  return Number.isInteger(env) && env > 0 ? env : navigator.hardwareConcurrency;
}
