import { test } from "../permissions.ts";
import {
  assert,
  assertEquals,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import { zipSync } from "fflate";
import * as tf from "../../lib/tf.ts";
import { initBackend } from "../../lib/backend.ts";
import { createModel } from "../../lib/models/registry.ts";
import { parseTorchCheckpoint, readTorchCheckpoint } from "../../lib/models/torch_pickle.ts";
import { getRaw, getTensor, readSafetensors } from "../../lib/models/safetensors.ts";
import { nchwToNhwc } from "../../lib/models/vit.ts";
import { UserError } from "../../lib/core/errors.ts";
import { FIXTURES } from "../fixture_paths.ts";

await initBackend("cpu", { quiet: true });

const BIN = `${FIXTURES}/vit_tiny_bin`;

test("torch.save: vit_tiny_bin (pytorch_model.bin) gives the same tensors and logits as vit_tiny", async () => {
  const bin = await readTorchCheckpoint(`${BIN}/pytorch_model.bin`);
  const st = await readSafetensors(`${FIXTURES}/vit_tiny/model.safetensors`);
  assertEquals(bin.names().sort(), [...st.tensors.keys()].sort());
  for (const name of bin.names()) {
    const a = bin.get(name), b = getRaw(st, name);
    assertEquals(a.shape, b.shape, name);
    assertEquals(Array.from(a.data as Float32Array), Array.from(b.data as Float32Array), name);
  }
  const io = await readSafetensors(`${BIN}/io.safetensors`);
  const x = getTensor(io, "pixel_values") as tf.Tensor4D;
  const want = getTensor(io, "logits");
  const m1 = await createModel(`hf-dir:${BIN}`, { numLabels: 3, quiet: true });
  const m2 = await createModel(`hf-dir:${FIXTURES}/vit_tiny`, { numLabels: 3, quiet: true });
  const y1 = m1.apply(nchwToNhwc(x)), y2 = m2.apply(nchwToNhwc(x));
  assertEquals(Array.from(y1.dataSync()), Array.from(y2.dataSync()));
  assert(tf.max(tf.abs(tf.sub(y1, want))).dataSync()[0] < 1e-4);
  tf.dispose([x, want, y1, y2]);
  m1.dispose();
  m2.dispose();
});

/** A torch.save-style zip whose data.pkl is `pickle`. */
function zipWith(pickle: number[]): Uint8Array {
  return zipSync({ "archive/data.pkl": new Uint8Array(pickle) }, { level: 0 });
}
const ascii = (s: string) => [...new TextEncoder().encode(s)];

test("torch.save: any global but the state-dict ones is refused in one line, never run", () => {
  // PROTO 2; GLOBAL 'os system'; BINUNICODE 'echo pwned'; TUPLE1; REDUCE; STOP
  const evil = [
    0x80,
    2,
    0x63,
    ...ascii("os\nsystem\n"),
    0x58,
    10,
    0,
    0,
    0,
    ...ascii("echo pwned"),
    0x85,
    0x52,
    0x2e,
  ];
  const e = assertThrows(() => parseTorchCheckpoint(zipWith(evil), "evil.bin"), UserError);
  assertStringIncludes(e.message, "os.system");
  assertStringIncludes(e.message, "nothing was executed");
  assert(!e.message.includes("\n"));
  // Also an allowed-looking module with another name, and object-building opcodes.
  const sneaky = [0x80, 2, 0x63, ...ascii("torch._utils\n_rebuild_parameter\n"), 0x2e];
  assertThrows(
    () => parseTorchCheckpoint(zipWith(sneaky), "p.bin"),
    UserError,
    "_rebuild_parameter",
  );
  const inst = [0x80, 2, 0x28, 0x69, ...ascii("builtins\neval\n"), 0x2e];
  assertThrows(() => parseTorchCheckpoint(zipWith(inst), "i.bin"), UserError, "opcode 0x69");
  // A pickle of something that is not a dict of tensors.
  assertThrows(
    () => parseTorchCheckpoint(zipWith([0x80, 2, 0x4e, 0x2e]), "n.bin"),
    UserError,
    "no state dict",
  );
});

test("torch.save: the legacy format and broken files are one-line errors", async () => {
  assertThrows(
    () => parseTorchCheckpoint(new Uint8Array([0x80, 0x02, 0x8a, 0x0a]), "old.bin"),
    UserError,
    "pre-1.6",
  );
  const full = await Deno.readFile(`${BIN}/pytorch_model.bin`);
  assertThrows(() => parseTorchCheckpoint(full.subarray(0, full.length / 2), "cut.bin"), UserError);
  await assertRejects(() => readTorchCheckpoint("/nonexistent.bin"), UserError, "/nonexistent.bin");
});

test("torch.save: strided views (e.g. a transposed tensor) are gathered in row-major order", () => {
  const str = (s: string) => [0x58, s.length, 0, 0, 0, ...ascii(s)];
  const od = [0x63, ...ascii("collections\nOrderedDict\n"), 0x29, 0x52];
  const pickle = [
    0x80,
    2,
    ...od,
    0x28,
    ...str("t"),
    0x63,
    ...ascii("torch._utils\n_rebuild_tensor_v2\n"),
    0x28,
    0x28,
    ...str("storage"),
    0x63,
    ...ascii("torch\nFloatStorage\n"),
    ...str("0"),
    ...str("cpu"),
    0x4b,
    6,
    0x74,
    0x51, // BINPERSID
    0x4b,
    0, // storage offset
    0x4b,
    3,
    0x4b,
    2,
    0x86, // size (3, 2)
    0x4b,
    1,
    0x4b,
    3,
    0x86, // stride (1, 3): the transpose of a 2x3 tensor
    0x89,
    ...od,
    0x74,
    0x52, // args tuple, REDUCE
    0x75,
    0x2e, // SETITEMS, STOP
  ];
  const storage = new Uint8Array(Float32Array.from([0, 1, 2, 3, 4, 5]).buffer);
  const zip = zipSync({ "archive/data.pkl": new Uint8Array(pickle), "archive/data/0": storage }, {
    level: 0,
  });
  const t = parseTorchCheckpoint(zip, "t.bin").get("t", [3, 2]);
  assertEquals(Array.from(t.data as Float32Array), [0, 3, 1, 4, 2, 5]);
});
