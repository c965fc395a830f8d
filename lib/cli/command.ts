/**
 * The one contract every `deno task` command keeps, implemented once:
 *
 * - `--help`/`-h` prints the usage to stdout and exits 0;
 * - an unknown flag, a missing, empty or bad value, or any other bad input ({@linkcode UserError}, or a
 *   file-system fault naming its path) prints one line `error: …` to stderr and exits 2;
 * - `--json` (where a command has a result) prints only that JSON on stdout: everything the
 *   command and the library say goes to stderr;
 * - `--backend` (where a command computes) is initialised the same way everywhere, through
 *   `initBackend` (flag, else env `KD_BACKEND`, else auto), with one line saying which: held
 *   until the command says anything else or succeeds, dropped when it fails on bad input.
 *
 * Anything else is a bug and keeps its stack trace (exit 1).
 * @module
 */
import { type Args, parseArgs } from "@std/cli";
import { fileSystemErrorMessage, messageWithHint, UserError } from "../core/errors.ts";
import { printable, scrubError } from "../core/redact.ts";
import { type BackendChoice, initBackend } from "../backend.ts";
import { dropHeldLine, flushHeldLine } from "../core/held_line.ts";

/** What {@linkcode runCommand} needs to know about a command. */
export interface CommandSpec<R = unknown> {
  /** Usage text printed by `--help` (the first line starts with `usage:`). */
  usage: string;
  /** Flags taking a value. */
  string?: string[];
  /** Flags without a value (`help`, `json`, `backend` are added as the spec asks). */
  boolean?: string[];
  /** String flags that may repeat (collected into an array). */
  collect?: string[];
  /** Default values of flags. */
  default?: Record<string, unknown>;
  /**
   * Flags renamed since a release, old name to new (without dashes): the old spelling is refused
   * with a line naming the new one, so one concept keeps one spelling and old scripts learn it.
   */
  renamed?: Record<string, string>;
  /** Positional arguments accepted: `[min, max]` (default none). */
  positionals?: [number, number];
  /** Offer `--json`: `run`'s result is printed as JSON on stdout. */
  json?: boolean;
  /** Offer `--backend NAME` and initialise the backend before `run`. */
  backend?: boolean;
  /** The command itself; throws UserError for bad input. */
  run(flags: Args, ctx: CommandContext): Promise<R> | R;
  /** Human-readable output of the result (stdout), when not `--json`. */
  print?(result: R): void;
}

/** What a command's `run` gets besides its flags. */
export interface CommandContext {
  /** True under `--json` (stdout is reserved for the result). */
  json: boolean;
  /** The backend in effect, when the spec asked for one. */
  backend?: BackendChoice;
}

/** Exit status for bad input (flags, files, data). */
export const EXIT_USAGE = 2;

function failLine(message: string): never {
  // One line: a multi-line message is folded so scripts can rely on `error: …` being all of it.
  // Every command's error goes through here, so credentials and file bytes are dropped here once.
  console.error(`error: ${printable(message).replace(/\s*\n\s*/g, "; ")}`);
  Deno.exit(EXIT_USAGE);
}

/**
 * The one-line message for a failure the user can fix, or undefined for a bug. `flags` are the
 * command's (see {@linkcode specFlags}): a hint naming a flag is added only when it is one of them.
 */
export function userFacingMessage(e: unknown, flags: readonly string[] = []): string | undefined {
  if (e instanceof UserError) return messageWithHint(e, flags);
  return fileSystemErrorMessage(e);
}

/** Every flag `spec` accepts, without dashes (`help`, `json`, `backend` included as offered). */
export function specFlags(spec: CommandSpec<unknown>): string[] {
  const flags = [...(spec.string ?? []), ...(spec.boolean ?? []), ...(spec.collect ?? []), "help"];
  if (spec.json) flags.push("json");
  if (spec.backend) flags.push("backend");
  return flags;
}

