/**
 * `deno task bench NAME [flags]`: runs the benchmark module `lib/bench/NAME.ts`.
 * Each module exports `main(args: string[]): Promise<void>`; speed targets live here, never in tests.
 * @module
 */
import { fail, runMain } from "./command.ts";

const name = Deno.args[0] && !Deno.args[0].startsWith("-") ? Deno.args[0] : "train";
const rest = name === Deno.args[0] ? Deno.args.slice(1) : Deno.args;
const url = new URL(`../bench/${name}.ts`, import.meta.url);
try {
  await Deno.stat(url);
} catch {
  const known = [...Deno.readDirSync(new URL("../bench/", import.meta.url))]
    .filter((e) => e.name.endsWith(".ts")).map((e) => e.name.slice(0, -3)).sort();
  fail(`unknown benchmark "${name}"; available: ${known.join(", ")}`);
}
const mod = await import(url.href);
await runMain(() => mod.main(rest));
