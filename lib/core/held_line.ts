/**
 * One stderr line held back until the command has something else to say: the `backend: …` line
 * every command starts with. Printed before the first progress or log line (so it still comes
 * first), or when the command succeeds; dropped when it fails, so a bad flag is one error line.
 * @module
 */

let held: string | undefined;

/** Hold `line` (replacing any held one). */
export function holdLine(line: string): void {
  held = line;
}

/** Print the held line now, if any. */
export function flushHeldLine(): void {
  if (held === undefined) return;
  const line = held;
  held = undefined;
  Deno.stderr.writeSync(new TextEncoder().encode(`${line}\n`));
}

/** Forget the held line. */
export function dropHeldLine(): void {
  held = undefined;
}