/** Parse flags per `spec`; bad flags become a UserError naming the flag. */
export function parseCommandArgs(spec: CommandSpec<unknown>, args: string[]): Args {
  const boolean = [...(spec.boolean ?? []), "help"];
  const string = [...(spec.string ?? [])];
  if (spec.json) boolean.push("json");
  if (spec.backend) string.push("backend");
  for (const [old, now] of Object.entries(spec.renamed ?? {})) {
    if (args.some((a) => a === `--${old}` || a.startsWith(`--${old}=`))) {
      throw new UserError(`--${old} is now --${now} (same meaning; see --help)`);
    }
  }
  // `--lr -1`: a value that starts with "-" reads as a flag to the parser ("ambiguous"); a
  // negative number after a flag that takes a value is that value.
  const takesValue = new Set([...string, ...(spec.collect ?? [])].map((n) => `--${n}`));
  const joined: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const negative = /^-(\d|\.\d)/.test(args[i + 1] ?? "");
    if (takesValue.has(args[i]) && negative) joined.push(`${args[i]}=${args[++i]}`);
    else joined.push(args[i]);
  }
  args = joined;
  let flags: Args;
  try {
    flags = parseArgs(args, {
      string,
      boolean,
      collect: spec.collect,
      default: spec.default,
      alias: { h: "help" },
    });
  } catch (e) {
    throw new UserError(`${(e as Error).message} (see --help)`);
  }
  if (flags.help) return flags;
  // An empty value (`--epochs ''`, `--lr=`) is a mistake, e.g. an unset shell variable: never
  // let it fall back to the preset's value as if the flag had not been given.
  for (const name of string) {
    const v = flags[name];
    if (v === "" || (Array.isArray(v) && v.includes(""))) {
      throw new UserError(`--${name} needs a value, got an empty one (see --help)`);
    }
  }
  const [min, max] = spec.positionals ?? [0, 0];
  if (flags._.length > max) {
    throw new UserError(`unexpected argument "${flags._[max]}" (see --help)`);
  }
  if (flags._.length < min) {
    throw new UserError(`missing argument: ${spec.usage.split("\n")[0]}`);
  }
  return flags;
}

/** Run a command under the contract (see the module doc); never returns on failure. */
export async function runCommand<R>(spec: CommandSpec<R>, args: string[] = Deno.args) {
  const log = console.log, error = console.error;
  let json = false;
  try {
    const flags = parseCommandArgs(spec as CommandSpec<unknown>, args);
    if (flags.help) {
      console.log(spec.usage);
      return;
    }
    json = Boolean(flags.json);
    // The backend line waits for the command's first other line (see core/held_line.ts).
    console.error = (...a: unknown[]) => {
      flushHeldLine();
      error(...a);
    };
    // Under --json every line the library prints goes to stderr; stdout carries the JSON only.
    if (json) console.log = console.error;
    // --quiet means no progress lines, the backend's included (errors still print).
    const backend = spec.backend
      ? await initBackend(flags.backend as string | undefined, {
        quiet: Boolean(flags.quiet),
        hold: true,
      })
      : undefined;
    const result = await spec.run(flags, { json, backend });
    flushHeldLine();
    console.error = error;
    if (json) {
      console.log = log;
      console.log(JSON.stringify(result));
    } else spec.print?.(result);
  } catch (e) {
    console.error = error;
    console.log = log;
    const msg = userFacingMessage(e, specFlags(spec as CommandSpec<unknown>));
    // Bad input is one line: the held backend line goes with it. A bug's report keeps it.
    if (msg !== undefined) {
      dropHeldLine();
      failLine(msg);
    }
    flushHeldLine();
    throw scrubError(e);
  }
}

/** A command with sub-commands (`deno task data info|prepare`, `deno task bench NAME`). */
export async function runSubcommands(
  usage: string,
  commands: Record<string, () => Promise<CommandSpec<unknown>> | CommandSpec<unknown>>,
  args: string[] = Deno.args,
): Promise<void> {
  const [name, ...rest] = args;
  if (name === "--help" || name === "-h" || name === "help") {
    console.log(usage);
    return;
  }
  if (name === undefined) {
    failLine(`missing command; expected one of ${Object.keys(commands).join(", ")} (see --help)`);
  }
  const make = commands[name];
  if (!make) {
    failLine(
      `unknown command "${name}"; expected one of ${Object.keys(commands).join(", ")} (see --help)`,
    );
  }
  await runCommand(await make(), rest);
}

/** Run a legacy `main` under the error part of the contract (bad input: one line, exit 2). */
export async function runMain(main: () => Promise<void> | void): Promise<void> {
  try {
    await main();
  } catch (e) {
    const msg = userFacingMessage(e);
    if (msg !== undefined) failLine(msg);
    throw scrubError(e);
  }
}

/** Print `message` as the one error line and exit 2. */
export function fail(message: string): never {
  failLine(message);
}
