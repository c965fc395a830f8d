/**
 * The end of a sweep: merge finished runs into `results.json`, write the tables and the report.
 * Called by `deno task sweep` (unsharded) and `deno task report` (after all shards).
 * @module
 */
import { join } from "node:path";
import { mergeResults } from "../sweep/results.ts";
import { writeResultTables } from "./table.ts";
import { writeReport } from "./html.ts";
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
