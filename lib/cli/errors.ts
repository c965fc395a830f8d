/**
 * User-facing failure for command-line entry points: one clear line, no stack trace.
 * @module
 */

/** An error whose message is meant for the user as is (no stack trace shown). */
export class UserError extends Error {
  override name = "UserError";
}

/** Print `message` to stderr and exit with status 2. */
export function fail(message: string): never {
  console.error(`error: ${message}`);
  Deno.exit(2);
}

/** Run a command's main; UserErrors become one line on stderr and exit 2, others keep their stack. */
export async function runMain(main: () => Promise<void> | void): Promise<void> {
  try {
    await main();
  } catch (e) {
    if (e instanceof UserError) fail(e.message);
    throw e;
  }
}
