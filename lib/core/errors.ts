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
