/**
 * The CONFIRM sections of a sweep's results: per teacher, its configuration picked on the
 * screen stage against scratch on fresh seeds, on validation and (once, at the end) on the
 * test split, with paired differences, a per-image paired test and a one-sentence verdict.
 * Rendered as Markdown (`results.md`), CSV records (`results.csv`) and HTML (`report.html`).
 * @module
 */
import type { ArmStats, ConfirmResult, Stat, SweepResults } from "../sweep/types.ts";

const finite = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);

/** `81.2 ± 2.9 [79.3, 83.0]` in percent (signed for differences). */
export function pctStat(s: Stat | null | undefined, signed = false): string {
  if (!s || !finite(s.mean)) return "–";
  const f = (v: number) => (signed && v > 0 ? "+" : "") + (v * 100).toFixed(1);
  if (!(s.n > 1) || !finite(s.ci95[0])) return f(s.mean);
  return `${f(s.mean)} ± ${(s.std * 100).toFixed(1)} [${f(s.ci95[0])}, ${f(s.ci95[1])}]`;
}

/** Header and cells of one teacher's CONFIRM table (one row per arm and split, then Δ). */
export function confirmTable(c: ConfirmResult): { header: string[]; rows: string[][] } {
  const header = ["arm", "split", "seeds", "accuracy % (mean ± sd [95% CI])", "macro-F1 %"];
  const row = (arm: string, split: string, s: ArmStats | null, signed = false) =>
    s
      ? [arm, split, String(s.accuracy.n), pctStat(s.accuracy, signed), pctStat(s.macroF1, signed)]
      : [];
  const arm = c.recipe ? `, arm ${c.recipe}` : "";
  const scratch = c.recipe ? `scratch (arm ${c.recipe})` : "scratch";
  const distilled = `distilled (${c.teacher}, T=${c.temperature}, λ=${c.lambda}${arm})`;
  const rows = [
    row(scratch, "validation", c.scratch.validation),
    row(distilled, "validation", c.distilled.validation),
    row("Δ distilled − scratch (paired by seed), pp", "validation", c.delta.validation, true),
    row(scratch, "TEST", c.scratch.test),
    row(distilled, "TEST", c.distilled.test),
    row("Δ distilled − scratch (paired by seed), pp", "TEST", c.delta.test, true),
  ].filter((r) => r.length);
  return { header, rows };
}

/** The per-image paired test line, or why there is none. */
export function pairedTestLine(c: ConfirmResult, hasTestSplit: boolean): string {
  const t = c.pairedTest;
  if (!t) {
    return hasTestSplit
      ? "Per-image paired test: the test split is evaluated once every confirm run has finished."
      : "No test split in the data: validation only (the numbers above were not used for any " +
        "selection, but validation is the split the screen stage picked on).";
  }
  return `Per-image paired test on TEST: ${t.name}, n = ${t.n} (${t.images} images × ${t.seeds} ` +
    `seeds); only distilled right: ${t.onlyDistilled}, only scratch right: ${t.onlyScratch}, ` +
    `p = ${t.p.toPrecision(2)}.`;
}

const md = (s: string) => s.replaceAll("|", "\\|");

/** The section's name: the teacher, and its recipe arm when the sweep has several. */
function sectionName(c: ConfirmResult): string {
  return c.recipe ? `${c.teacher} (${c.recipe})` : c.teacher;
}

/** The teacher's own validation accuracy and the distilled student's gap to it. */
export function teacherLine(c: ConfirmResult): string {
  const t = c.teacherValAccuracy, g = c.teacherGap;
  if (t === null || t === undefined || g === null || g === undefined) return "";
  return `Teacher ${c.teacher}: ${(t * 100).toFixed(1)}% validation accuracy; the distilled ` +
    `student is ${Math.abs(g * 100).toFixed(1)} pp ${g < 0 ? "below" : "above"} it.`;
}

const signedPp = (v: number) => `${v > 0 ? "+" : v < 0 ? "−" : ""}${Math.abs(v * 100).toFixed(1)}`;

/**
 * One row per CONFIRM pick when the sweep has recipe arms (else none): the arm, the teacher and
 * its own validation accuracy, scratch and distilled of that arm, the paired Δ against that
 * scratch and against the strongest scratch recipe, the student's gap to its teacher and whether
 * the student's 95% interval reaches the teacher's accuracy, so the arms compare at a glance.
 */
