/**
 * Seeded randomness for shuffling and augmentation, so a run is reproducible from its seed.
 * @module
 */

/** Mulberry32: a tiny, fast 32-bit PRNG returning floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Combine a seed with further integers (epoch, worker...) into one well-mixed 32-bit seed. */
export function mixSeed(seed: number, ...parts: number[]): number {
  // murmur3 finaliser per part: nearby (seed, epoch) pairs give unrelated streams.
  let h = seed >>> 0;
  for (const p of parts) {
    h ^= Math.imul((p >>> 0) + 0x9e3779b9, 0x85ebca6b);
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}

/** Fisher-Yates shuffle of `arr` in place using `rng`. */
export function shuffleInPlace<T extends { length: number; [i: number]: unknown }>(
  arr: T,
  rng: () => number,
): T {
  for (let i = arr.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const t = arr[i];
    arr[i] = arr[j];
    arr[j] = t;
  }
  return arr;
}
