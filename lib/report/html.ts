/**
 * The sweep report: one self-contained `report.html` (plotly.js inlined once, works offline)
 * with the validation results table and figures, a separate clearly marked table for any
 * test-split evaluations, and optional PNG exports of every figure.
 * @module
 */
import { join } from "node:path";
import { writeFileAtomic } from "../core/fs.ts";
import {
  accuracyVsTemperatureFigure,
  armsFigure,
  confirmDeltaFigure,
  confusionFigure,
  curvesColouredByArm,
  deltaVsScratchFigure,
  type Figure,
  learningCurvesFigure,
} from "./figures.ts";
import { bestRun, loadSweep, type RunData, type SweepData } from "./load.ts";
import { figureHtml, plotlyScriptTag } from "./plotly.ts";
import { findChromium, noChromiumPngMessage, writeFigurePngs } from "./png.ts";
import { escapeHtml, resultsHtmlTable } from "./table.ts";
import { readSweepTradeoff, tradeoffSectionHtml } from "./tradeoff.ts";
import type { TradeoffTable } from "../export/tradeoff.ts";
import { confirmHtml } from "./confirm.ts";

/**
 * A figure of the report with its file name (for PNG export) and a caption.
 *
 * @example The report's figures as plotly JSON files
 * ```ts
 * import { loadSweep, type NamedFigure, reportFigures, writeSyntheticSweep } from "@kd/vision/report";
 *
 * const dir = await Deno.makeTempDir();
 * await writeSyntheticSweep(dir);
 * const figures: NamedFigure[] = reportFigures(await loadSweep(dir));
 * for (const f of figures) {
 *   await Deno.writeTextFile(`${dir}/${f.name}.json`, JSON.stringify(f.figure));
 * }
 * console.log(figures.map((f) => f.name));
 * ```
 */
export interface NamedFigure {
  /** File-name stem, e.g. `accuracy_vs_temperature` (`figures/<name>.png`). */
  name: string;
  /** One or two sentences under the figure: what it shows and how to read it. */
  caption: string;
  /** The plotly figure. */
  figure: Figure;
}

function runLabel(r: RunData): string {
  return r.kind === "scratch" ? `${r.id} (scratch)` : `${r.id}`;
}

/**
 * Every figure of the report, in page order (figures without data are left out).
 *
 * @example Every figure of report.html, named and captioned
 * ```ts
 * import { loadSweep, reportFigures, writeSyntheticSweep } from "@kd/vision/report";
 *
 * const dir = await Deno.makeTempDir();
 * await writeSyntheticSweep(dir);
 * for (const f of reportFigures(await loadSweep(dir))) console.log(f.name, f.caption);
 * ```
 */
export function reportFigures(sweep: SweepData): NamedFigure[] {
  const out: NamedFigure[] = [];
  const { results, runs } = sweep;
  const arms = results.rows.some((r) => r.recipe);
  if (results.confirm?.length) {
    out.push({
      name: "confirm_delta",
      caption: `CONFIRM: each ${arms ? "arm's and " : ""}teacher's screen pick against ` +
        `scratch${arms ? " of the same arm" : ""} on fresh seeds, paired by seed; dots are ` +
        "single seeds, diamonds the mean with its 95% t interval.",
      figure: confirmDeltaFigure(results),
    });
  }
  if (arms && results.rows.some((r) => r.kind === "distill")) {
    out.push({
      name: "arms",
      caption: "Each recipe arm's scratch and distilled students (validation accuracy, 95% CI) " +
        "beside each teacher's own accuracy (dotted lines): the gain over the arm's scratch and " +
        "the remaining gap to the teacher.",
      figure: armsFigure(results),
    });
  }
  if (results.rows.some((r) => r.kind === "distill")) {
    out.push({
      name: "accuracy_vs_temperature",
      caption: arms
        ? "Validation accuracy of each (arm, teacher, λ) against the temperature, one colour " +
          "per arm (teachers by line style); dashed lines are each arm's scratch mean."
        : "Validation accuracy of each (teacher, λ) against the temperature; the grey band " +
          "is the scratch baseline (mean ± 95% CI over seeds).",
      figure: accuracyVsTemperatureFigure(results),
    });
  }
  if (results.rows.some((r) => r.deltaAccuracy)) {
    out.push({
      name: "delta_vs_scratch",
      caption: "Gain of each distilled configuration over scratch" +
        (arms ? " of the same recipe arm (one colour per arm)" : "") +
        ", paired by seed (same init and data order); error bars are the 95% CI of the " +
        "paired difference.",
      figure: deltaVsScratchFigure(results),
    });
  }
  if (runs.some((r) => r.metrics.length)) {
    out.push({
      name: "learning_curves",
      caption: "Validation accuracy and training loss per epoch (metrics.jsonl): each run a " +
        "line, the mean of a configuration's seeds in bold; " +
        (curvesColouredByArm(runs)
          ? "one colour per recipe arm, its scratch runs dashed."
          : "scratch runs dashed grey."),
      figure: learningCurvesFigure(runs),
    });
  }
  for (const kind of ["distill", "scratch"] as const) {
    const best = bestRun(runs, kind);
    if (!best?.final) continue;
    const acc = (best.final.validation.accuracy * 100).toFixed(2);
    out.push({
      name: `confusion_best_${kind}`,
      caption:
        `Validation confusion matrix of the best ${kind === "distill" ? "distilled" : "scratch"}` +
        ` run ${best.id} (best epoch ${best.final.best_epoch}, accuracy ${acc}%).`,
      figure: confusionFigure(
        best.final.validation.confusion,
        best.final.class_names,
        `Best ${kind === "distill" ? "distilled" : "scratch"}: ${runLabel(best)}, ${acc}%`,
      ),
    });
  }
  return out;
}

