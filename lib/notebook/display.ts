/**
 * Jupyter glue for the notebooks on the Deno kernel: rich outputs (plotly figures as offline
 * HTML with a PNG fallback, tables, images) and displays that update in place. Nothing here
 * needs `Deno.jupyter` at import time: outside a kernel every call falls back to plain text on
 * the console, so `lib/` stays usable from scripts and tests.
 * @module
 */
import { encodeBase64 } from "../core/base64.ts";
import type { Figure } from "../report/figures.ts";
import { figureHtml, plotlyScriptTag } from "../report/plotly.ts";
import { findChromium, renderFiguresPng } from "../report/png.ts";
import { escapeHtml } from "../report/table.ts";

/**
 * A Jupyter MIME bundle: mime type → data (images base64-encoded).
 *
 * @example A table as HTML for Jupyter and as text for everything else
 * ```ts
 * import { type MimeBundle, tableBundle } from "@kd/vision/notebook";
 *
 * const bundle: MimeBundle = tableBundle(["run", "accuracy %"], [["scratch", 80.5]]);
 * console.log(Object.keys(bundle), bundle["text/plain"]);
 * ```
 */
export type MimeBundle = Record<string, string | object>;

/** Options of `Deno.jupyter.display`. */
export interface DisplayOptions {
  raw?: boolean;
  update?: boolean;
  display_id?: string;
}

/** The part of `Deno.jupyter` this module uses. */
export interface JupyterApi {
  display(obj: unknown, opts?: DisplayOptions): Promise<void>;
}

let override: JupyterApi | null | undefined;

/** Test hook: use `api` instead of `Deno.jupyter` (null: none; undefined: detect again). */
export function useJupyterApi(api: JupyterApi | null | undefined): void {
  override = api;
}

/** The kernel's `Deno.jupyter` namespace, or null outside a Jupyter kernel. */
export function jupyter(): JupyterApi | null {
  if (override !== undefined) return override;
  try {
    // Looked up at call time: outside `deno jupyter` the property exists but its getter throws.
    const j = (Deno as unknown as { jupyter?: JupyterApi }).jupyter;
    return j && typeof j.display === "function" ? j : null;
  } catch {
    return null;
  }
}

/** Whether code runs inside the Deno Jupyter kernel. */
export function inJupyter(): boolean {
  return jupyter() !== null;
}

/** Module settings; tests turn `settle` off to avoid waiting. */
export const displaySettings = { settle: true };

/**
 * How long to let an output of `bytes` travel before the cell goes on. The kernel sends outputs
 * in the background; a cell that ends while a large one is still in flight can lose its outputs
 * (seen with Deno 2.9 and nbclient 0.7: nbclient drops what arrives after the cell's idle).
 */
export function settleMs(bytes: number): number {
  return Math.min(4000, Math.round(30 + (bytes / 1e6) * 400));
}

function bundleBytes(bundle: MimeBundle): number {
  let n = 0;
  for (const v of Object.values(bundle)) n += typeof v === "string" ? v.length : 1000;
  return n;
}

/** Show a MIME bundle (console: its `text/plain` part, else a one-line summary). */
export async function display(bundle: MimeBundle, opts: DisplayOptions = {}): Promise<void> {
  const j = jupyter();
  if (j) {
    await j.display(bundle, { raw: true, ...opts });
    if (displaySettings.settle) {
      await new Promise((r) => setTimeout(r, settleMs(bundleBytes(bundle))));
    }
    return;
  }
  const text = bundle["text/plain"];
  console.log(
    typeof text === "string" ? text : `[${Object.keys(bundle).join(", ")} output not shown]`,
  );
}

let plotlyLoaded = false;

/**
 * Put plotly.js (inlined, offline) into the page once per kernel session, as its own output:
 * figures after it stay small messages. {@linkcode showFigure} calls it when needed.
 */
export async function loadPlotly(opts: { force?: boolean } = {}): Promise<void> {
  if (!inJupyter() || (plotlyLoaded && !opts.force)) return;
  await display({
    "text/html": `${plotlyScriptTag()}<div style="color:#888;font-size:11px">plotly.js ` +
      `inlined (offline) for the figures below</div>`,
    "text/plain": "[plotly.js loaded]",
  });
  plotlyLoaded = true;
}

/**
 * Options of {@linkcode showFigure}.
 *
 * @example A figure without the PNG fallback, in an element of its own
 * ```ts
 * import { type ShowFigureOptions, showFigure } from "@kd/vision/notebook";
 * import { confusionFigure } from "@kd/vision/report";
 *
 * const opts: ShowFigureOptions = { png: false, id: "confusion-validation" };
 * await showFigure(confusionFigure([[5, 0], [1, 4]], ["healthy", "sick"], "validation"), opts);
 * ```
 */
export interface ShowFigureOptions {
  /** Add an `image/png` rendering (headless Chromium; default: when Chromium is installed). */
  png?: boolean;
  /** Element id (default: a fresh one). */
  id?: string;
}

/**
 * Display a plotly figure as offline `text/html` (plotly.js is loaded into the page once, by
 * {@linkcode loadPlotly}) plus an `image/png` fallback rendered by headless Chromium.
 *
 * @example A plotly figure (interactive in Jupyter)
 * ```ts
 * import { showFigure } from "@kd/vision/notebook";
 * import { confusionFigure } from "@kd/vision/report";
 *
 * await showFigure(confusionFigure([[5, 1], [0, 6]], ["healthy", "bean_rust"], "validation"));
 * ```
 */
