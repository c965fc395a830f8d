/**
 * sharp (libvips), loaded on first use. Loading it reads the environment (npm config) and maps
 * libvips: modules that import the data layer without decoding an image (the sweep, the
 * report, a plain `deno test` with no env access) should not pay for that or fail on it.
 * @module
 */

/** The `sharp` function, as its default export. */
export type Sharp = typeof import("sharp").default;

let loading: Promise<Sharp> | undefined;

/**
 * sharp, configured once: one libvips thread per call (the loaders run a few decodes in
 * parallel instead) and no libvips operation cache (every image is decoded once).
 */
export function loadSharp(): Promise<Sharp> {
  return loading ??= import("sharp").then(({ default: sharp }) => {
    sharp.concurrency(1);
    sharp.cache(false);
    return sharp;
  });
}
