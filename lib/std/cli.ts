/**
 * Stand-in for `jsr:@std/cli` (jsr.io is unreachable where this toolkit is built).
 * It keeps the `@std/cli` `parseArgs` call shape, implemented on `node:util` `parseArgs`,
 * so pointing the `@std/cli` import in deno.json back at jsr needs no other change.
 * @module
 */
import { parseArgs as nodeParseArgs } from "node:util";

/** Options accepted by {@linkcode parseArgs} (the subset of `@std/cli` this toolkit uses). */
export interface ParseOptions {
  string?: string[];
  boolean?: string[];
  collect?: string[];
  default?: Record<string, unknown>;
  alias?: Record<string, string>;
}

/** Parsed arguments: flags by name, positionals in `_`. */
export type Args = Record<string, unknown> & { _: string[] };

/** Parse command-line flags; unknown flags throw an error that names them. */
export function parseArgs(args: string[], opts: ParseOptions = {}): Args {
  type NodeOpt = { type: "string" | "boolean"; multiple?: boolean; short?: string };
  const options: Record<string, NodeOpt> = {};
  const collect = new Set(opts.collect ?? []);
  for (const name of opts.string ?? []) {
    options[name] = { type: "string", multiple: collect.has(name) };
  }
  for (const name of opts.boolean ?? []) options[name] = { type: "boolean" };
  for (const [short, long] of Object.entries(opts.alias ?? {})) {
    if (short.length === 1 && options[long]) options[long].short = short;
  }
  let parsed;
  try {
    parsed = nodeParseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (e) {
    const known = Object.keys(options).map((o) => `--${o}`).join(", ");
    throw new Error(`${(e as Error).message}. Known flags: ${known || "(none)"}`);
  }
  const out: Args = { _: [...parsed.positionals] };
  for (const [k, v] of Object.entries(opts.default ?? {})) out[k] = v;
  for (const name of opts.boolean ?? []) if (!(name in out)) out[name] = false;
  for (const [k, v] of Object.entries(parsed.values)) out[k] = v;
  return out;
}
