/**
 * Reports: a sweep folder loaded and summarised (verdicts, CONFIRM sections, the screen table,
 * `report.html`), and the plotly figures the reports and notebooks show.
 *
 * @example The report of a synthetic sweep
 * ```ts
 * import { writeSweepReport, writeSyntheticSweep } from "@kd/vision/report";
 *
 * const dir = await Deno.makeTempDir();
 * await writeSyntheticSweep(dir);
 * const files = await writeSweepReport(dir, { quiet: true });
 * console.log(files.html);
 * ```
 * @module
 */
export { type ReportFiles, writeSweepReport } from "./finish.ts";
export { loadSweep, type RunData, type SweepData, type TestEval } from "./load.ts";
export {
  classBalanceFigure,
  confusionFigure,
  type CurveRun,
  type Figure,
  learningCurvesFigure,
  type Trace,
} from "./figures.ts";
export { type NamedFigure, reportFigures, testTableHtml } from "./html.ts";
export { resultsHtmlTable, resultsMarkdown } from "./table.ts";
export { confirmHtml, confirmMarkdown } from "./confirm.ts";
export { renderFiguresPng } from "./png.ts";
export { SYNTHETIC_EXPERIMENT, type SyntheticOptions, writeSyntheticSweep } from "./synthetic.ts";
export type {
  ArmStats,
  ConfirmPick,
  ConfirmPlan,
  ConfirmResult,
  PairedImageTest,
  ResultRow,
  RunEntry,
  RunStage,
  SweepManifest,
  SweepResults,
  TeacherEntry,
} from "../sweep/types.ts";
