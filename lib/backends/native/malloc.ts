/**
 * Keep freed tensor memory inside the process. glibc serves big allocations with fresh `mmap`s
 * and unmaps them on free, so every training step page-faults (and the kernel zeroes) gigabytes
 * of activations again: at 224 px that system time exceeded the compute. `mallopt` via FFI lets
 * the heap keep and reuse those pages instead.
 * @module
 */

const M_TRIM_THRESHOLD = -1;
const M_MMAP_MAX = -4;

let tuned: boolean | undefined;

/** Disable mmap-backed allocations and heap trimming (glibc only; a no-op elsewhere). Idempotent. */
export function keepFreedMemory(): boolean {
  if (tuned !== undefined) return tuned;
  tuned = false;
  if (Deno.build.os !== "linux" || Deno.env.get("KD_NATIVE_MALLOC") === "default") return tuned;
  try {
    const libc = Deno.dlopen("libc.so.6", {
      mallopt: { parameters: ["i32", "i32"], result: "i32" },
    });
    tuned = libc.symbols.mallopt(M_MMAP_MAX, 0) === 1 &&
      libc.symbols.mallopt(M_TRIM_THRESHOLD, 0x7fffffff) === 1;
  } catch {
    // not glibc: leave the allocator alone
  }
  return tuned;
}
