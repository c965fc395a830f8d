/** The notebook's probe teacher is built once, rebuilt for another backbone, never over other files. */
import { ALL_GRANTED, test } from "../permissions.ts";
import { assertEquals, assertRejects } from "@std/assert";
import { join } from "node:path";
import { buildProbeTeacher } from "../../lib/notebook/teacher.ts";
import { buildTeacher } from "../../lib/teacher/build.ts";
import { UserError } from "../../lib/core/errors.ts";
import { TEST_DATA } from "../helpers.ts";
import { FIXTURES } from "../fixture_paths.ts";
import { initBackend } from "../../lib/backend.ts";

if (ALL_GRANTED) {
  await initBackend("wasm", { quiet: true }).catch(() => initBackend("cpu", { quiet: true }));
}

test("notebook teacher: reused for its backbone, rebuilt for another, refused over other files", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kd-nb-teacher-" });
  const log = console.log;
  console.log = () => {};
  try {
    const out = join(dir, "t");
    const config = () => Deno.readTextFile(join(out, "config.json"));
    // Two spellings of the tiny fixture: two backbones as far as the record goes.
    const [a, b] = [
      `hf-dir:${FIXTURES}/mobilenet_v2_tiny`,
      `hf-dir:${FIXTURES}/mobilenet_v2_tiny/`,
    ];
    // The first build with a small grid (quick); the notebook's own grid only for the rebuild.
    const small = { maxImages: 12, epochs: [3], weightDecays: [0], quiet: true };
    await buildTeacher({ from: a, data: TEST_DATA, out, ...small });
    const first = await config();
    await buildProbeTeacher(out, { from: a, data: TEST_DATA });
    assertEquals(await config(), first);
    await buildProbeTeacher(out, { from: b, data: TEST_DATA });
    assertEquals(JSON.parse(await config()).info.from, b);

    // A folder with a config.json the toolkit's teacher build did not write is someone else's.
    const other = join(dir, "other");
    await Deno.mkdir(other);
    await Deno.writeTextFile(join(other, "config.json"), JSON.stringify({ info: { from: "x" } }));
    await assertRejects(() => buildProbeTeacher(other, { from: a, data: TEST_DATA }), UserError);
    assertEquals(await Deno.readTextFile(join(other, "config.json")), '{"info":{"from":"x"}}');
  } finally {
    console.log = log;
    await Deno.remove(dir, { recursive: true });
  }
});
