/**
 * The toolkit's one error type for bad input: its message is meant for the user as is.
 * Commands turn it into one line on stderr and exit status 2 (see `lib/cli/command.ts`).
 * @module
 */

/**
 * An error whose message is meant for the user as is (no stack trace shown).
 *
 * @example Bad input is a UserError: one line for the user, no stack trace
 * ```ts
 * import { presetRecipe, UserError } from "@kd/vision";
 * import { assertThrows } from "@std/assert";
 *
 * assertThrows(() => presetRecipe("no-such-preset"), UserError);
 * ```
 */
export class UserError extends Error {
  /** Always "UserError": what `String(err)` shows, and a check that holds where `instanceof` cannot. */
  override name = "UserError";
  /** A way out through a command-line flag, added to the message by commands that have it. */
  readonly hint?: FlagHint;

  /** `message` is complete without `opts.hint`, which only a command with its flag adds. */
  constructor(message: string, opts: { hint?: FlagHint } = {}) {
    super(message);
    if (opts.hint) this.hint = opts.hint;
  }
}

/**
 * A fix that names a flag, e.g. `--skip-bad-images`. The library cannot know which command
 * called it, so it never names a flag in the message itself: `runCommand` appends `text` only
 * for a command that has `flag`, else `otherwise` (a fix every command allows), so no error
 * line names a flag the command lacks.
 *
 * @example A library error whose fix is a flag only some commands have
 * ```ts
 * import { type FlagHint, UserError } from "@kd/vision";
 * import { assertEquals } from "@std/assert";
 *
 * const hint: FlagHint = {
 *   flag: "skip-bad-images",
 *   text: "use --skip-bad-images to leave such rows out",
 *   otherwise: "remove the row from the file",
 * };
 * const e = new UserError("train.parquet: row 7 is not an image", { hint });
 * assertEquals(e.message, "train.parquet: row 7 is not an image"); // the hint is the command's to add
 * ```
 */
export interface FlagHint {
  /** The flag, without dashes, e.g. "skip-bad-images". */
  flag: string;
  /** What to do with the flag, e.g. "use --skip-bad-images to leave such rows out". */
  text: string;
  /** What to say where the command lacks the flag (nothing when absent). */
  otherwise?: string;
}

/**
 * What a caller can add to an error: text to append as is, or a {@linkcode FlagHint}.
 *
 * @example Both kinds
 * ```ts
 * import type { Hint } from "@kd/vision";
 *
 * const always: Hint = "download it first with deno task fetch";
 * const flagOnly: Hint = { flag: "data", text: "pass --data DIR", otherwise: "set KD_DATA" };
 * console.log(typeof always, typeof flagOnly);
 * ```
 */
export type Hint = string | FlagHint;

/** A UserError with `hint` appended to `message` (text) or attached to it (a FlagHint). */
export function hintedError(message: string, hint?: Hint): UserError {
  if (typeof hint === "object") return new UserError(message, { hint });
  return new UserError(hint ? `${message}; ${hint}` : message);
}

/** `e`'s message with its hint for a command whose flags are `flags` (`otherwise` if not among them). */
export function messageWithHint(e: UserError, flags: readonly string[]): string {
  const h = e.hint;
  const extra = h && (flags.includes(h.flag) ? h.text : h.otherwise);
  return extra ? `${e.message}; ${extra}` : e.message;
}

/** Deno's file-system error classes whose message already names the path and the reason. */
const FS_ERRORS = [
  Deno.errors.NotFound,
  Deno.errors.PermissionDenied,
  Deno.errors.AlreadyExists,
  Deno.errors.IsADirectory,
  Deno.errors.NotADirectory,
  Deno.errors.NotCapable,
];

/**
 * The one-line message of a file-system fault the user can fix (missing or read-only folder,
 * disk full), or undefined for anything else.
 */
export function fileSystemErrorMessage(e: unknown): string | undefined {
  if (!(e instanceof Error)) return undefined;
  const known = FS_ERRORS.some((cls) => cls && e instanceof cls);
  // Disk full and read-only file systems surface as plain errors with the OS code in the text.
  const os = /\(os error (28|30|122)\)/.test(e.message);
  if (!known && !os) return undefined;
  return e.message.split("\n")[0];
}

/** Wrap a file-system failure on `path` in a UserError naming the path; rethrow anything else. */
export function explainFsError(path: string, e: unknown): never {
  const msg = fileSystemErrorMessage(e);
  if (msg !== undefined) {
    throw new UserError(msg.includes(path) ? msg : `${path}: ${msg}`);
  }
  throw e;
}
