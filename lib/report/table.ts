/**
 * The results table of a sweep in three forms: `results.md` (percentages, for people),
 * `results.csv` (fractions, for tools) and an HTML table for the report and notebooks.
 * Every number is validation: the test split is never part of these tables.
 * @module
 */
import { join } from "node:path";
import { writeFileAtomic } from "../core/fs.ts";
import type { ResultRow, Stat, SweepResults } from "../sweep/types.ts";
import { confirmCsvRecords, confirmMarkdown } from "./confirm.ts";

/** The `results.csv` header, in order. */
export const CSV_COLUMNS = [
  "stage",
  "split",
  "teacher",
  "kind",
  "temperature",
  "lambda",
  "n_seeds",
  "acc_mean",
  "acc_std",
  "acc_ci_low",
  "acc_ci_high",
  "f1_mean",
  "f1_std",
  "f1_ci_low",
  "f1_ci_high",
  "delta_acc_mean",
  "delta_acc_ci_low",
  "delta_acc_ci_high",
  "teacher_val_acc",
  "agreement",
  "train_time_s",
  "img_per_s",
  "delta_f1_mean",
  "delta_f1_ci_low",
  "delta_f1_ci_high",
  "confirm_of",
  "paired_test",
  "paired_test_n",
  "paired_test_p",
  "recipe",
  "teacher_gap_acc",
  "strongest_scratch_recipe",
  "delta_strongest_acc_mean",
  "delta_strongest_acc_ci_low",
  "delta_strongest_acc_ci_high",
] as const;

/** The note every rendering of the screen table carries. */
export const VALIDATION_NOTE = "The screen table is on the **validation** split, the split " +
  "configurations are picked on (so its best row is optimistic). The CONFIRM sections repeat " +
  "each pick against scratch on fresh seeds and read the test split once, at the end.";

const finite = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);

