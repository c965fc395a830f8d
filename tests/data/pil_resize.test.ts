import { assertEquals, assertThrows } from "@std/assert";
import { resizeBilinearPIL } from "../../lib/data/pil_resize.ts";

// Expected values below are worked out by hand from Pillow's algorithm: triangle filter with
// support scaled by the downscale factor, taps centred at (x + 0.5), weights normalised per pixel.

Deno.test("downscale 4 -> 2 uses the widened triangle filter (weights 3/7, 3/7, 1/7)", () => {
  // Output pixel 0: centre 1.0, support 2, taps at source 0..2 with weights 0.75, 0.75, 0.25.
  // Output pixel 1: centre 3.0, taps 1..3 with weights 0.25, 0.75, 0.75.
  const row = new Uint8Array([0, 70, 140, 210]);
  const out = resizeBilinearPIL(row, 4, 1, 2, 1, 1);
  assertEquals([...out], [(3 * 0 + 3 * 70 + 140) / 7, (70 + 3 * 140 + 3 * 210) / 7]);
});

Deno.test("upscale 2 -> 4 interpolates with the unit triangle: 0, 25, 75, 100", () => {
  const out = resizeBilinearPIL(new Uint8Array([0, 100]), 2, 1, 4, 1, 1);
  assertEquals([...out], [0, 25, 75, 100]);
});

Deno.test("vertical pass matches the horizontal one on the transposed image", () => {
  const col = new Uint8Array([0, 70, 140, 210]);
  assertEquals([...resizeBilinearPIL(col, 1, 4, 1, 2, 1)], [50, 160]);
});

Deno.test("channels are resized independently", () => {
  const rgb = new Uint8Array([0, 10, 200, 70, 10, 100, 140, 10, 0, 210, 10, 50]);
  const out = resizeBilinearPIL(rgb, 4, 1, 2, 1, 3);
  assertEquals([...out], [
    50,
    10,
    Math.round((3 * 200 + 3 * 100 + 0) / 7),
    160,
    10,
    Math.round((100 + 0 + 3 * 50) / 7),
  ]);
});

Deno.test("same size is a copy; constant images stay constant at any size", () => {
  const src = Uint8Array.from({ length: 5 * 3 * 3 }, (_, i) => (i * 37) % 256);
  const same = resizeBilinearPIL(src, 5, 3, 5, 3);
  assertEquals([...same], [...src]);
  same[0] = 1;
  assertEquals(src[0], 0); // not aliased
  const flat = new Uint8Array(256 * 200 * 3).fill(173);
  const small = resizeBilinearPIL(flat, 256, 200, 224, 224);
  assertEquals(small.length, 224 * 224 * 3);
  assertEquals(new Set(small).size, 1);
  assertEquals(small[0], 173);
});

Deno.test("an integer box of the output size crops exactly", () => {
  const w = 4, h = 4;
  const src = Uint8Array.from({ length: w * h }, (_, i) => i * 10);
  const out = resizeBilinearPIL(src, w, h, 2, 2, 1, [1, 1, 3, 3]);
  assertEquals([...out], [50, 60, 90, 100]);
});

Deno.test("rejects a buffer that does not match the stated size", () => {
  assertThrows(
    () => resizeBilinearPIL(new Uint8Array(5), 2, 2, 1, 1, 1),
    Error,
    "expected 4 bytes",
  );
});
