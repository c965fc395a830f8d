/**
 * Recycled float32 buffers for the `native` backend's kernel outputs. A training step allocates
 * the same few hundred activation-sized arrays every time; `new Float32Array(n)` zero-fills each
 * (and page-faults it in when the heap has no free chunk), which measured as costly as the
 * batch-norm pass writing it. Buffers of disposed tensors go back to a free list by exact length
 * and the next kernel needing that length takes one, unzeroed: every native kernel overwrites
 * its whole output.
 * @module
 */

/** Arrays smaller than this are cheap to allocate and are not pooled. */
const MIN_POOLED = 1024;

/** Free-list counters (for tests: they stay flat across identical steps). */
export interface PoolStats {
  /** Buffers waiting in the free lists and their bytes. */
  freeBuffers: number;
  freeBytes: number;
  /** Buffers handed out since creation that were fresh allocations. */
  fresh: number;
  /** Buffers handed out that were recycled. */
  reused: number;
}

/** A free list of float32 arrays keyed by length, capped in total bytes. */
export class BufferPool {
  #free = new Map<number, Float32Array[]>();
  #owned = new WeakSet<Float32Array>();
  #freeBytes = 0;
  #fresh = 0;
  #reused = 0;
  readonly capBytes: number;

  constructor(capBytes: number) {
    this.capBytes = capBytes;
  }

  /** A float32 array of `n` elements with arbitrary contents (the caller overwrites it all). */
  alloc(n: number): Float32Array {
    if (n < MIN_POOLED) return new Float32Array(n);
    const list = this.#free.get(n);
    const a = list?.pop();
    if (a) {
      this.#freeBytes -= a.byteLength;
      this.#reused++;
      return a;
    }
    const fresh = new Float32Array(n);
    this.#owned.add(fresh);
    this.#fresh++;
    return fresh;
  }

  /** Whether `a` came from {@linkcode alloc} (only such arrays are ever recycled). */
  owns(a: unknown): a is Float32Array {
    return a instanceof Float32Array && this.#owned.has(a);
  }

  /** Return an array from {@linkcode alloc} that nothing references any more. */
  release(a: Float32Array): void {
    if (!this.#owned.has(a)) return;
    // Over the cap (a new working set, e.g. evaluation after training): start the lists afresh.
    if (this.#freeBytes + a.byteLength > this.capBytes) this.clear();
    if (a.byteLength > this.capBytes) return;
    let list = this.#free.get(a.length);
    if (!list) this.#free.set(a.length, list = []);
    list.push(a);
    this.#freeBytes += a.byteLength;
  }

  /** Drop every free buffer (e.g. after a change of batch shape). */
  clear(): void {
    this.#free.clear();
    this.#freeBytes = 0;
  }

  /** Counters of the free lists. */
  stats(): PoolStats {
    let freeBuffers = 0;
    for (const l of this.#free.values()) freeBuffers += l.length;
    return { freeBuffers, freeBytes: this.#freeBytes, fresh: this.#fresh, reused: this.#reused };
  }
}
