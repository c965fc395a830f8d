import { ALL_GRANTED, test } from "../permissions.ts";
import { assertEquals, assertRejects, assertStringIncludes, assertThrows } from "@std/assert";
import * as tf from "../../lib/tf.ts";
import {
  encodeSafetensors,
  getRaw,
  getTensor,
  readSafetensors,
  writeSafetensors,
} from "../../lib/models/safetensors.ts";
import { UserError } from "../../lib/core/errors.ts";
import { join } from "node:path";
import { initBackend } from "../../lib/backend.ts";
import { createModel, loadModel } from "../../lib/models/registry.ts";
import { exportModel } from "../../lib/export/export.ts";
import { saveRandomStudent } from "../helpers.ts";
import { MNV2_FIXTURE } from "../export/helpers.ts";

if (ALL_GRANTED) await initBackend(undefined, { quiet: true });

/** Build a file from a raw header object and a data section, bypassing the writer's checks. */
function rawFile(header: unknown, data: Uint8Array, lieLength?: number): Uint8Array {
  const h = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(lieLength ?? h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

async function writeTemp(bytes: Uint8Array): Promise<string> {
  const path = await Deno.makeTempFile({ suffix: ".safetensors" });
  await Deno.writeFile(path, bytes);
  return path;
}

async function expectBad(bytes: Uint8Array, ...includes: string[]): Promise<void> {
  const path = await writeTemp(bytes);
  try {
    const err = await assertRejects(() => readSafetensors(path), UserError);
    assertStringIncludes(err.message, path);
    for (const s of includes) assertStringIncludes(err.message, s);
  } finally {
    await Deno.remove(path);
  }
}

test("safetensors: F32/I32 round trip with metadata through a file", async () => {
  const a = tf.tensor([[1.5, -2], [3.25, 4e-7], [0, 1e30]], [3, 2], "float32");
  const b = tf.tensor([7, -8, 2147483647], [3], "int32");
  const path = await Deno.makeTempFile({ suffix: ".safetensors" });
  try {
    await writeSafetensors(path, { "layer.weight": a, "idx": b }, { note: "hi" });
    const f = await readSafetensors(path);
    assertEquals(f.metadata, { note: "hi" });
    assertEquals([...f.tensors.keys()].sort(), ["idx", "layer.weight"]);
    const a2 = getTensor(f, "layer.weight", [3, 2]);
    const b2 = getTensor(f, "idx");
    assertEquals(a2.dtype, "float32");
    assertEquals(b2.dtype, "int32");
    assertEquals(Array.from(a2.dataSync()), Array.from(a.dataSync()));
    assertEquals(Array.from(b2.dataSync()), [7, -8, 2147483647]);
    tf.dispose([a, b, a2, b2]);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("safetensors: data section is 8-byte aligned", () => {
  const bytes = encodeSafetensors({ x: { shape: [1], data: new Float32Array([1]) } });
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assertEquals((8 + n) % 8, 0);
});

test("safetensors: decodes F16, BF16 and I64", async () => {
  // IEEE half: 1.0 = 0x3C00, -2.0 = 0xC000, 0.5 = 0x3800, smallest subnormal 0x0001 = 2^-24.
  const f16 = new Uint16Array([0x3c00, 0xc000, 0x3800, 0x0001]);
  // bfloat16 is the top half of a float32: 1.0 = 0x3F80, -0.5 = 0xBF00.
  const bf16 = new Uint16Array([0x3f80, 0xbf00]);
  const i64 = new BigInt64Array([5n, -3n]);
  const data = new Uint8Array(8 + 4 + 16);
  data.set(new Uint8Array(f16.buffer), 0);
  data.set(new Uint8Array(bf16.buffer), 8);
  data.set(new Uint8Array(i64.buffer), 12);
  const path = await writeTemp(rawFile({
    h: { dtype: "F16", shape: [4], data_offsets: [0, 8] },
    b: { dtype: "BF16", shape: [2], data_offsets: [8, 12] },
    l: { dtype: "I64", shape: [2], data_offsets: [12, 28] },
  }, data));
  try {
    const f = await readSafetensors(path);
    assertEquals(Array.from(getRaw(f, "h").data as Float32Array), [1, -2, 0.5, 2 ** -24]);
    assertEquals(Array.from(getRaw(f, "b").data as Float32Array), [1, -0.5]);
    const l = getTensor(f, "l");
    assertEquals(l.dtype, "int32");
    assertEquals(Array.from(l.dataSync()), [5, -3]);
    l.dispose();
  } finally {
    await Deno.remove(path);
  }
});

const ok = { a: { dtype: "F32", shape: [2], data_offsets: [0, 8] } };

test("safetensors: truncated file", async () => {
  const good = encodeSafetensors({ a: { shape: [4], data: new Float32Array(4) } });
  await expectBad(good.subarray(0, 5), "shorter than the header length");
  await expectBad(good.subarray(0, 20), "runs past the end");
  // Header intact but tensor bytes cut off.
  await expectBad(good.subarray(0, good.length - 4), 'tensor "a"', "exceed");
});

test("safetensors: header that lies about sizes", async () => {
  await expectBad(rawFile(ok, new Uint8Array(8), 10_000), "runs past the end");
  await expectBad(rawFile(ok, new Uint8Array(8), 5), "not valid UTF-8 JSON");
  const lies = { a: { dtype: "F32", shape: [3], data_offsets: [0, 8] } };
  await expectBad(rawFile(lies, new Uint8Array(8)), 'tensor "a"', "needs 12");
});

test("safetensors: overlapping and out-of-range offsets", async () => {
  const overlap = {
    a: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
    b: { dtype: "F32", shape: [2], data_offsets: [4, 12] },
  };
  await expectBad(rawFile(overlap, new Uint8Array(12)), "overlap", '"a"', '"b"');
  const out = { a: { dtype: "F32", shape: [2], data_offsets: [8, 16] } };
  await expectBad(rawFile(out, new Uint8Array(8)), 'tensor "a"', "exceed the 8-byte data section");
  const neg = { a: { dtype: "F32", shape: [2], data_offsets: [8, 0] } };
  await expectBad(rawFile(neg, new Uint8Array(8)), "data_offsets");
});

test("safetensors: bad dtype, bad shape, bad metadata", async () => {
  await expectBad(
    rawFile({ a: { dtype: "Q4", shape: [2], data_offsets: [0, 8] } }, new Uint8Array(8)),
    'tensor "a"',
    "unsupported dtype",
  );
  await expectBad(
    rawFile({ a: { dtype: "F32", shape: [-2], data_offsets: [0, 8] } }, new Uint8Array(8)),
    "shape",
  );
  await expectBad(rawFile({ ...ok, __metadata__: { n: 3 } }, new Uint8Array(8)), "__metadata__");
  await expectBad(rawFile([1, 2], new Uint8Array(0)), "not a JSON object");
});

test("safetensors: missing tensor and wrong shape name the tensor and expected shape", async () => {
  const path = await writeTemp(rawFile(ok, new Uint8Array(8)));
  try {
    const f = await readSafetensors(path);
    const e1 = assertThrows(() => getRaw(f, "classifier.weight"), UserError);
    assertStringIncludes(e1.message, 'missing tensor "classifier.weight"');
    assertStringIncludes(e1.message, path);
    const e2 = assertThrows(() => getRaw(f, "a", [3, 2]), UserError);
    assertStringIncludes(e2.message, 'tensor "a" has shape [2], expected [3,2]');
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("safetensors: unreadable path is a UserError naming it", async () => {
  const err = await assertRejects(() => readSafetensors("/nonexistent/x.safetensors"), UserError);
  assertStringIncludes(err.message, "/nonexistent/x.safetensors");
});

/** Copy a safetensors file with tensor `name`'s header entry changed (same data bytes). */
async function retyped(
  src: string,
  dest: string,
  name: string,
  change: { dtype: string; shape?: number[] },
): Promise<void> {
  const bytes = await Deno.readFile(src);
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  header[name] = { ...header[name], ...change };
  await Deno.writeFile(dest, rawFile(header, bytes.subarray(8 + n)));
}

test("a model's tensors must have the element types it expects (floats, I64 counters)", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "kd-dtype-" });
  try {
    // HF checkpoint (hf-dir:): a float weight stored as I32, a BN counter stored as F32.
    const hf = join(tmp, "hf");
    await Deno.mkdir(hf);
    await Deno.copyFile(join(MNV2_FIXTURE, "config.json"), join(hf, "config.json"));
    const weights = join(MNV2_FIXTURE, "model.safetensors");
    const conv = "mobilenet_v2.conv_stem.first_conv.convolution.weight";
    const counter = "mobilenet_v2.conv_stem.first_conv.normalization.num_batches_tracked";
    const head = "classifier.bias";
    const hfCases: [string, { dtype: string; shape?: number[] }, string][] = [
      [conv, { dtype: "I32" }, `tensor "${conv}" has dtype I32; the model expects F32, F16, BF16`],
      [head, { dtype: "I32" }, `tensor "${head}" has dtype I32`],
      [counter, { dtype: "F32", shape: [2] }, `tensor "${counter}" has dtype F32`],
    ];
    for (const [name, change, msg] of hfCases) {
      await retyped(weights, join(hf, "model.safetensors"), name, change);
      for (const format of ["hf", "tfjs"] as const) {
        // The export reads the checkpoint too (its counters are carried over).
        await assertRejects(
          () =>
            exportModel({
              model: `hf-dir:${hf}`,
              format,
              out: join(tmp, `out-${format}`),
              quiet: true,
            }),
          UserError,
          msg,
        );
      }
      await assertRejects(() => createModel(`hf-dir:${hf}`), UserError, msg);
    }

    // A model saved by this toolkit (dir:): a float variable stored as I32.
    const saved = await saveRandomStudent(tmp, "student");
    const file = join(saved, "model.safetensors");
    const name = [...(await readSafetensors(file)).tensors.keys()].find((k) => k.endsWith("bias"))!;
    await retyped(file, file, name, { dtype: "I32" });
    await assertRejects(() => loadModel(saved), UserError, `tensor "${name}" has dtype I32`);
    const e = await assertRejects(() => createModel(`dir:${saved}`, { numLabels: 3 }), UserError);
    assertStringIncludes(e.message, file);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
