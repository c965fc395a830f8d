import { assert, assertEquals, assertNotEquals, assertThrows } from "@std/assert";
import {
  applyView,
  augmentImage,
  flipHorizontal,
  IDENTITY_VIEW,
  parseAugment,
  sampleCropBox,
  sampleView,
} from "../../lib/data/augment.ts";
import { mulberry32 } from "../../lib/core/rng.ts";
import { UserError } from "../../lib/core/errors.ts";

Deno.test("parseAugment: none, crop, flip, crop=MIN-MAX; rejects unknown parts", () => {
  assertEquals(parseAugment(undefined), {});
  assertEquals(parseAugment("none"), {});
  assertEquals(parseAugment("crop,flip"), { crop: true, flip: true });
  assertEquals(parseAugment("crop=0.5-1"), { crop: { scale: [0.5, 1] } });
  assertThrows(() => parseAugment("rotate"), UserError, "rotate");
  assertThrows(() => parseAugment("crop=2-3"), UserError);
});

Deno.test("sampleCropBox: inside the image, area and aspect within range", () => {
  const rng = mulberry32(3);
  for (let i = 0; i < 500; i++) {
    const [x0, y0, x1, y1] = sampleCropBox(224, 224, rng, [0.08, 1], [3 / 4, 4 / 3]);
    assert(x0 >= 0 && y0 >= 0 && x1 <= 224 && y1 <= 224 && x1 > x0 && y1 > y0);
    const area = (x1 - x0) * (y1 - y0) / (224 * 224);
    // Rounding w and h to integers can move area/aspect slightly past the sampled ranges.
    assert(area > 0.07 && area <= 1, `area ${area}`);
    const r = (x1 - x0) / (y1 - y0);
    assert(r > 0.7 && r < 1.4, `ratio ${r}`);
  }
  assertEquals(sampleCropBox(10, 10, () => 0.999, [1, 1], [1, 1]), [0, 0, 10, 10]);
});

Deno.test("flipHorizontal mirrors pixels and is its own inverse", () => {
  const img = Uint8Array.from({ length: 3 * 3 * 3 }, (_, i) => i);
  const f = flipHorizontal(img, 3);
  assertEquals([...f.subarray(0, 9)], [6, 7, 8, 3, 4, 5, 0, 1, 2]);
  assertEquals(flipHorizontal(f, 3), img);
});

Deno.test("augmentImage: full-image crop is the identity, seeded crops are reproducible", () => {
  const img = Uint8Array.from({ length: 16 * 16 * 3 }, (_, i) => (i * 7) % 251);
  assertEquals(
    augmentImage(img, 16, { crop: { scale: [1, 1], ratio: [1, 1] } }, mulberry32(1)),
    img,
  );
  const a = augmentImage(img, 16, { crop: true }, mulberry32(5));
  assertEquals(augmentImage(img, 16, { crop: true }, mulberry32(5)), a);
  assertNotEquals(a, img);
  assertEquals(augmentImage(img, 16, {}, mulberry32(5)), img);
});

Deno.test("parseAugment: mixup=ALPHA beside crop and flip; ALPHA must be > 0", () => {
  assertEquals(parseAugment("crop=0.5-1,flip,mixup=0.2"), {
    crop: { scale: [0.5, 1] },
    flip: true,
    mixup: 0.2,
  });
  for (const bad of ["mixup", "mixup=", "mixup=0", "mixup=-1", "mixup=x"]) {
    assertThrows(() => parseAugment(bad), UserError, "mixup=ALPHA");
  }
});

Deno.test("a view is the same region and flip at any resolution", () => {
  // Pixel value = 255·(x / side): a crop's columns tell which fraction of the image it shows.
  const ramp = (side: number) =>
    Uint8Array.from({ length: side * side * 3 }, (_, i) => {
      const x = Math.floor(i / 3) % side;
      return Math.round(255 * (x + 0.5) / side);
    });
  const view = sampleView({ crop: { scale: [0.2, 0.4] }, flip: true }, mulberry32(11), 32);
  const box = view.box;
  assert(box.every((v) => v >= 0 && v <= 1) && box[2] > box[0] && box[3] > box[1], `${box}`);
  // The box is on the 32 px grid the student samples on.
  assertEquals(box.map((v) => v * 32).every(Number.isInteger), true);
  const edges = (side: number) => {
    const img = applyView(ramp(side), side, { ...view, flip: false });
    return [img[0], img[(side - 1) * 3]];
  };
  const [l32, r32] = edges(32), [l224, r224] = edges(224);
  // Same left and right edge of the crop at 32 and 224 px (up to one 32 px column of blur).
  assert(Math.abs(l32 - l224) <= 8 && Math.abs(r32 - r224) <= 8, `${[l32, r32, l224, r224]}`);
  assert(Math.abs(l224 - 255 * box[0]) <= 8, `left edge ${l224} vs box ${box[0]}`);
  const flipped = applyView(ramp(224), 224, { ...view, flip: true });
  assert(flipped[0] > flipped[223 * 3], "a flipped ramp decreases left to right");
  assertEquals(applyView(ramp(16), 16, IDENTITY_VIEW), ramp(16));
});
