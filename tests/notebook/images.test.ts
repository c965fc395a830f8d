import { test } from "../permissions.ts";
import { assertEquals, assertRejects } from "@std/assert";
import { loadSharp } from "../../lib/data/sharp.ts";
import { imageGridPng, rgbToPng } from "../../lib/notebook/images.ts";

function solid(size: number, rgb: [number, number, number]): Uint8Array {
  const out = new Uint8Array(size * size * 3);
  for (let i = 0; i < out.length; i += 3) out.set(rgb, i);
  return out;
}

async function raw(png: Uint8Array) {
  const sharp = await loadSharp();
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const px = (
    x: number,
    y: number,
  ) => [...data.subarray((y * info.width + x) * 3, (y * info.width + x) * 3 + 3)];
  return { info, px };
}

test("imageGridPng places tiles row by row with padding; missing tiles stay white", async () => {
  const s = 10, pad = 2;
  const red = solid(s, [255, 0, 0]), blue = solid(s, [0, 0, 255]), green = solid(s, [0, 255, 0]);
  const png = await imageGridPng([[red, blue], [green]], s, { pad });
  const { info, px } = await raw(png);
  assertEquals([info.width, info.height], [pad + 2 * (s + pad), pad + 2 * (s + pad)]);
  assertEquals(px(pad, pad), [255, 0, 0]);
  assertEquals(px(pad + s + pad + 3, pad + 3), [0, 0, 255]);
  assertEquals(px(pad + 4, pad + s + pad + 4), [0, 255, 0]);
  assertEquals(px(pad + s + pad + 4, pad + s + pad + 4), [255, 255, 255]);
  assertEquals(px(0, 0), [255, 255, 255]);
});

test("imageGridPng with row labels shifts tiles right by the label strip", async () => {
  const s = 8;
  const png = await imageGridPng([[solid(s, [0, 0, 0])]], s, {
    pad: 0,
    rowLabels: ["a"],
    labelWidth: 40,
  });
  const { info, px } = await raw(png);
  assertEquals(info.width, 40 + s);
  assertEquals(px(40 + 2, 2), [0, 0, 0]);
});

test("imageGridPng rejects a tile of the wrong size", async () => {
  await assertRejects(() => imageGridPng([[new Uint8Array(5)]], 4), RangeError, "tile [0][0]");
});

test("rgbToPng keeps pixels and scales with nearest neighbour", async () => {
  const px = new Uint8Array([10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120]);
  const { info, px: at } = await raw(await rgbToPng(px, 2, 2, 4));
  assertEquals([info.width, info.height], [4, 4]);
  assertEquals(at(0, 0), [10, 20, 30]);
  assertEquals(at(3, 0), [40, 50, 60]);
  assertEquals(at(3, 3), [100, 110, 120]);
});