export function armsSummary(results: SweepResults): { header: string[]; rows: string[][] } {
  const header = [
    "arm",
    "teacher",
    "teacher acc %",
    "T, λ",
    "scratch %",
    "distilled %",
    "Δ vs scratch, pp [95% CI]",
    "Δ vs strongest scratch, pp [95% CI]",
    "student − teacher, pp",
    "student CI reaches teacher",
  ];
  const picks = (results.confirm ?? []).filter((c) => c.recipe);
  const rows = picks.map((c) => {
    const d = c.delta.validation.accuracy;
    const t = c.teacherValAccuracy, g = c.teacherGap;
    const ci = (d: Stat) =>
      d.n > 1 && finite(d.ci95[0]) ? ` [${signedPp(d.ci95[0])}, ${signedPp(d.ci95[1])}]` : "";
    const v = c.vsStrongestScratch;
    const student = c.distilled.validation.accuracy;
    return [
      c.recipe!,
      c.teacher,
      finite(t) ? (t * 100).toFixed(1) : "–",
      `${c.temperature}, ${c.lambda}`,
      (c.scratch.validation.accuracy.mean * 100).toFixed(1),
      (c.distilled.validation.accuracy.mean * 100).toFixed(1),
      `${signedPp(d.mean)}${ci(d)}`,
      v ? `${signedPp(v.accuracy.mean)}${ci(v.accuracy)} (${v.recipe})` : "–",
      finite(g) ? signedPp(g) : "–",
      finite(t) && student.n > 1 && finite(student.ci95[1])
        ? student.ci95[1] >= t ? "yes" : "no"
        : "–",
    ];
  });
  return { header, rows };
}

/**
 * The CONFIRM sections as Markdown (empty string when the profile has no confirm stage).
 *
 * @example The CONFIRM sections (verdict, table) as Markdown
 * ```ts
 * import { confirmMarkdown, loadSweep, writeSyntheticSweep } from "@kd/vision/report";
 *
 * const dir = await Deno.makeTempDir();
 * await writeSyntheticSweep(dir, { confirmSeeds: 3 });
 * console.log(confirmMarkdown((await loadSweep(dir)).results));
 * ```
 */
export function confirmMarkdown(results: SweepResults): string {
  if (results.confirm === null || results.confirm === undefined) return "";
  const out = ["## CONFIRM: picked configurations vs scratch on fresh seeds", ""];
  if (!results.confirm.length) {
    out.push("The confirm stage has no finished pairs yet.", "");
    return out.join("\n");
  }
  const summary = armsSummary(results);
  if (summary.rows.length) {
    out.push(
      "Recipe arms (validation, confirm seeds; each arm against scratch trained with the same " +
        "recipe):",
      "",
      `| ${summary.header.map(md).join(" | ")} |`,
      `|${summary.header.map(() => "---").join("|")}|`,
      ...summary.rows.map((r) => `| ${r.map(md).join(" | ")} |`),
      "",
    );
  }
  for (const c of results.confirm) {
    const { header, rows } = confirmTable(c);
    out.push(
      `### CONFIRM ${sectionName(c)}`,
      "",
      `**Verdict:** ${c.verdict}.`,
      "",
      ...(teacherLine(c) ? [teacherLine(c), ""] : []),
      `Picked on the screen stage by mean validation accuracy ${
        (c.screenAccuracy * 100).toFixed(1)
      }% ` +
        `(optimistic: picked on it); confirmed on ${c.seeds.length} fresh seeds ` +
        `(${c.seeds.join(", ")}), scratch on the same seeds.`,
      "",
      `| ${header.map(md).join(" | ")} |`,
      `|${header.map(() => "---").join("|")}|`,
      ...rows.map((r) => `| ${r.map(md).join(" | ")} |`),
      "",
      pairedTestLine(c, results.hasTestSplit ?? false),
      "",
    );
  }
  return out.join("\n");
}

const esc = (s: string) =>
  s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");

/**
 * The CONFIRM sections as HTML for the report (empty string without a confirm stage).
 *
 * @example The CONFIRM sections as HTML
 * ```ts
 * import { confirmHtml, loadSweep, writeSyntheticSweep } from "@kd/vision/report";
 *
 * const dir = await Deno.makeTempDir();
 * await writeSyntheticSweep(dir, { confirmSeeds: 3 });
 * console.log(confirmHtml((await loadSweep(dir)).results).length > 0);
 * ```
 */
