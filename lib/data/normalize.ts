/**
 * The normalisation step of the preprocessing, `(x/255 - mean)/std`, in its own dependency-free
 * module (no imports) so that the browser demo runs exactly this code (it is bundled for the
 * page).
 * @module
 */
/**
 * Write `(x/255 - mean)/std` of uint8 HWC RGB `pixels` into `out` (NHWC float32) at `offset`.
 *
 * @example uint8 pixels scaled to [0, 1], then (x − mean) / std
 * ```ts
 * import { normalizeInto, preprocessOptions } from "@kd/vision/data";
 * import { assertEquals } from "@std/assert";
 *
 * const out = new Float32Array(3);
 * normalizeInto(Uint8Array.from([0, 255, 0]), out, 0, preprocessOptions({ size: 1 }));
 * assertEquals([...out], [-1, 1, -1]);
 * ```
 */
export function normalizeInto(
  pixels: Uint8Array,
  out: Float32Array,
  offset: number,
  pre: { readonly mean: readonly number[]; readonly std: readonly number[] },
): void {
  // transformers' order and precision: rescale in float64 then cast to float32, then
  // (x - mean) / std in float32. This reproduces its pixel_values bit for bit.
  const f = Math.fround;
  const m = pre.mean.map(f);
  const sd = pre.std.map(f);
  const lut = new Float32Array(256 * 3);
  for (let c = 0; c < 3; c++) {
    for (let v = 0; v < 256; v++) lut[c * 256 + v] = f(f(f(v * (1 / 255)) - m[c]) / sd[c]);
  }
  for (let i = 0; i < pixels.length; i += 3) {
    out[offset + i] = lut[pixels[i]];
    out[offset + i + 1] = lut[256 + pixels[i + 1]];
    out[offset + i + 2] = lut[512 + pixels[i + 2]];
  }
}
