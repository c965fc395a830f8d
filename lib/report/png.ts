/**
 * PNG export of plotly figures with headless Chromium: each figure is drawn as a static plot in
 * its own small offline page (plotly inlined) and screenshotted with a throwaway profile and home
 * (`chromiumHome`).
 * @module
 */
import { join } from "node:path";
import type { Figure } from "./figures.ts";
import { figureHtml, plotlyScriptTag } from "./plotly.ts";
import {
  chromiumError,
  chromiumHome,
  chromiumReason,
  findChromium,
  headlessArgs,
  noChromiumMessage,
  spawnChromium,
} from "../core/chromium.ts";
import { UserError } from "../core/errors.ts";

export { findChromium } from "../core/chromium.ts";

/** The one line printed when PNG export is skipped. */
export function noChromiumPngMessage(): string {
  return `PNG export skipped: ${noChromiumMessage()}`;
}

/** Pixel size a figure is rendered at: its layout's size, else 900×500. */
export function figureSize(fig: Figure): { width: number; height: number } {
  const w = fig.layout.width, h = fig.layout.height;
  return {
    width: typeof w === "number" ? w : 900,
    height: typeof h === "number" ? h : 500,
  };
}

/** A standalone offline page that draws `fig` statically at a fixed size. */
export function staticFigurePage(fig: Figure, size = figureSize(fig)): string {
  return `<!DOCTYPE html><html><head><meta charset="utf-8">` +
    `<style>html,body{margin:0;padding:0;background:#fff;overflow:hidden}</style></head><body>` +
    plotlyScriptTag() +
    figureHtml(fig, "figure", { staticPlot: true, ...size }) +
    `</body></html>`;
}

/**
 * Render figures to PNG bytes with headless Chromium (throws when Chromium is missing/fails).
 *
 * @example PNG bytes of a figure, when Chromium is installed
 * ```ts
 * import { confusionFigure, renderFiguresPng } from "@kd/vision/report";
 *
 * const fig = confusionFigure([[5, 1], [0, 6]], ["healthy", "bean_rust"], "validation");
 * try {
 *   const [png] = await renderFiguresPng([fig]);
 *   console.log(png.length);
 * } catch (e) {
 *   console.log((e as Error).message); // no Chromium here: PNG export skipped
 * }
 * ```
 */
export async function renderFiguresPng(
  figures: Figure[],
  opts: { chromium?: string; timeoutMs?: number } = {},
): Promise<Uint8Array[]> {
  const chromium = opts.chromium ?? findChromium();
  if (!chromium) throw new UserError(noChromiumPngMessage());
  const home = await chromiumHome("kd-png-");
  const tmp = home.dir;
  try {
    const out: Uint8Array[] = [];
    for (const [i, fig] of figures.entries()) {
      const size = figureSize(fig);
      const page = join(tmp, `figure-${i}.html`);
      const png = join(tmp, `figure-${i}.png`);
      await Deno.writeTextFile(page, staticFigurePage(fig, size));
      const args = [
        ...headlessArgs(`${home.profile}-${i}`),
        `--screenshot=${png}`,
        `--window-size=${size.width},${size.height}`,
        // Virtual time lets the page finish drawing before the screenshot, without a fixed sleep.
        "--virtual-time-budget=10000",
        `file://${page}`,
      ];
      const child = spawnChromium(chromium, args, home, { stdout: "piped", stderr: "piped" });
      const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 60_000);
      const res = await child.output().finally(() => clearTimeout(timer));
      let bytes: Uint8Array | null = null;
      try {
        bytes = await Deno.readFile(png);
      } catch {
        // reported below
      }
      if (!res.success || !bytes?.length) {
        const why = chromiumReason(new TextDecoder().decode(res.stderr));
        throw chromiumError(chromium, `could not render figure ${i} (exit ${res.code})`, why);
      }
      out.push(bytes);
    }
    return out;
  } finally {
    await home.remove();
  }
}

/** Render named figures to `<dir>/<name>.png`; returns the paths written. */
export async function writeFigurePngs(
  dir: string,
  figures: { name: string; figure: Figure }[],
  opts: { chromium?: string } = {},
): Promise<string[]> {
  const pngs = await renderFiguresPng(figures.map((f) => f.figure), opts);
  await Deno.mkdir(dir, { recursive: true });
  const paths: string[] = [];
  for (const [i, f] of figures.entries()) {
    const path = join(dir, `${f.name}.png`);
    await Deno.writeFile(path, pngs[i]);
    paths.push(path);
  }
  return paths;
}
