/**
 * `deno task report SWEEP_DIR [--png] [--quiet]`: merge the finished runs into `results.json`
 * (when `sweep.json` is there, e.g. after every shard is done), then write `results.md`,
 * `results.csv` and `report.html` (self-contained, offline); with `--png` also
 * `SWEEP_DIR/figures/<name>.png` (needs Chromium; skipped with one line when it is missing).
 * @module
 */
import { parseArgs } from "@std/cli";
import { UserError } from "../core/errors.ts";
import { runMain } from "./command.ts";
import { join } from "node:path";
import { exists } from "../core/fs.ts";
import { loadSweep } from "../report/load.ts";
import { writeReport } from "../report/html.ts";
import { writeResultTables } from "../report/table.ts";
import { mergeResults } from "../sweep/results.ts";

/** Entry point. */
export async function main(args: string[]): Promise<void> {
  const f = parseArgs(args, { boolean: ["png", "quiet", "help"], alias: { h: "help" } });
  if (f.help) {
    console.log("usage: deno task report SWEEP_DIR [--png] [--quiet]");
    return;
  }
  const [dir, ...extra] = f._;
  if (!dir) throw new UserError("usage: deno task report SWEEP_DIR [--png]");
  if (extra.length) throw new UserError(`unexpected arguments: ${extra.join(" ")}`);
  if (!(await exists(dir))) throw new UserError(`${dir}: no such directory`);
  const results = (await exists(join(dir, "sweep.json")))
    ? await mergeResults(dir)
    : (await loadSweep(dir)).results;
  await writeResultTables(dir, results);
  const { html, pngs } = await writeReport(dir, {
    png: f.png as boolean,
    quiet: f.quiet as boolean,
  });
  console.log(`wrote ${html}`);
  for (const p of pngs ?? []) console.log(`wrote ${p}`);
}

if (import.meta.main) await runMain(() => main(Deno.args));
