/**
 * The sweep report's trade-off section: the sweep's teachers beside its best distilled and best
 * scratch students (parameters, size, multiply-adds, CPU and browser latency, validation
 * accuracy). Measuring takes a minute, so it is a separate step,
 * `deno task bench tradeoff --sweep DIR`, which stores `SWEEP/tradeoff.json`; the report shows
 * that file when it is there and says how to make it when it is not.
 * @module
 */
import { join } from "node:path";
import { exists, readJson, writeJsonAtomic } from "../core/fs.ts";
import { UserError } from "../core/errors.ts";
import { measureTradeoff, tradeoffCells, type TradeoffTable } from "../export/tradeoff.ts";
import { bestRun, type SweepData } from "./load.ts";
import { escapeHtml } from "./table.ts";

/** Where a sweep keeps its measured trade-off table. */
export function tradeoffPath(dir: string): string {
  return join(dir, "tradeoff.json");
}

/** The sweep's `tradeoff.json`, or null when it was not measured. */
export async function readSweepTradeoff(dir: string): Promise<TradeoffTable | null> {
  const path = tradeoffPath(dir);
  if (!(await exists(path))) return null;
  try {
    return await readJson<TradeoffTable>(path);
  } catch (e) {
    throw new UserError((e as Error).message);
  }
}

/** Measure the sweep's teachers and best students and write `SWEEP/tradeoff.json`. */
export async function measureSweepTradeoff(
  sweep: SweepData,
  opts: {
    data?: string;
    browser?: boolean;
    quiet?: boolean;
    minRuns?: number;
    minSeconds?: number;
  } = {},
): Promise<TradeoffTable> {
  const teachers = sweep.manifest?.teachers ?? [];
  const students = (["distill", "scratch"] as const)
    .map((k) => bestRun(sweep.runs, k))
    .filter((r) => r !== null);
  if (!students.length) {
    throw new UserError(`${sweep.dir}: no finished run to measure (the sweep has no best student)`);
  }
  const table = await measureTradeoff({
    teachers: teachers.map((t) => t.spec),
    students: students.map((r) => r!.dir),
    data: opts.data,
    browser: opts.browser,
    quiet: opts.quiet,
    minRuns: opts.minRuns,
    minSeconds: opts.minSeconds,
  });
  // Name rows as the report does: teachers by their sweep name, students by role and run id.
  teachers.forEach((t, i) => table.rows[i].name = t.name);
  students.forEach((r, i) => {
    table.rows[teachers.length + i].name = `best ${
      r!.kind === "distill" ? "distilled" : "scratch"
    } (${r!.id})`;
  });
  await writeJsonAtomic(tradeoffPath(sweep.dir), table);
  return table;
}

/** The report section (a table, or how to produce it). */
export function tradeoffSectionHtml(table: TradeoffTable | null, dir: string): string {
  const head = `<section class="tradeoff"><h2>Teacher vs student: size, speed, accuracy</h2>`;
  if (!table) {
    return `${head}<p class="note">Not measured yet: <code>deno task bench tradeoff --sweep ${
      escapeHtml(dir)
    }</code> times the teachers and the best students and adds this table.</p></section>`;
  }
  const { header, rows } = tradeoffCells(table);
  return [
    head,
    `<table class="results" data-split="validation"><thead><tr>${
      header.map((h) => `<th>${escapeHtml(h)}</th>`).join("")
    }</tr></thead><tbody>`,
    ...rows.map((r) => `<tr>${r.map((c) => `<td>${escapeHtml(c)}</td>`).join("")}</tr>`),
    `</tbody></table>`,
    `<p class="note">Measured ${escapeHtml(table.measured_at)} on ${
      escapeHtml(table.cpu)
    } (${table.cores} ` +
    `cores), backend ${escapeHtml(table.backend)}; multiply-adds counted from the architecture; ` +
    `browser latency from the tfjs export in headless Chromium. Accuracy is validation.</p>`,
    `</section>`,
  ].join("\n");
}
