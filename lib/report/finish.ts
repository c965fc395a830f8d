/**
 * The end of a sweep: merge finished runs into `results.json`, write the tables and the report.
 * Called by `deno task sweep` (unsharded) and `deno task report` (after all shards).
 * @module
 */
import { join } from "node:path";
import { UserError } from "../core/errors.ts";
import { exists } from "../core/fs.ts";
import { mergeResults } from "../sweep/results.ts";
import { writeResultTables } from "./table.ts";
import { writeReport } from "./html.ts";
import { loadSweep } from "./load.ts";
import type { SweepResults } from "../sweep/types.ts";

/** Merge results and write `results.{json,csv,md}` and `report.html` (plus PNGs with `png`). */
export async function finishSweep(
  dir: string,
  opts: { png?: boolean } = {},
): Promise<SweepResults> {
  const results = await mergeResults(dir);
  await writeResultTables(dir, results);
  await writeReport(dir, { png: opts.png });
  console.error(`results: ${join(dir, "results.md")}, report: ${join(dir, "report.html")}`);
  return results;
}

/**
 * Files written by {@linkcode writeSweepReport}.
 *
 * @example Where the report went
 * ```ts
 * import { type ReportFiles, writeSweepReport, writeSyntheticSweep } from "@kd/vision/report";
 *
 * const dir = await Deno.makeTempDir();
 * await writeSyntheticSweep(dir);
 * const files: ReportFiles = await writeSweepReport(dir, { quiet: true });
 * console.log(files.html, files.pngs); // …/report.html [] (PNGs only with `png: true`)
 * ```
 */
export interface ReportFiles {
  /** Path of `report.html`. */
  html: string;
  /** Paths of the PNG exports (`figures/*.png`; empty unless asked for with `png`). */
  pngs: string[];
}

/**
 * Report on a sweep directory: merged afresh when it has `sweep.json` (e.g. after every shard
 * finished), else from its existing `results.json`.
 *
 * @example Tables and report.html for a (here synthetic) sweep folder
 * ```ts
 * import { writeSweepReport, writeSyntheticSweep } from "@kd/vision/report";
 *
 * const dir = await Deno.makeTempDir();
 * await writeSyntheticSweep(dir);
 * const { html } = await writeSweepReport(dir, { quiet: true });
 * console.log(html); // also results.md, results.csv beside it
 * ```
 */
export async function writeSweepReport(
  dir: string,
  opts: { png?: boolean; quiet?: boolean } = {},
): Promise<ReportFiles> {
  if (!(await exists(dir))) throw new UserError(`${dir}: no such directory`);
  const results = (await exists(join(dir, "sweep.json")))
    ? await mergeResults(dir)
    : (await loadSweep(dir)).results;
  await writeResultTables(dir, results);
  const { html, pngs } = await writeReport(dir, opts);
  return { html, pngs: pngs ?? [] };
}
