/**
 * `deno task bench NAME [flags]`: runs the benchmark module `lib/bench/NAME.ts`, or one of the
 * benchmarks built as commands (`tradeoff`: lib/cli/bench_tradeoff.ts on lib/export/tradeoff.ts).
 * Each module exports `main(args: string[]): Promise<void>`; speed targets live here, never in tests.
 * @module
 */
import { type CommandSpec, fail, runCommand, runMain } from "./command.ts";

/** Benchmarks that are commands on the CLI contract (runCommand) rather than lib/bench modules. */
const COMMANDS: Record<string, () => Promise<CommandSpec<unknown>>> = {
  tradeoff: async () =>
    (await import("./bench_tradeoff.ts")).tradeoffCommand() as CommandSpec<unknown>,
};

const name = Deno.args[0] && !Deno.args[0].startsWith("-") ? Deno.args[0] : "train";
const rest = name === Deno.args[0] ? Deno.args.slice(1) : Deno.args;
const command = COMMANDS[name];
if (command) await runCommand(await command(), rest);
else {
  const url = new URL(`../bench/${name}.ts`, import.meta.url);
  try {
    await Deno.stat(url);
  } catch {
    const known = [...Deno.readDirSync(new URL("../bench/", import.meta.url))]
      .filter((e) => e.name.endsWith(".ts")).map((e) => e.name.slice(0, -3));
    fail(
      `unknown benchmark "${name}"; available: ${
        [...known, ...Object.keys(COMMANDS)].sort().join(", ")
      }`,
    );
  }
  const mod = await import(url.href);
  await runMain(() => mod.main(rest));
}
