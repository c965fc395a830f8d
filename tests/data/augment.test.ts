import { assert, assertEquals, assertNotEquals, assertThrows } from "@std/assert";
import {
  augmentImage,
  flipHorizontal,
  parseAugment,
  sampleCropBox,
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