export function confirmHtml(results: SweepResults): string {
  if (results.confirm === null || results.confirm === undefined) return "";
  const parts = [`<h2>CONFIRM: picked configurations vs scratch on fresh seeds</h2>`];
  if (!results.confirm.length) parts.push(`<p>The confirm stage has no finished pairs yet.</p>`);
  const summary = armsSummary(results);
  if (summary.rows.length) {
    parts.push(
      `<p>Recipe arms (validation, confirm seeds; each arm against scratch trained with the ` +
        `same recipe):</p>`,
      `<table class="results" data-split="confirm-arms"><thead><tr>${
        summary.header.map((h) => `<th>${esc(h)}</th>`).join("")
      }</tr></thead><tbody>`,
      ...summary.rows.map((r) => `<tr>${r.map((x) => `<td>${esc(x)}</td>`).join("")}</tr>`),
      `</tbody></table>`,
    );
  }
  for (const c of results.confirm) {
    const { header, rows } = confirmTable(c);
    parts.push(
      `<section class="confirm" data-teacher="${esc(c.teacher)}"${
        c.recipe ? ` data-recipe="${esc(c.recipe)}"` : ""
      }>`,
      `<h3>CONFIRM ${esc(sectionName(c))}</h3>`,
      `<p class="note"><strong>Verdict:</strong> ${esc(c.verdict)}.</p>`,
      teacherLine(c) ? `<p>${esc(teacherLine(c))}</p>` : "",
      `<table class="results" data-split="confirm"><thead><tr>${
        header.map((h) => `<th>${esc(h)}</th>`).join("")
      }</tr></thead><tbody>`,
      ...rows.map((r) => `<tr>${r.map((x) => `<td>${esc(x)}</td>`).join("")}</tr>`),
      `</tbody></table>`,
      `<p>${esc(pairedTestLine(c, results.hasTestSplit ?? false))}</p>`,
      `</section>`,
    );
  }
  return parts.join("\n");
}

/** CSV records of the CONFIRM sections, keyed by the `results.csv` column names. */
export function confirmCsvRecords(results: SweepResults): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const c of results.confirm ?? []) {
    const splits = [["validation", "validation"], ["test", "test"]] as const;
    for (const [split, key] of splits) {
      for (const kind of ["scratch", "distill"] as const) {
        const s = (kind === "scratch" ? c.scratch : c.distilled)[key];
        if (!s) continue;
        const d = kind === "distill" ? c.delta[key] : null;
        const paired = split === "test" && kind === "distill" ? c.pairedTest : null;
        const strongest = split === "validation" && kind === "distill"
          ? c.vsStrongestScratch
          : undefined;
        out.push({
          stage: "confirm",
          split,
          teacher: kind === "scratch" ? "scratch" : c.teacher,
          kind,
          recipe: c.recipe,
          teacher_val_acc: kind === "distill" ? c.teacherValAccuracy : null,
          teacher_gap_acc: kind === "distill" && split === "validation" ? c.teacherGap : null,
          temperature: kind === "distill" ? c.temperature : null,
          lambda: kind === "distill" ? c.lambda : null,
          n_seeds: s.accuracy.n,
          acc_mean: s.accuracy.mean,
          acc_std: s.accuracy.std,
          acc_ci_low: s.accuracy.ci95[0],
          acc_ci_high: s.accuracy.ci95[1],
          f1_mean: s.macroF1.mean,
          f1_std: s.macroF1.std,
          f1_ci_low: s.macroF1.ci95[0],
          f1_ci_high: s.macroF1.ci95[1],
          delta_acc_mean: d?.accuracy.mean,
          delta_acc_ci_low: d?.accuracy.ci95[0],
          delta_acc_ci_high: d?.accuracy.ci95[1],
          delta_f1_mean: d?.macroF1.mean,
          delta_f1_ci_low: d?.macroF1.ci95[0],
          delta_f1_ci_high: d?.macroF1.ci95[1],
          confirm_of: c.teacher,
          paired_test: paired?.name,
          paired_test_n: paired?.n,
          paired_test_p: paired?.p,
          strongest_scratch_recipe: strongest?.recipe,
          delta_strongest_acc_mean: strongest?.accuracy.mean,
          delta_strongest_acc_ci_low: strongest?.accuracy.ci95[0],
          delta_strongest_acc_ci_high: strongest?.accuracy.ci95[1],
        });
      }
    }
  }
  return out;
}
