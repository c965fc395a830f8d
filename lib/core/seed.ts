/**
 * Run-level determinism. tfjs draws an unseeded `Math.random()` for every initializer and
 * dropout mask, so replacing `Math.random` with a seeded stream makes weight init and dropout
 * a pure function of (seed, epoch): a resumed run replays exactly what an uninterrupted one did.
 * @module
 */
import { mixSeed, mulberry32 } from "./rng.ts";

const systemRandom = Math.random;

/** Route `Math.random` through a PRNG seeded from `seed` and any further integers (e.g. epoch). */
export function reseedGlobalRandom(seed: number, ...parts: number[]): void {
  Math.random = mulberry32(mixSeed(seed, ...parts));
}

/** Give `Math.random` back its system source. */
export function restoreGlobalRandom(): void {
  Math.random = systemRandom;
}
