import { test } from "../permissions.ts";
import { assert, assertEquals, assertLessOrEqual } from "@std/assert";
import { parquetReadObjects } from "hyparquet";
import { FIXTURES } from "../fixture_paths.ts";
import { VALIDATION } from "./helpers.ts";
import {
  decodeRGB,
  normalizeInto,
  preprocessImage,
  preprocessOptions,
  VIT_PREPROCESS,
} from "../../lib/data/preprocess.ts";

const FIXTURE = `${FIXTURES}/vit_preprocess/expected.safetensors`;

/** Minimal safetensors reader (F32 only): 8-byte LE header length, JSON header, raw data. */
function readSafetensors(bytes: Uint8Array) {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  for (
    const [name, t] of Object.entries<{ dtype: string; shape: number[]; data_offsets: number[] }>(
      header,
    )
  ) {
    if (name === "__metadata__") continue;
    assertEquals(t.dtype, "F32");
    const raw = bytes.slice(8 + n + t.data_offsets[0], 8 + n + t.data_offsets[1]);
    tensors.set(name, { shape: t.shape, data: new Float32Array(raw.buffer) });
  }
  return { tensors, metadata: header.__metadata__ as Record<string, string> };
}

/** The JPEG of full-validation row `row`, from the committed subset (found by `source_row`). */
async function imageBytes(row: number): Promise<Uint8Array> {
  const rows = await parquetReadObjects({
    file: await Deno.readFile(VALIDATION).then((b) => b.buffer),
    utf8: false,
    columns: ["image", "source_row"],
  });
  const r = rows.find((r) => Number(r.source_row) === row);
  assert(r, `validation row ${row} is not in ${VALIDATION}`);
  return new Uint8Array((r.image as { bytes: Uint8Array }).bytes);
}

test("preprocess matches ViTImageProcessor (PIL bilinear) on 4 validation images", async () => {
  const { tensors, metadata } = readSafetensors(await Deno.readFile(FIXTURE));
  const rows = (JSON.parse(metadata.rows) as string[]).map((r) => Number(r.split("/")[1]));
  assertEquals(rows.length, 4);
  const pre = preprocessOptions();
  const s = pre.size;
  for (const [i, row] of rows.entries()) {
    const expected = tensors.get(`pixel_values.${i}`)!;
    assertEquals(expected.shape, [3, s, s]);
    const pixels = await preprocessImage(await imageBytes(row), s);
    const nhwc = new Float32Array(s * s * 3);
    normalizeInto(pixels, nhwc, 0, pre);
    let sum = 0;
    let max = 0;
    let exactLevels = 0;
    for (let c = 0; c < 3; c++) {
      for (let p = 0; p < s * s; p++) {
        const d = Math.abs(nhwc[p * 3 + c] - expected.data[c * s * s + p]);
        sum += d;
        if (d > max) max = d;
        if (d < 1e-6) exactLevels++;
      }
    }
    const mean = sum / (3 * s * s);
    console.log(
      `row ${row}: mean |diff| ${mean.toExponential(3)}, max ${max.toExponential(3)}, ` +
        `identical ${(100 * exactLevels / (3 * s * s)).toFixed(3)}%`,
    );
    assertLessOrEqual(mean, 0.01);
    assertLessOrEqual(max, 0.1);
  }
});

test("normalizeInto applies (x/255 - mean)/std per channel", () => {
  const pre = preprocessOptions({ size: 1, mean: [0.1, 0.2, 0.3], std: [0.5, 0.25, 2] });
  const out = new Float32Array(4).fill(-9);
  normalizeInto(new Uint8Array([0, 255, 51]), out, 1, pre);
  assertEquals(out[0], -9);
  assert(Math.abs(out[1] - (0 - 0.1) / 0.5) < 1e-6);
  assert(Math.abs(out[2] - (1 - 0.2) / 0.25) < 1e-6);
  assert(Math.abs(out[3] - (0.2 - 0.3) / 2) < 1e-6);
});

test("VIT_PREPROCESS defaults and option validation", async () => {
  assertEquals(VIT_PREPROCESS.size, 224);
  assertEquals([...VIT_PREPROCESS.mean, ...VIT_PREPROCESS.std], [0.5, 0.5, 0.5, 0.5, 0.5, 0.5]);
  let threw = false;
  try {
    preprocessOptions({ std: [1, 0, 1] });
  } catch {
    threw = true;
  }
  assert(threw);
  const img = await decodeRGB(await imageBytes(0));
  assertEquals([img.width, img.height, img.data.length], [256, 256, 256 * 256 * 3]);
});
