/**
 * Notebooks on the Deno Jupyter kernel: rich display (tables, markdown, plotly figures, PNGs, a
 * live-updating output) that prints plain text outside Jupyter, image grids, and the settings
 * the repository's notebooks read from the environment.
 *
 * @example A table, shown as HTML in Jupyter and as text elsewhere
 * ```ts
 * import { showTable } from "@kd/vision/notebook";
 *
 * await showTable(["run", "accuracy %"], [["scratch", 80.5], ["distilled", 85.7]]);
 * ```
 * @module
 */
export {
  LiveDisplay,
  type MimeBundle,
  showFigure,
  type ShowFigureOptions,
  showHtml,
  showMarkdown,
  showPng,
  showTable,
  tableBundle,
} from "./display.ts";
export { type GridOptions, imageGridPng, rgbToPng } from "./images.ts";
export {
  latestSweepDir,
  notebookDataDir,
  notebookDataLabel,
  notebookOutDir,
  notebookProfile,
} from "./paths.ts";
export { type NotebookTeacher, notebookTeacher } from "./teacher.ts";
export { compareWithTeacher, type StudentTeacherComparison } from "./analysis.ts";
