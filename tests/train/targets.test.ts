/** Teachers keep their own class names; columns are aligned to the dataset's by name. */
import { test } from "../permissions.ts";
import { assert, assertEquals, assertThrows } from "@std/assert";
import { join } from "node:path";
import { initBackend } from "../../lib/backend.ts";
import { UserError } from "../../lib/core/errors.ts";
import { alignTeacherColumns, loadTeacher } from "../../lib/train/targets.ts";
import { BEANS_CLASSES } from "../data/helpers.ts";
import { FIXTURES } from "../fixture_paths.ts";

const VIT_TINY = `${FIXTURES}/vit_tiny`;

test("an HF teacher keeps its id2label; permuted classes are aligned, not assumed", async () => {
  await initBackend(undefined, { quiet: true });
  const dir = await Deno.makeTempDir();
  try {
    const permuted = ["healthy", "angular_leaf_spot", "bean_rust"];
    const config = JSON.parse(await Deno.readTextFile(join(VIT_TINY, "config.json")));
    config.id2label = Object.fromEntries(permuted.map((c, i) => [String(i), c]));
    config.label2id = Object.fromEntries(permuted.map((c, i) => [c, i]));
    await Deno.writeTextFile(join(dir, "config.json"), JSON.stringify(config));
    await Deno.copyFile(join(VIT_TINY, "model.safetensors"), join(dir, "model.safetensors"));
    const teacher = await loadTeacher(`hf-dir:${dir}`, BEANS_CLASSES);
    assertEquals(teacher.config.labels, permuted);
    teacher.dispose();
    // Teacher column j is permuted[j]; the dataset's column i must be BEANS_CLASSES[i].
    const logits = Float32Array.from([10, 20, 30]);
    const aligned = alignTeacherColumns(logits, permuted, BEANS_CLASSES, undefined, "t");
    assertEquals([...aligned], [20, 30, 10]);
    // --label-map works on any teacher kind: names that differ are mapped, then aligned.
    const other = ["blight", "rust", "ok"];
    const mapped = alignTeacherColumns(logits, other, BEANS_CLASSES, {
      blight: "angular_leaf_spot",
      rust: "bean_rust",
      ok: "healthy",
    }, "t");
    assertEquals([...mapped], [10, 20, 30]);
    const e = assertThrows(
      () => alignTeacherColumns(logits, other, BEANS_CLASSES, undefined, "t"),
      UserError,
    );
    assert(e.message.includes("blight") && e.message.includes("healthy"), e.message);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
