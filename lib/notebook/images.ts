/**
 * Image helpers for notebooks: PNG encoding of raw RGB pixels and grids of images with row
 * labels, composed in memory and encoded with sharp.
 * @module
 */
import { loadSharp } from "../data/sharp.ts";
import { Buffer } from "node:buffer";
import { escapeHtml } from "../report/table.ts";

/**
 * PNG bytes of an RGB image (`width*height*3` uint8, HWC), optionally scaled to `scaleTo` wide.
 *
 * @example PNG bytes of raw RGB pixels, enlarged
 * ```ts
 * import { rgbToPng } from "@kd/vision/notebook";
 *
 * const png = await rgbToPng(new Uint8Array(2 * 2 * 3).fill(128), 2, 2, 64);
 * console.log(png.length);
 * ```
 */
export async function rgbToPng(
  pixels: Uint8Array,
  width: number,
  height = width,
  scaleTo?: number,
): Promise<Uint8Array> {
  const sharp = await loadSharp();
  let img = sharp(pixels, { raw: { width, height, channels: 3 } });
  // Nearest-neighbour so small inputs (32 px) stay visibly pixelated rather than blurred.
  if (scaleTo && scaleTo !== width) img = img.resize(scaleTo, undefined, { kernel: "nearest" });
  return new Uint8Array(await img.png().toBuffer());
}

/**
 * Options of {@linkcode imageGridPng}.
 *
 * @example Three validation images per class, one row per class, captioned with their ids
 * ```ts
 * import { type GridOptions, imageGridPng, showPng } from "@kd/vision/notebook";
 * import { imagePixels, loadSplit } from "@kd/vision/data";
 *
 * const val = await loadSplit({
 *   data: "tests/fixtures/beans",
 *   split: "validation",
 *   preprocess: { size: 32 },
 *   quiet: true,
 * });
 * const rows = val.classNames.map((_, c) =>
 *   [...val.labels.keys()].filter((i) => val.labels[i] === c).slice(0, 3)
 * );
 * const opts: GridOptions = {
 *   pad: 2,
 *   rowLabels: val.classNames,
 *   captions: rows.flat().map((i) => val.ids[i].split("/").pop()!),
 *   labelWidth: 120,
 * };
 * const png = await imageGridPng(rows.map((r) => r.map((i) => imagePixels(val, i))), 32, opts);
 * await showPng(png, { caption: "validation images by class" });
 * ```
 */
export interface GridOptions {
  /** Gap between tiles in pixels. */
  pad?: number;
  /** One label per row, drawn in a strip on the left. */
  rowLabels?: string[];
  /** One caption per tile in row-major order, drawn under it (e.g. predictions). */
  captions?: string[];
  /** Width of the label strip in pixels. */
  labelWidth?: number;
}

/**
 * A PNG grid of `rows × cols` square RGB tiles (`tiles[r][c]`, each `size*size*3` uint8;
 * missing tiles stay white), with optional row labels and per-tile captions.
 *
 * @example Two rows of fixture images with row labels
 * ```ts
 * import { imageGridPng } from "@kd/vision/notebook";
 * import { imagePixels, loadSplit } from "@kd/vision/data";
 *
 * const val = await loadSplit({ data: "tests/fixtures/beans", split: "validation", preprocess: { size: 32 }, quiet: true });
 * const tiles = [[0, 1], [2, 3]].map((row) => row.map((i) => imagePixels(val, i)));
 * const png = await imageGridPng(tiles, 32, { rowLabels: ["a", "b"] });
 * console.log(png.length);
 * ```
 */
export async function imageGridPng(
  tiles: (Uint8Array | undefined)[][],
  size: number,
  opts: GridOptions = {},
): Promise<Uint8Array> {
  const pad = opts.pad ?? 4;
  const rows = tiles.length;
  const cols = Math.max(0, ...tiles.map((r) => r.length));
  const labelW = opts.rowLabels ? (opts.labelWidth ?? 150) : 0;
  const captionH = opts.captions ? 16 : 0;
  const cellH = size + captionH;
  const width = labelW + pad + cols * (size + pad);
  const height = pad + rows * (cellH + pad);
  const canvas = new Uint8Array(width * height * 3).fill(255);
  tiles.forEach((row, r) =>
    row.forEach((tile, c) => {
      if (!tile) return;
      if (tile.length !== size * size * 3) {
        throw new RangeError(
          `tile [${r}][${c}] has ${tile.length} bytes, expected ${size * size * 3}`,
        );
      }
      const x0 = labelW + pad + c * (size + pad), y0 = pad + r * (cellH + pad);
      for (let y = 0; y < size; y++) {
        canvas.set(tile.subarray(y * size * 3, (y + 1) * size * 3), ((y0 + y) * width + x0) * 3);
      }
    })
  );
  const texts: string[] = [];
  opts.rowLabels?.forEach((label, r) => {
    const y = pad + r * (cellH + pad) + size / 2;
    texts.push(
      `<text x="6" y="${y}" font-size="14" dominant-baseline="middle">${escapeHtml(label)}</text>`,
    );
  });
  opts.captions?.forEach((caption, i) => {
    const r = Math.floor(i / cols), c = i % cols;
    const x = labelW + pad + c * (size + pad) + size / 2;
    const y = pad + r * (cellH + pad) + size + 12;
    texts.push(
      `<text x="${x}" y="${y}" font-size="11" text-anchor="middle">${escapeHtml(caption)}</text>`,
    );
  });
  const sharp = await loadSharp();
  let img = sharp(canvas, { raw: { width, height, channels: 3 } });
  if (texts.length) {
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">` +
      `<g font-family="sans-serif" fill="#222">${texts.join("")}</g></svg>`;
    img = sharp(await img.png().toBuffer()).composite([{ input: Buffer.from(svg) }]);
  }
  return new Uint8Array(await img.png().toBuffer());
}
