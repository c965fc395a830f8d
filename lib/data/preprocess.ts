/**
 * ViTImageProcessor-equivalent preprocessing: decode (sharp), resize exactly like PIL BILINEAR
 * (see `pil_resize.ts`), keep uint8 RGB, and normalise `(x/255 - mean)/std` on the fly.
 * @module
 */
import { loadSharp } from "./sharp.ts";
import { resizeBilinearPIL } from "./pil_resize.ts";
import { UserError } from "../core/errors.ts";

export { normalizeInto } from "./normalize.ts";

/**
 * How images become model input; structurally the same as a Classifier's `InputSpec`.
 *
 * @example ImageNet statistics instead of the ViT processor's 0.5
 * ```ts
 * import { normalizeInto, type PreprocessOptions, preprocessOptions } from "@kd/vision/data";
 *
 * const imagenet: PreprocessOptions = preprocessOptions({
 *   size: 32,
 *   mean: [0.485, 0.456, 0.406],
 *   std: [0.229, 0.224, 0.225],
 * });
 * const out = new Float32Array(3);
 * normalizeInto(Uint8Array.from([255, 255, 255]), out, 0, imagenet);
 * console.log(out); // (1 - mean) / std per channel
 * ```
 */
export interface PreprocessOptions {
  /** Square side in pixels after resizing. */
  size: number;
  /** Per-channel (RGB) mean subtracted after scaling to [0, 1]. */
  mean: [number, number, number];
  /** Per-channel (RGB) standard deviation the centred values are divided by. */
  std: [number, number, number];
}

/**
 * Hugging Face `ViTImageProcessor` defaults (google/vit-base-patch16-224): 224, mean = std = 0.5.
 *
 * @example The teacher-side pipeline at 224 px
 * ```ts
 * import { VIT_PREPROCESS } from "@kd/vision/data";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(VIT_PREPROCESS.size, 224);
 * assertEquals(VIT_PREPROCESS.mean, [0.5, 0.5, 0.5]);
 * ```
 */
export const VIT_PREPROCESS: Readonly<PreprocessOptions> = Object.freeze({
  size: 224,
  mean: [0.5, 0.5, 0.5] as [number, number, number],
  std: [0.5, 0.5, 0.5] as [number, number, number],
});

/**
 * Largest square side images are resized to. Decoded images are kept (and cached) as
 * n × size² × 3 bytes: at 1024 px that is 3 MB per image, 3.2 GB for beans' training split,
 * already 20× the 224 px the models here were made for; far larger sizes only exhaust memory
 * (or the resizer) image by image.
 */
export const MAX_IMAGE_SIZE = 1024;

/**
 * Fill in defaults and validate user-supplied preprocessing options.
 *
 * @example Defaults filled in around a size
 * ```ts
 * import { preprocessOptions } from "@kd/vision/data";
 * import { assertEquals } from "@std/assert";
 *
 * const pre = preprocessOptions({ size: 96 });
 * assertEquals(pre.size, 96);
 * assertEquals(pre.std, [0.5, 0.5, 0.5]);
 * ```
 */
export function preprocessOptions(p: Partial<PreprocessOptions> = {}): PreprocessOptions {
  const out: PreprocessOptions = {
    size: p.size ?? VIT_PREPROCESS.size,
    mean: [...(p.mean ?? VIT_PREPROCESS.mean)] as [number, number, number],
    std: [...(p.std ?? VIT_PREPROCESS.std)] as [number, number, number],
  };
  if (!Number.isInteger(out.size) || out.size < 1 || out.size > MAX_IMAGE_SIZE) {
    throw new UserError(
      `image size must be an integer in [1, ${MAX_IMAGE_SIZE}] px, got ${out.size}`,
      { hint: { flag: "image-size", text: "set --image-size within it" } },
    );
  }
  if (out.mean.length !== 3 || out.std.length !== 3 || out.std.some((s) => !(s > 0))) {
    throw new RangeError("preprocess: mean and std need 3 values each, std > 0");
  }
  return out;
}

/**
 * Decoded interleaved RGB uint8 pixels.
 *
 * @example A 2×1 image made by hand, resized to 4×4
 * ```ts
 * import { resizeRGB, type RgbImage } from "@kd/vision/data";
 *
 * const img: RgbImage = { data: Uint8Array.from([255, 0, 0, 0, 0, 255]), width: 2, height: 1 };
 * const resized = resizeRGB(img, 4);
 * console.log(resized.length); // 4·4·3
 * ```
 */
export interface RgbImage {
  /** `width·height·3` bytes, row-major, RGB per pixel. */
  data: Uint8Array;
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
}

/**
 * Decode encoded image bytes (JPEG, PNG, ...) to 8-bit sRGB without alpha, like PIL `.convert("RGB")`.
 *
 * @example Decode one JPEG of the fixture
 * ```ts
 * import { decodeRGB, resolveSplit } from "@kd/vision/data";
 * import { assertEquals } from "@std/assert";
 *
 * const src = await resolveSplit({ data: "tests/fixtures/beans", split: "validation", quiet: true });
 * const img = await decodeRGB((await src.images())[0]!);
 * assertEquals(img.data.length, img.width * img.height * 3);
 * ```
 */
export async function decodeRGB(bytes: Uint8Array): Promise<RgbImage> {
  const sharp = await loadSharp();
  const { data, info } = await sharp(bytes)
    .removeAlpha()
    .toColourspace("srgb")
    .raw({ depth: "uchar" })
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) {
    throw new Error(`expected 3 channels after decoding, got ${info.channels}`);
  }
  return {
    data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    width: info.width,
    height: info.height,
  };
}

/**
 * Resize decoded RGB to `size`x`size` exactly like PIL `resize((size, size), BILINEAR)`.
 *
 * @example PIL-bilinear resize of a decoded image
 * ```ts
 * import { decodeRGB, resizeRGB, resolveSplit } from "@kd/vision/data";
 * import { assertEquals } from "@std/assert";
 *
 * const src = await resolveSplit({ data: "tests/fixtures/beans", split: "validation", quiet: true });
 * const small = resizeRGB(await decodeRGB((await src.images())[0]!), 32);
 * assertEquals(small.length, 32 * 32 * 3);
 * ```
 */
export function resizeRGB(img: RgbImage, size: number): Uint8Array {
  return resizeBilinearPIL(img.data, img.width, img.height, size, size, 3);
}

/** Decode and resize one encoded image to `size`x`size` uint8 RGB (HWC). */
export async function preprocessImage(bytes: Uint8Array, size: number): Promise<Uint8Array> {
  return resizeRGB(await decodeRGB(bytes), size);
}