function csvCell(v: unknown): string {
  if (v === null || v === undefined || (typeof v === "number" && !Number.isFinite(v))) return "";
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/**
 * One CSV record per screen row, then the CONFIRM records (`stage` tells them apart; fractions,
 * full precision; empty cells where undefined).
 */
export function resultsCsv(results: SweepResults): string {
  const lines = [CSV_COLUMNS.join(",")];
  for (const r of results.rows) {
    const d = r.deltaAccuracy;
    const record: Partial<Record<(typeof CSV_COLUMNS)[number], unknown>> = {
      stage: "screen",
      split: "validation",
      teacher: r.teacher,
      kind: r.kind,
      temperature: r.temperature,
      lambda: r.lambda,
      n_seeds: r.seeds.length,
      acc_mean: r.accuracy.mean,
      acc_std: r.accuracy.std,
      acc_ci_low: r.accuracy.ci95?.[0],
      acc_ci_high: r.accuracy.ci95?.[1],
      f1_mean: r.macroF1.mean,
      f1_std: r.macroF1.std,
      f1_ci_low: r.macroF1.ci95?.[0],
      f1_ci_high: r.macroF1.ci95?.[1],
      delta_acc_mean: d?.mean,
      delta_acc_ci_low: d?.ci95?.[0],
      delta_acc_ci_high: d?.ci95?.[1],
      teacher_val_acc: r.teacherValAccuracy,
      recipe: r.recipe,
      teacher_gap_acc: r.teacherGap,
      agreement: r.agreement,
      train_time_s: r.trainTimeS,
      img_per_s: r.imgPerS,
      delta_f1_mean: r.deltaMacroF1?.mean,
      delta_f1_ci_low: r.deltaMacroF1?.ci95?.[0],
      delta_f1_ci_high: r.deltaMacroF1?.ci95?.[1],
    };
    lines.push(CSV_COLUMNS.map((c) => csvCell(record[c])).join(","));
  }
  for (const record of confirmCsvRecords(results)) {
    lines.push(CSV_COLUMNS.map((c) => csvCell(record[c])).join(","));
  }
  return lines.join("\n") + "\n";
}

/** `85.31 ± 1.20 [83.10, 87.52]` (percent), or `85.31` for one seed. */
export function formatStatPct(s: Stat | null, signed = false): string {
  if (!s || !finite(s.mean)) return "–";
  const f = (v: number) => (signed && v > 0 ? "+" : "") + (v * 100).toFixed(2);
  const [lo, hi] = s.ci95 ?? [null, null];
  if (!(s.n > 1) || !finite(lo) || !finite(hi)) return f(s.mean);
  return `${f(s.mean)} ± ${(s.std * 100).toFixed(2)} [${f(lo)}, ${f(hi)}]`;
}

function pct(v: number | null): string {
  return finite(v) ? (v * 100).toFixed(2) : "–";
}

/** Column headers and display cells (strings) of the human-readable table. */
export function displayRows(results: SweepResults): { header: string[]; rows: string[][] } {
  // The recipe column only when the sweep has recipe arms: older tables keep their columns.
  const arms = results.rows.some((r) => r.recipe);
  const header = [
    "teacher",
    ...(arms ? ["recipe"] : []),
    "kind",
    "T",
    "λ",
    "seeds",
    "accuracy % (mean ± std [95% CI])",
    "macro-F1 %",
    "Δ acc vs scratch (pp) [95% CI]",
    "teacher acc %",
    "student − teacher (pp)",
    "agreement %",
    "train time (s)",
    "img/s",
  ];
  const rows = results.rows.map((r: ResultRow) => [
    r.teacher,
    ...(arms ? [r.recipe ?? "–"] : []),
    r.kind,
    r.temperature === null ? "–" : String(r.temperature),
    r.lambda === null ? "–" : String(r.lambda),
    String(r.seeds.length),
    formatStatPct(r.accuracy),
    formatStatPct(r.macroF1),
    r.deltaAccuracy ? formatStatPct(r.deltaAccuracy, true) : "–",
    pct(r.teacherValAccuracy),
    finite(r.teacherGap) ? (r.teacherGap > 0 ? "+" : "") + (r.teacherGap * 100).toFixed(2) : "–",
    pct(r.agreement),
    finite(r.trainTimeS) ? r.trainTimeS.toFixed(1) : "–",
    finite(r.imgPerS) ? r.imgPerS.toFixed(1) : "–",
  ]);
  return { header, rows };
}

function mdCell(s: string): string {
  return s.replaceAll("|", "\\|");
}

/**
 * `results.md`: a heading, the validation note, the table in percent, pending runs if any.
 *
 * @example The screen table as Markdown
 * ```ts
 * import { loadSweep, resultsMarkdown, writeSyntheticSweep } from "@kd/vision/report";
 *
 * const dir = await Deno.makeTempDir();
 * await writeSyntheticSweep(dir);
 * console.log(resultsMarkdown((await loadSweep(dir)).results));
 * ```
 */
export function resultsMarkdown(results: SweepResults): string {
  const { header, rows } = displayRows(results);
  const out = [
    `# ${results.experiment} (profile ${results.profile}): results`,
    "",
    VALIDATION_NOTE,
    "",
    ...confirmVerdicts(results),
    "## SCREEN: every configuration (validation)",
    "",
    `| ${header.map(mdCell).join(" | ")} |`,
    `|${header.map(() => "---").join("|")}|`,
    ...rows.map((r) => `| ${r.map(mdCell).join(" | ")} |`),
    "",
    confirmMarkdown(results),
  ];
  if (results.pending.length) {
    out.push(
      `**Partial:** ${results.pending.length} run(s) not finished: ${results.pending.join(", ")}`,
      "",
    );
  }
  out.push(`Generated ${results.generatedAt}.`, "");
  return out.join("\n");
}

/** The verdict sentences first, as a bulleted list (nothing without a confirm stage). */
function confirmVerdicts(results: SweepResults): string[] {
  if (!results.confirm?.length) return [];
  return ["**Answer:**", "", ...results.confirm.map((c) => `- ${c.verdict}.`), ""];
}

/** Escape text for HTML. */
export function escapeHtml(s: string): string {
  return s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;");
}

/**
 * The results table as an HTML `<table>` (percentages), preceded by the validation note.
 *
 * @example The screen table as an HTML table
 * ```ts
 * import { loadSweep, resultsHtmlTable, writeSyntheticSweep } from "@kd/vision/report";
 *
 * const dir = await Deno.makeTempDir();
 * await writeSyntheticSweep(dir);
 * console.log(resultsHtmlTable((await loadSweep(dir)).results).startsWith("<"));
 * ```
 */
export function resultsHtmlTable(results: SweepResults): string {
  const { header, rows } = displayRows(results);
  const note = escapeHtml(VALIDATION_NOTE).replace(/\*\*(.+?)\*\*/g, "<strong>$1</strong>")
    .replace(/`(.+?)`/g, "<code>$1</code>");
  return [
    `<p class="note">${note}</p>`,
    `<table class="results" data-split="validation">`,
    `<thead><tr>${header.map((h) => `<th>${escapeHtml(h)}</th>`).join("")}</tr></thead>`,
    "<tbody>",
    ...rows.map((r) => `<tr>${r.map((c) => `<td>${escapeHtml(c)}</td>`).join("")}</tr>`),
    "</tbody></table>",
    results.pending.length
      ? `<p class="warn">Partial: ${results.pending.length} run(s) not finished: ${
        escapeHtml(results.pending.join(", "))
      }</p>`
      : "",
  ].join("\n");
}

/** Write `results.md` and `results.csv` into the sweep directory (atomically). */
export async function writeResultTables(dir: string, results: SweepResults): Promise<void> {
  await writeFileAtomic(join(dir, "results.md"), resultsMarkdown(results));
  await writeFileAtomic(join(dir, "results.csv"), resultsCsv(results));
}