/**
 * HTML table of test-split evaluations (`test_eval.json`), or "" when there are none.
 *
 * @example The per-run TEST table (empty string without test evaluations)
 * ```ts
 * import { loadSweep, testTableHtml, writeSyntheticSweep } from "@kd/vision/report";
 *
 * const dir = await Deno.makeTempDir();
 * await writeSyntheticSweep(dir);
 * console.log(testTableHtml((await loadSweep(dir)).runs).length);
 * ```
 */
export function testTableHtml(runs: RunData[]): string {
  const tested = runs.filter((r) => r.testEval);
  if (!tested.length) return "";
  const rows = tested.map((r) => {
    const t = r.testEval!;
    const cells = [
      r.id,
      r.kind,
      r.teacher ?? "–",
      r.temperature === null ? "–" : String(r.temperature),
      r.lambda === null ? "–" : String(r.lambda),
      r.seed === null ? "–" : String(r.seed),
      (t.accuracy * 100).toFixed(2),
      (t.macro_f1 * 100).toFixed(2),
      String(t.n),
    ];
    return `<tr>${cells.map((c) => `<td>${escapeHtml(c)}</td>`).join("")}</tr>`;
  });
  const header = [
    "run",
    "kind",
    "teacher",
    "T",
    "λ",
    "seed",
    "TEST accuracy %",
    "TEST macro-F1 %",
    "n",
  ];
  return [
    `<section class="test"><h2>TEST split (held out; not used for any selection)</h2>`,
    `<p class="warn">Per-run test evaluations (<code>test_eval.json</code>): the sweep writes ` +
    `them for its confirm runs once, after every confirm run finished; ` +
    `<code>deno task eval --split test</code> writes them for any other run. They must not be ` +
    `used to pick among configurations.</p>`,
    `<table class="results" data-split="test"><thead><tr>${
      header.map((h) => `<th>${escapeHtml(h)}</th>`).join("")
    }</tr></thead><tbody>`,
    ...rows,
    `</tbody></table></section>`,
  ].join("\n");
}

const STYLE = `
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1200px;padding:0 1em;color:#222}
table.results{border-collapse:collapse;font-size:13px;margin:1em 0}
table.results th,table.results td{border:1px solid #ccc;padding:4px 8px;text-align:right}
table.results th{background:#f3f3f3}
table.results td:first-child,table.results td:nth-child(2){text-align:left}
table.results[data-split=test] th{background:#fde2c8}
.note{background:#eef5ff;border-left:4px solid #1f77b4;padding:.6em 1em}
.warn{background:#fff4e5;border-left:4px solid #ff7f0e;padding:.6em 1em}
.row{display:flex;flex-wrap:wrap;gap:2em}.row figure{flex:0 0 auto;width:480px}
figure{margin:1.5em 0}figcaption{color:#555;font-size:13px}
`;

/** The whole report page as one string (plotly.js inlined exactly once). */
export function renderReportHtml(sweep: SweepData, tradeoff: TradeoffTable | null = null): string {
  const { results, manifest, runs } = sweep;
  const figures = reportFigures(sweep);
  const finished = runs.filter((r) => r.final).length;
  const fig = (f: NamedFigure) =>
    `<figure id="fig-${f.name}">${figureHtml(f.figure, `plot-${f.name}`)}` +
    `<figcaption>${escapeHtml(f.caption)}</figcaption></figure>`;
  const confusion = figures.filter((f) => f.name.startsWith("confusion_"));
  const others = figures.filter((f) => !f.name.startsWith("confusion_"));
  return [
    `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">`,
    `<title>${escapeHtml(results.experiment)} — sweep report</title>`,
    `<style>${STYLE}</style>`,
    plotlyScriptTag(),
    `</head><body>`,
    `<h1>${escapeHtml(results.experiment)}: sweep report</h1>`,
    `<p>Profile <code>${escapeHtml(results.profile)}</code>` +
    (manifest ? ` — ${escapeHtml(manifest.description.replace(/\.$/, ""))}` : "") +
    `. ${finished} of ${runs.length} runs finished; results generated ${
      escapeHtml(results.generatedAt)
    }.</p>`,
    confirmHtml(results),
    `<h2>SCREEN: every configuration (validation split)</h2>`,
    resultsHtmlTable(results),
    ...others.map(fig),
    confusion.length ? `<h2>Confusion matrices (validation)</h2><div class="row">` : "",
    ...confusion.map(fig),
    confusion.length ? `</div>` : "",
    testTableHtml(runs),
    tradeoffSectionHtml(tradeoff, sweep.dir),
    `</body></html>`,
  ].join("\n");
}

/** Write `report.html` (and with `png`, `figures/<name>.png` when Chromium is installed). */
export async function writeReport(
  dir: string,
  opts: { png?: boolean; quiet?: boolean } = {},
): Promise<{ html: string; pngs: string[] | null }> {
  const sweep = await loadSweep(dir);
  const html = join(dir, "report.html");
  await writeFileAtomic(html, renderReportHtml(sweep, await readSweepTradeoff(dir)));
  let pngs: string[] | null = null;
  if (opts.png) {
    const chromium = findChromium();
    if (!chromium) console.error(noChromiumPngMessage());
    else {
      const figures = reportFigures(sweep);
      if (!opts.quiet) {
        console.error(`rendering ${figures.length} figure(s) to PNG with ${chromium}`);
      }
      pngs = await writeFigurePngs(join(dir, "figures"), figures, { chromium });
    }
  }
  return { html, pngs };
}
