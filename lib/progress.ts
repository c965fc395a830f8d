/**
 * Progress lines on stderr (done/total, rate, ETA) for work that takes more than a second.
 * On a terminal the line is redrawn in place; otherwise a line is written every few seconds.
 * @module
 */

import { flushHeldLine } from "./core/held_line.ts";

const enc = new TextEncoder();

/** Format seconds as `12s`, `3m05s` or `1h02m`. */
export function formatDuration(s: number): string {
  if (!isFinite(s)) return "?";
  if (s < 60) return `${Math.ceil(s)}s`;
  const m = Math.floor(s / 60);
  return m < 60
    ? `${m}m${String(Math.round(s % 60)).padStart(2, "0")}s`
    : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}

function fmtBytes(n: number): string {
  const units = ["B", "kB", "MB", "GB"];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

/** Options for {@linkcode Progress}. */
export interface ProgressOptions {
  /** Unit of work: "img" (counts) or "bytes" (sizes and MB/s). */
  unit?: "img" | "bytes" | string;
  /** Say nothing. */
  quiet?: boolean;
  /** Only start printing after this long (ms). */
  delayMs?: number;
}

/** A progress reporter for `total` units of work labelled `label`. */
export class Progress {
  #start = performance.now();
  #last = -Infinity;
  #done = 0;
  #printed = false;
  #note = "";
  #tty = Deno.stderr.isTerminal();
  readonly #unit: string;
  readonly #quiet: boolean;
  readonly #delay: number;

  constructor(readonly label: string, public total: number, opts: ProgressOptions = {}) {
    this.#unit = opts.unit ?? "img";
    this.#quiet = opts.quiet ?? false;
    this.#delay = opts.delayMs ?? 1000;
  }

  /** Record `n` more units done (with an optional note such as the current loss). */
  tick(n = 1, note?: string): void {
    this.update(this.#done + n, note);
  }

  /** Record that `done` units are done in total (with an optional note such as the current loss). */
  update(done: number, note?: string): void {
    this.#done = done;
    if (note !== undefined) this.#note = note;
    if (this.#quiet) return;
    const now = performance.now();
    if (now - this.#start < this.#delay) return;
    if (now - this.#last < (this.#tty ? 200 : 5000)) return;
    this.#last = now;
    this.#write(false);
  }

  /** Finish: print a final line if anything was printed before. */
  finish(): void {
    if (!this.#quiet && this.#printed) this.#write(true);
  }

  /** Units per second so far. */
  get rate(): number {
    return this.#done / Math.max(1e-9, (performance.now() - this.#start) / 1000);
  }

  #write(final: boolean): void {
    const secs = (performance.now() - this.#start) / 1000;
    const rate = this.rate;
    const bytes = this.#unit === "bytes";
    const amount = bytes
      ? `${fmtBytes(this.#done)}${this.total ? `/${fmtBytes(this.total)}` : ""}`
      : `${this.#done}${this.total ? `/${this.total}` : ""}`;
    const pct = this.total ? ` (${Math.floor((100 * this.#done) / this.total)}%)` : "";
    const speed = bytes
      ? `${fmtBytes(rate)}/s`
      : `${rate.toFixed(rate < 10 ? 1 : 0)} ${this.#unit}/s`;
    const tail = final
      ? `in ${formatDuration(secs)}`
      : this.total
      ? `ETA ${formatDuration((this.total - this.#done) / Math.max(rate, 1e-9))}`
      : "";
    const note = this.#note ? ` ${this.#note}` : "";
    const line = `${this.label}: ${amount}${pct}${note} ${speed} ${tail}`;
    this.#printed = true;
    flushHeldLine();
    Deno.stderr.writeSync(
      enc.encode(this.#tty ? `\r\x1b[K${line}${final ? "\n" : ""}` : `${line}\n`),
    );
  }
}
