/**
 * Pillow's `Image.resize(size, BILINEAR)` for 8-bit images, reimplemented bit for bit so that
 * pixels match Hugging Face's `ViTImageProcessor` (which resizes through PIL). Pillow's resampler
 * is a separable, antialiased convolution (the triangle filter's support grows with the downscale
 * factor), run horizontally then vertically, with fixed-point coefficients and rounding and
 * clipping to uint8 after each pass. sharp/libvips kernels differ, hence this module.
 * Mirrors `src/libImaging/Resample.c` (precompute_coeffs, normalize_coeffs_8bpc, *_8bpc passes).
 * @module
 */

/** Fixed-point fraction bits Pillow uses for 8-bit images: 32 - 8 (result) - 2 (overflow). */
const PRECISION_BITS = 32 - 8 - 2;

/** A source-space crop box `[x0, y0, x1, y1]` (floats, like PIL's `box=` argument). */
export type Box = [number, number, number, number];

interface Coeffs {
  ksize: number;
  bounds: Int32Array; // [xmin, count] per output pixel
  weights: Int32Array; // ksize fixed-point weights per output pixel
}

function triangle(x: number): number {
  if (x < 0) x = -x;
  return x < 1 ? 1 - x : 0;
}

/** Per-output-pixel source range and fixed-point weights for one axis (Pillow's precompute_coeffs). */
function precompute(inSize: number, in0: number, in1: number, outSize: number): Coeffs {
  const scale = (in1 - in0) / outSize;
  const filterscale = scale < 1 ? 1 : scale;
  const support = 1.0 * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const weights = new Int32Array(outSize * ksize);
  const k = new Float64Array(ksize);
  const ss = 1 / filterscale;
  for (let xx = 0; xx < outSize; xx++) {
    const center = in0 + (xx + 0.5) * scale;
    // C's (int) cast truncates toward zero.
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const w = triangle((x + xmin - center + 0.5) * ss);
      k[x] = w;
      ww += w;
    }
    for (let x = 0; x < ksize; x++) {
      const v = x < xmax ? (ww !== 0 ? k[x] / ww : k[x]) : 0;
      weights[xx * ksize + x] = Math.trunc(
        v < 0 ? -0.5 + v * (1 << PRECISION_BITS) : 0.5 + v * (1 << PRECISION_BITS),
      );
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { ksize, bounds, weights };
}

function clip8(v: number): number {
  const s = v >> PRECISION_BITS;
  return s < 0 ? 0 : s > 255 ? 255 : s;
}

/**
 * Resize interleaved uint8 pixels (`channels` per pixel) from `w`x`h` to `outW`x`outH` exactly as
 * Pillow's BILINEAR resize does, optionally reading only the source region `box`.
 */
export function resizeBilinearPIL(
  src: Uint8Array,
  w: number,
  h: number,
  outW: number,
  outH: number,
  channels = 3,
  box: Box = [0, 0, w, h],
): Uint8Array {
  if (src.length !== w * h * channels) {
    throw new Error(
      `resize: expected ${w * h * channels} bytes for ${w}x${h}x${channels}, got ${src.length}`,
    );
  }
  // PIL passes the box as C floats.
  const [x0, y0, x1, y1] = box.map(Math.fround);
  const needH = outW !== w || x0 !== 0 || x1 !== outW;
  const needV = outH !== h || y0 !== 0 || y1 !== outH;
  const vert = precompute(h, y0, y1, outH);
  const half = 1 << (PRECISION_BITS - 1);
  const acc = new Float64Array(channels);

  // Horizontal pass over only the rows the vertical pass will read (as Pillow does).
  let img = src;
  let imgW = w;
  let rowOffset = 0;
  if (needH) {
    const first = vert.bounds[0];
    const last = vert.bounds[outH * 2 - 2] + vert.bounds[outH * 2 - 1];
    const rows = last - first;
    const hor = precompute(w, x0, x1, outW);
    const tmp = new Uint8Array(outW * rows * channels);
    const { ksize, bounds, weights } = hor;
    for (let yy = 0; yy < rows; yy++) {
      const rowBase = (yy + first) * w * channels;
      for (let xx = 0; xx < outW; xx++) {
        const xmin = bounds[xx * 2];
        const xn = bounds[xx * 2 + 1];
        const kb = xx * ksize;
        acc.fill(half);
        for (let x = 0; x < xn; x++) {
          const kw = weights[kb + x];
          const p = rowBase + (x + xmin) * channels;
          for (let c = 0; c < channels; c++) acc[c] += src[p + c] * kw;
        }
        const o = (yy * outW + xx) * channels;
        for (let c = 0; c < channels; c++) tmp[o + c] = clip8(acc[c]);
      }
    }
    img = tmp;
    imgW = outW;
    rowOffset = first;
  }
  if (!needV) {
    if (img === src) return src.slice();
    return img;
  }
  const out = new Uint8Array(imgW * outH * channels);
  const { ksize, bounds, weights } = vert;
  const stride = imgW * channels;
  for (let yy = 0; yy < outH; yy++) {
    const ymin = bounds[yy * 2] - rowOffset;
    const yn = bounds[yy * 2 + 1];
    const kb = yy * ksize;
    const o = yy * stride;
    for (let i = 0; i < stride; i++) {
      let s = half;
      let p = ymin * stride + i;
      for (let y = 0; y < yn; y++, p += stride) s += img[p] * weights[kb + y];
      out[o + i] = clip8(s);
    }
  }
  return out;
}
