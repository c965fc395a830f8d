/**
 * Progress reporting for long loops: one self-updating line on a terminal, plain lines every
 * few seconds otherwise (logs, CI, notebooks), always with rate and ETA.
 * @module
 */

/** Format seconds as `1h02m`, `3m05s` or `12s`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  const s = Math.round(seconds);
  if (s >= 3600) {
    return `${Math.floor(s / 3600)}h${String(Math.floor(s / 60) % 60).padStart(2, "0")}m`;
  }
  if (s >= 60) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${s}s`;
}

/** Options of {@linkcode Progress}. */
export interface ProgressOptions {
  /** Units per step for the rate (e.g. images per batch); default 1. */
  unit?: string;
  /** Minimum seconds between plain (non-TTY) lines. */
  plainEvery?: number;
  /** Where lines go; default stderr. Return value ignored. */
  write?: (line: string, final: boolean) => void;
  /** Force TTY-style or plain output (default: detect stderr). */
  tty?: boolean;
}

/** A progress meter over `total` items of work. */
export class Progress {
  #start = performance.now();
  #lastPlain = 0;
  #tty: boolean;
  #write: (line: string, final: boolean) => void;
  #done = 0;

  constructor(readonly label: string, readonly total: number, readonly opts: ProgressOptions = {}) {
    this.#tty = opts.tty ?? Deno.stderr.isTerminal();
    const enc = new TextEncoder();
    this.#write = opts.write ?? ((line, final) => {
      if (this.#tty) Deno.stderr.writeSync(enc.encode(`\r\x1b[2K${line}${final ? "\n" : ""}`));
      else Deno.stderr.writeSync(enc.encode(line + "\n"));
    });
  }

  /** Items done per second so far. */
  get rate(): number {
    return this.#done / Math.max(1e-9, (performance.now() - this.#start) / 1000);
  }

  /** Seconds since the meter started. */
  get elapsed(): number {
    return (performance.now() - this.#start) / 1000;
  }

  /** Record that `done` items are finished, with an optional extra note (e.g. the loss). */
  update(done: number, note = ""): void {
    this.#done = done;
    const now = performance.now();
    const final = done >= this.total;
    if (!this.#tty && !final && now - this.#lastPlain < (this.opts.plainEvery ?? 5) * 1000) return;
    this.#lastPlain = now;
    const rate = this.rate;
    const eta = (this.total - done) / Math.max(rate, 1e-9);
    const unit = this.opts.unit ?? "it";
    this.#write(
      `${this.label} ${done}/${this.total} ${note}${note ? " " : ""}${rate.toFixed(1)} ${unit}/s ` +
        `elapsed ${formatDuration(this.elapsed)} ETA ${formatDuration(final ? 0 : eta)}`,
      final,
    );
  }
}
