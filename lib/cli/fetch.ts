/**
 * `deno task fetch beans [--dir DIR] [--split NAME]... [--force]`: download the beans Parquet
 * files from the Hugging Face hub (env `HF_ENDPOINT` for a mirror) into `data/beans/`.
 * @module
 */
import { parseArgs } from "@std/cli";
import { UserError } from "../core/errors.ts";
import { runMain } from "./command.ts";
import { BEANS_SPLITS, ensureBeans } from "../net/beans.ts";
import { DEFAULT_DATA_DIR } from "../data/resolve.ts";

const USAGE =
  "usage: deno task fetch beans [--dir DIR] [--split train|validation|test]... [--force]";

async function main() {
  const [target, ...rest] = Deno.args;
  let a;
  try {
    a = parseArgs(rest, {
      string: ["dir", "split"],
      boolean: ["force", "quiet", "help"],
      collect: ["split"],
    });
  } catch (e) {
    throw new UserError(`${(e as Error).message}\n${USAGE}`);
  }
  if (!target || a.help || target === "--help" || target === "-h") {
    console.log(USAGE);
    return;
  }
  if (target !== "beans") {
    throw new UserError(`unknown fetch target "${target}"; known: beans\n${USAGE}`);
  }
  const splits = (a.split as string[] | undefined)?.length
    ? (a.split as string[])
    : [...BEANS_SPLITS];
  const bad = splits.filter((s) => !(BEANS_SPLITS as readonly string[]).includes(s));
  if (bad.length) throw new UserError(`--split ${bad[0]}: beans has ${BEANS_SPLITS.join(", ")}`);
  const dir = (a.dir as string | undefined) ?? DEFAULT_DATA_DIR;
  const files = await ensureBeans(dir, splits, { force: !!a.force, quiet: !!a.quiet });
  for (const f of files) console.log(f);
}

if (import.meta.main) await runMain(main);