export async function showFigure(fig: Figure, opts: ShowFigureOptions = {}): Promise<void> {
  await loadPlotly();
  const id = opts.id ?? `fig-${crypto.randomUUID().slice(0, 8)}`;
  // If plotly.js is missing (the output that carried it was cleared), say so, not a blank cell.
  const html = figureHtml(fig, id, {
    missingPlotlyMessage: "plotly.js is not loaded in this page: re-run the notebook from the " +
      "top (an early output carries plotly.js)",
  });
  const bundle: MimeBundle = {
    "text/html": html,
    "text/plain": `[plotly figure: ${figureTitle(fig)}]`,
  };
  const wantPng = opts.png ?? (Deno.env.get("KD_NOTEBOOK_PNG") !== "0" && !!findChromium());
  if (wantPng && inJupyter()) {
    const [png] = await renderFiguresPng([fig]);
    bundle["image/png"] = encodeBase64(png);
  }
  await display(bundle);
}

/** Base64 of bytes (Jupyter wants images base64-encoded). */
export { encodeBase64 };

function figureTitle(fig: Figure): string {
  const t = fig.layout.title as { text?: string } | string | undefined;
  return (typeof t === "string" ? t : t?.text) ?? "untitled";
}

/**
 * Display PNG bytes, with an optional caption below.
 *
 * @example A PNG with a caption
 * ```ts
 * import { rgbToPng, showPng } from "@kd/vision/notebook";
 *
 * await showPng(await rgbToPng(new Uint8Array(4 * 4 * 3).fill(200), 4), { caption: "grey" });
 * ```
 */
export async function showPng(
  png: Uint8Array,
  opts: { caption?: string } = {},
): Promise<void> {
  await display({
    "image/png": encodeBase64(png),
    "text/plain": `[image${opts.caption ? `: ${opts.caption}` : ""}]`,
  });
  if (opts.caption) await showMarkdown(`*${opts.caption}*`);
}

/**
 * Display markdown.
 *
 * @example Markdown in Jupyter, the source text elsewhere
 * ```ts
 * import { showMarkdown } from "@kd/vision/notebook";
 *
 * await showMarkdown("**Teacher** `hf-dir:tests/fixtures/vit_tiny`");
 * ```
 */
export async function showMarkdown(md: string): Promise<void> {
  await display({ "text/markdown": md, "text/plain": md });
}

/**
 * Display an HTML fragment (with a plain-text alternative).
 *
 * @example HTML, with a text fallback
 * ```ts
 * import { showHtml } from "@kd/vision/notebook";
 *
 * await showHtml("<b>done</b>", "done");
 * ```
 */
export async function showHtml(html: string, text = "[html]"): Promise<void> {
  await display({ "text/html": html, "text/plain": text });
}

/**
 * An HTML table from a header and string rows (plus a plain-text alternative).
 *
 * @example The MIME bundle of a table, to combine with other output
 * ```ts
 * import { tableBundle } from "@kd/vision/notebook";
 *
 * const t = tableBundle(["epoch", "loss"], [[1, 0.9]]);
 * console.log(Object.keys(t)); // text/html, text/plain
 * ```
 */
export function tableBundle(header: string[], rows: (string | number)[][]): MimeBundle {
  const cell = (v: string | number) => escapeHtml(String(v));
  const html = `<table><thead><tr>${header.map((h) => `<th>${cell(h)}</th>`).join("")}</tr>` +
    `</thead><tbody>${
      rows.map((r) => `<tr>${r.map((v) => `<td>${cell(v)}</td>`).join("")}</tr>`).join("")
    }</tbody></table>`;
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (r: (string | number)[]) => r.map((v, i) => String(v).padEnd(widths[i])).join("  ");
  return { "text/html": html, "text/plain": [line(header), ...rows.map(line)].join("\n") };
}

/**
 * Display a table.
 *
 * @example A table: HTML in Jupyter, text elsewhere
 * ```ts
 * import { showTable } from "@kd/vision/notebook";
 *
 * await showTable(["run", "accuracy %"], [["scratch", 80.5], ["distilled", 85.7]]);
 * ```
 */
export async function showTable(header: string[], rows: (string | number)[][]): Promise<void> {
  await display(tableBundle(header, rows));
}

/**
 * A display that is replaced in place on every `update` (live progress in a cell).
 *
 * @example One output replaced in place, e.g. a progress row per epoch
 * ```ts
 * import { LiveDisplay } from "@kd/vision/notebook";
 *
 * const live = new LiveDisplay();
 * for (const epoch of [1, 2]) await live.update({ "text/plain": `epoch ${epoch} done` });
 * ```
 */
export class LiveDisplay {
  #id = `live-${crypto.randomUUID().slice(0, 8)}`;
  #shown = false;

  /** Show `bundle`, replacing what this display showed before. */
  async update(bundle: MimeBundle): Promise<void> {
    if (!inJupyter()) return await display(bundle);
    // Marked shown before awaiting, so an update fired before the first resolves still updates.
    const update = this.#shown;
    this.#shown = true;
    await display(bundle, { display_id: this.#id, update });
  }
}
