/**
 * Training-time augmentation on the cached uint8 images: random resized crop and horizontal flip,
 * driven by a seeded RNG, plus mixup (`lib/data/mixup.ts`) on the batch.
 *
 * A random view is sampled once as a {@linkcode View} (crop box as fractions of the image side,
 * flip) and then applied at any resolution: the student's 96 px image and the teacher's 224 px
 * image get the same box and flip, each resized to its own model's input (a box sampled in pixels
 * of one size would round differently at the other).
 *
 * Why on cached (already resized) images rather than on the decoded originals: decoding the JPEGs
 * dominates data loading on a small CPU, and the cache exists so that no epoch decodes again.
 * Cropping the 224x224 cached image and resizing the crop back (PIL bilinear) loses a little
 * detail compared with cropping the 256x256 original, which is an acceptable trade for
 * regularisation; the reference guide trains without augmentation, so it is off by default.
 * @module
 */
import { UserError } from "../core/errors.ts";
import { type Box, resizeBilinearPIL } from "./pil_resize.ts";

/** Which augmentations to apply (all off by default). */
export interface AugmentOptions {
  /** Random resized crop: area fraction `scale` and aspect `ratio` ranges (torchvision-style). */
  crop?: boolean | { scale?: [number, number]; ratio?: [number, number] };
  /** Flip horizontally with probability 0.5. */
  flip?: boolean;
  /** Mixup within the batch, weight ~ Beta(α, α): this α (> 0). */
  mixup?: number;
}

/** One sampled view of an image: the crop box `[x0, y0, x1, y1]` as fractions of its side, and flip. */
export interface View {
  box: [number, number, number, number];
  flip: boolean;
}

/** The whole image, unflipped. */
export const IDENTITY_VIEW: View = { box: [0, 0, 1, 1], flip: false };

/** torchvision `RandomResizedCrop` defaults. */
export const DEFAULT_CROP = {
  scale: [0.08, 1] as [number, number],
  ratio: [3 / 4, 4 / 3] as [number, number],
};

/** Parse `--augment` values: "none", "crop", "flip", "crop,flip", "crop=0.5-1,flip", "mixup=0.2". */
export function parseAugment(spec: string | undefined): AugmentOptions {
  const out: AugmentOptions = {};
  if (!spec || spec === "none") return out;
  for (const part of spec.split(",").map((s) => s.trim()).filter((s) => s)) {
    const [name, arg] = part.split("=");
    if (name === "flip" && arg === undefined) out.flip = true;
    else if (name === "crop") {
      if (arg === undefined) out.crop = true;
      else {
        const m = /^([\d.]+)-([\d.]+)$/.exec(arg);
        const lo = Number(m?.[1]), hi = Number(m?.[2]);
        if (!m || !(lo > 0 && lo <= hi && hi <= 1)) {
          throw new UserError(
            `--augment crop=${arg}: expected crop=MIN-MAX with 0 < MIN <= MAX <= 1`,
          );
        }
        out.crop = { scale: [lo, hi] };
      }
    } else if (name === "mixup") {
      const alpha = Number(arg);
      if (arg === undefined || arg === "" || !(Number.isFinite(alpha) && alpha > 0)) {
        throw new UserError(`--augment mixup=${arg ?? ""}: expected mixup=ALPHA with ALPHA > 0`);
      }
      out.mixup = alpha;
    } else {
      throw new UserError(
        `--augment: unknown "${part}"; expected none, crop, crop=MIN-MAX, flip, mixup=ALPHA`,
      );
    }
  }
  return out;
}

/** True when `opts` turns on any augmentation. */
export function augmentEnabled(opts: AugmentOptions | undefined): boolean {
  return !!opts && (!!opts.crop || !!opts.flip || !!opts.mixup);
}

function uniform(rng: () => number, lo: number, hi: number): number {
  return lo + (hi - lo) * rng();
}

/** A crop box `[x0, y0, x1, y1]` as torchvision's `RandomResizedCrop.get_params` picks it. */
export function sampleCropBox(
  width: number,
  height: number,
  rng: () => number,
  scale: [number, number] = DEFAULT_CROP.scale,
  ratio: [number, number] = DEFAULT_CROP.ratio,
): Box {
  const area = width * height;
  for (let t = 0; t < 10; t++) {
    const target = area * uniform(rng, scale[0], scale[1]);
    const aspect = Math.exp(uniform(rng, Math.log(ratio[0]), Math.log(ratio[1])));
    const w = Math.round(Math.sqrt(target * aspect));
    const h = Math.round(Math.sqrt(target / aspect));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      const y = Math.floor(rng() * (height - h + 1));
      const x = Math.floor(rng() * (width - w + 1));
      return [x, y, x + w, y + h];
    }
  }
  // Fallback: central crop clamped to the ratio range.
  let w = width, h = height;
  const inRatio = width / height;
  if (inRatio < Math.min(...ratio)) h = Math.round(w / Math.min(...ratio));
  else if (inRatio > Math.max(...ratio)) w = Math.round(h * Math.max(...ratio));
  const x = Math.floor((width - w) / 2), y = Math.floor((height - h) / 2);
  return [x, y, x + w, y + h];
}

/** Mirror a square uint8 RGB image left-right. */
export function flipHorizontal(pixels: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(pixels.length);
  for (let y = 0; y < size; y++) {
    const row = y * size * 3;
    for (let x = 0; x < size; x++) {
      const s = row + x * 3, d = row + (size - 1 - x) * 3;
      out[d] = pixels[s];
      out[d + 1] = pixels[s + 1];
      out[d + 2] = pixels[s + 2];
    }
  }
  return out;
}

/**
 * Sample one view for an image of side `size` (the box is picked on that pixel grid, as
 * torchvision does, then stored as fractions): crop first, then flip.
 */
export function sampleView(opts: AugmentOptions, rng: () => number, size: number): View {
  let box: View["box"] = [0, 0, 1, 1];
  if (opts.crop) {
    const c = opts.crop === true ? DEFAULT_CROP : { ...DEFAULT_CROP, ...opts.crop };
    const [x0, y0, x1, y1] = sampleCropBox(size, size, rng, c.scale, c.ratio);
    box = [x0 / size, y0 / size, x1 / size, y1 / size];
  }
  return { box, flip: !!opts.flip && rng() < 0.5 };
}

/** Apply `view` to one square uint8 RGB image of side `size`; returns an image of the same size. */
export function applyView(pixels: Uint8Array, size: number, view: View): Uint8Array {
  let out = pixels;
  const [x0, y0, x1, y1] = view.box;
  if (x0 !== 0 || y0 !== 0 || x1 !== 1 || y1 !== 1) {
    const box: View["box"] = [x0 * size, y0 * size, x1 * size, y1 * size];
    out = resizeBilinearPIL(out, size, size, size, size, 3, box);
  }
  return view.flip ? flipHorizontal(out, size) : out;
}

/** Apply `opts` to one square uint8 RGB image of side `size`; returns a new image of the same size. */
export function augmentImage(
  pixels: Uint8Array,
  size: number,
  opts: AugmentOptions,
  rng: () => number,
): Uint8Array {
  return applyView(pixels, size, sampleView(opts, rng, size));
}
