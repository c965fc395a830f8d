/** Built teachers in a sweep folder: reused only when they were built as the experiment asks. */
import { ALL_GRANTED, test } from "../permissions.ts";
import { assertEquals, assertRejects, assertStringIncludes } from "@std/assert";
import { join } from "node:path";
import { ensureTeacher, readSavedTeacher, settingsMismatch } from "../../lib/sweep/teachers.ts";
import type { TeacherSource } from "../../lib/sweep/define.ts";
import { initBackend } from "../../lib/backend.ts";
import { UserError } from "../../lib/core/errors.ts";
import { TEST_DATA } from "../helpers.ts";
import { FIXTURES } from "../fixture_paths.ts";

const FROM = `hf-dir:${FIXTURES}/mobilenet_v2_tiny`;
const SMALL = { maxImages: 12, epochs: [3], weightDecays: [0] };
if (ALL_GRANTED) {
  await initBackend("wasm", { quiet: true }).catch(() => initBackend("cpu", { quiet: true }));
}

test("sweep teachers: a built teacher is reused as built, refused when its settings changed", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kd-sweep-teacher-" });
  try {
    const out = join(dir, "teachers", "t");
    const lines: string[] = [];
    const source = (build: TeacherSource["build"]): TeacherSource => ({ name: "t", build });
    const opts = {
      from: FROM,
      data: TEST_DATA,
      settings: SMALL,
      quiet: true,
      log: (l: string) => lines.push(l),
    };
    const asked = {
      settings: { finetuneBlocks: "all" as const, finetuneEpochs: 1, imageSize: 48 },
    };
    await ensureTeacher(source(asked), out, opts);
    const built = lines.filter((l) => l.startsWith("building teacher")).length;
    assertEquals(built, 1);
    const config = await Deno.readTextFile(join(out, "config.json"));
    // Asked again the same way: reused, nothing rebuilt.
    await ensureTeacher(source(asked), out, opts);
    assertEquals(lines.filter((l) => l.startsWith("building teacher")).length, 1);
    assertEquals(await Deno.readTextFile(join(out, "config.json")), config);
    assertEquals(
      settingsMismatch(await readSavedTeacher(out), { ...SMALL, ...asked.settings }),
      null,
    );
    // Any recorded setting that now differs is named, and the folder is left alone.
    for (
      const [settings, named] of [
        [{ ...asked.settings, finetuneEpochs: 2 }, "finetuneEpochs=1, not 2"],
        [{ ...asked.settings, imageSize: 64 }, "imageSize=48, not 64"],
        [{ ...asked.settings, augment: "flip" }, "augment=null"],
        [{ finetuneBlocks: 1 }, "finetuneBlocks"],
        [{ ...asked.settings, featuresFrom: "block:1" }, "featuresFrom"],
      ] as const
    ) {
      const e = await assertRejects(
        () => ensureTeacher(source({ settings }), out, opts),
        UserError,
      );
      assertStringIncludes(e.message, named);
      assertStringIncludes(e.message, out);
    }
    const e = await assertRejects(
      () => ensureTeacher(source(asked), out, { ...opts, from: `${FROM}-other` }),
      UserError,
    );
    assertStringIncludes(e.message, "refusing to mix teachers");
    assertEquals(await Deno.readTextFile(join(out, "config.json")), config);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

test("a teacher folder whose config.json is not an object is one error naming it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const body of ["null", "[]", "{garb"]) {
      await Deno.writeTextFile(join(dir, "config.json"), body);
      const e = await assertRejects(() => readSavedTeacher(dir), UserError);
      assertStringIncludes(e.message, `${join(dir, "config.json")}: `);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
