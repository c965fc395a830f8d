/**
 * `deno task report SWEEP_DIR [--png] [--quiet] [--json]`: merge the finished runs into
 * `results.json` (when `sweep.json` is there, e.g. after every shard is done), then write
 * `results.md`, `results.csv` and `report.html` (self-contained, offline); with `--png` also
 * `SWEEP_DIR/figures/<name>.png` (needs Chromium; skipped with one line when it is missing).
 * @module
 */
import { type CommandSpec, runCommand } from "./command.ts";
import { type ReportFiles, writeSweepReport } from "../report/finish.ts";

const USAGE = `usage: deno task report SWEEP_DIR [--png] [--quiet] [--json]

  Merges the finished runs of SWEEP_DIR and writes results.{json,csv,md} and report.html
  (plus figures/*.png with --png, using headless Chromium). --json prints the written paths.`;

/** `deno task report`. */
export const reportCommand: CommandSpec<ReportFiles> = {
  usage: USAGE,
  boolean: ["png", "quiet"],
  positionals: [1, 1],
  json: true,
  run: (f) =>
    writeSweepReport(f._[0] as string, { png: f.png as boolean, quiet: f.quiet as boolean }),
  print(r) {
    for (const p of [r.html, ...r.pngs]) console.log(`wrote ${p}`);
  },
};

if (import.meta.main) await runCommand(reportCommand);
