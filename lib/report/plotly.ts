/**
 * plotly.js for offline pages: the library source read from the installed `plotly.js-dist`
 * package (inlined, never fetched from a CDN) and the HTML snippet that draws one figure.
 * @module
 */
import { createRequire } from "node:module";
import { UserError } from "../core/errors.ts";
import type { Figure } from "./figures.ts";

let cached: string | undefined;

function candidates(): string[] {
  const out = [new URL("../../node_modules/plotly.js-dist/plotly.js", import.meta.url).pathname];
  try {
    out.push(createRequire(import.meta.url).resolve("plotly.js-dist"));
  } catch {
    // Not resolvable through node resolution; the node_modules path above is the main route.
  }
  return out;
}

/** Path of the installed `plotly.js` bundle; a UserError says how to install it when absent. */
export function plotlyPath(): string {
  for (const p of candidates()) {
    try {
      if (Deno.statSync(p).isFile) return p;
    } catch {
      // try the next candidate
    }
  }
  throw new UserError(
    "plotly.js not found in node_modules/plotly.js-dist; run `deno install` in the repository " +
      "(deno.json maps plotly.js-dist)",
  );
}

/** The plotly.js source, safe to put inside a `<script>` element (read once per process). */
export function plotlySource(): string {
  cached ??= Deno.readTextFileSync(plotlyPath()).replaceAll("</script", "<\\/script");
  return cached;
}

/** `<script>` element that defines `window.Plotly`. */
export function plotlyScriptTag(): string {
  return `<script type="text/javascript">${plotlySource()}</script>`;
}

/** JSON for embedding in a `<script>` (no `</script>` or HTML comment can end it early). */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value).replaceAll("<", "\\u003c").replaceAll(">", "\\u003e")
    .replaceAll("\u2028", "\\u2028").replaceAll("\u2029", "\\u2029");
}

/** Options of {@linkcode figureHtml}. */
export interface FigureHtmlOptions {
  /** Static image-like plot (no hover, no mode bar): used for PNG rendering. */
  staticPlot?: boolean;
  /** Fixed size in pixels (default: the layout's, width responsive). */
  width?: number;
  height?: number;
  /** Shown in place of the plot when `window.Plotly` is missing (else the plot just fails). */
  missingPlotlyMessage?: string;
}

/** A `<div>` plus the `<script>` that draws `fig` into it (needs `window.Plotly` defined). */
export function figureHtml(fig: Figure, id: string, opts: FigureHtmlOptions = {}): string {
  const layout = { ...fig.layout };
  if (opts.width) layout.width = opts.width;
  if (opts.height) layout.height = opts.height;
  const config = opts.staticPlot
    ? { staticPlot: true, displayModeBar: false }
    : { responsive: true, displaylogo: false };
  const safeId = id.replace(/[^\w-]/g, "_");
  const draw = `Plotly.newPlot(${scriptJson(safeId)}, ${scriptJson(fig.data)}, ${
    scriptJson(layout)
  }, ${scriptJson(config)});`;
  const body = opts.missingPlotlyMessage
    ? `if (window.Plotly) { ${draw} } else { document.getElementById(${
      scriptJson(safeId)
    }).innerText = ${scriptJson(opts.missingPlotlyMessage)}; }`
    : draw;
  return `<div id="${safeId}" class="plotly-figure"></div>\n` +
    `<script type="text/javascript">${body}</script>`;
}
