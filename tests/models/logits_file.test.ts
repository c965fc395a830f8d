import { test } from "../permissions.ts";
import { FIXTURES } from "../fixture_paths.ts";
import { assertEquals, assertRejects } from "@std/assert";
import { join } from "node:path";
import { initBackend } from "../../lib/backend.ts";
import { writeLogitsFile } from "../../lib/models/logits_file.ts";
import { writeSafetensors } from "../../lib/models/safetensors.ts";
import { UserError } from "../../lib/core/errors.ts";

await initBackend("cpu", { quiet: true });

test("writeLogitsFile refuses non-finite pixel values, naming the file and tensor", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const size = 32; // the tiny ViT fixture's input
    for (const [bad, shown] of [[NaN, "NaN"], [Infinity, "Infinity"]] as const) {
      const input = join(dir, `in_${shown}.safetensors`);
      const data = new Float32Array(2 * 3 * size * size);
      data[5] = bad;
      await writeSafetensors(input, { pixel_values: { shape: [2, 3, size, size], data } });
      const out = join(dir, "out.safetensors");
      await assertRejects(
        () => writeLogitsFile({ model: `hf-dir:${FIXTURES}/vit_tiny`, input, out }),
        UserError,
        `${input}: "pixel_values" element 5 is ${shown}; pixel values must be finite`,
      );
      // Nothing written: no logits at all beats logits that differ between backends.
      assertEquals(await Deno.stat(out).then(() => true, () => false), false);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

test("writeLogitsFile never overwrites its input, and an existing --out only with force", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const input = join(dir, "io.safetensors");
    await Deno.copyFile(`${FIXTURES}/vit_tiny/io.safetensors`, input);
    const before = await Deno.readFile(input);
    const model = `hf-dir:${FIXTURES}/vit_tiny`;
    for (const out of [input, join(dir, ".", "io.safetensors")]) {
      for (const force of [false, true]) {
        await assertRejects(
          () => writeLogitsFile({ model, input, out, force }),
          UserError,
          "is the --input file",
        );
      }
    }
    assertEquals(await Deno.readFile(input), before);
    const mine = join(dir, "mine.safetensors");
    await Deno.writeTextFile(mine, "the user's file");
    await assertRejects(
      () => writeLogitsFile({ model, input, out: mine }),
      UserError,
      `--out ${mine} exists; pass --force`,
    );
    assertEquals(await Deno.readTextFile(mine), "the user's file");
    assertEquals(await writeLogitsFile({ model, input, out: mine, force: true }), [2, 3]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
