import { BEANS_MINI_ROWS } from "../fixture_paths.ts";
import { ALL_GRANTED, test } from "../permissions.ts";
import { assert, assertEquals, assertRejects, assertStringIncludes } from "@std/assert";
import { UserError } from "../../lib/core/errors.ts";
import { join } from "node:path";
import { initBackend } from "../../lib/backend.ts";
import { measureTradeoff, tradeoffMarkdown } from "../../lib/export/tradeoff.ts";
import { createModel } from "../../lib/models/registry.ts";
import { saveModel } from "../../lib/models/checkpoint.ts";
import { modelCost } from "../../lib/models/cost.ts";
import { writeSyntheticSweep } from "../../lib/report/synthetic.ts";
import { loadSweep } from "../../lib/report/load.ts";
import { writeReport } from "../../lib/report/html.ts";
import { measureSweepTradeoff, readSweepTradeoff } from "../../lib/report/tradeoff.ts";
import { saveRandomStudent, TEST_DATA } from "../helpers.ts";

if (ALL_GRANTED) await initBackend(undefined, { quiet: true });

const FAST = { minRuns: 1, minSeconds: 0, quiet: true };

/** A random "teacher" (MobileNetV2 ×0.5 at 64 px) saved with a recorded validation accuracy. */
async function saveTeacher(dir: string): Promise<string> {
  const m = await createModel("mobilenet_v2@0.5", {
    numLabels: 3,
    labels: ["angular_leaf_spot", "bean_rust", "healthy"],
    imageSize: 64,
    seed: 2,
  });
  await saveModel(m, dir, { val_accuracy: 0.8, val_images: 133 });
  m.dispose();
  return dir;
}

test("tradeoff: teacher and student side by side, counted, timed and scored", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "kd-tradeoff-" });
  try {
    const teacher = await saveTeacher(join(tmp, "teacher"));
    const student = await saveRandomStudent(tmp, "student", 32);
    const t = await measureTradeoff({
      teachers: [`dir:${teacher}`],
      students: [`dir:${student}`],
      ...FAST,
    });
    assertEquals(t.rows.map((r) => [r.role, r.name, r.image_size]), [
      ["teacher", "teacher", 64],
      ["student", "student", 32],
    ]);
    for (const [r, dir] of [[t.rows[0], teacher], [t.rows[1], student]] as const) {
      const m = await createModel(`dir:${dir}`);
      const cost = await modelCost(m);
      m.dispose();
      assertEquals([r.params, r.macs], [cost.params, cost.macs]);
      assertEquals(r.file_bytes, (await Deno.stat(join(dir, "model.safetensors"))).size);
      assert(r.latency_ms > 0 && r.throughput > 0);
      assertEquals([r.web_bytes, r.browser_ms], [null, null]);
    }
    assert(
      t.rows[0].macs! > t.rows[1].macs!,
      "the 64 px ×0.5 model costs more than the 32 px ×0.35",
    );
    assertEquals([t.rows[0].val_accuracy, t.rows[0].accuracy_from], [0.8, "saved model"]);
    assertEquals([t.rows[1].val_accuracy, t.rows[1].accuracy_from], [null, null]);

    // With data, accuracy is evaluated on the validation split.
    const e = await measureTradeoff({
      teachers: [],
      students: [`dir:${student}`],
      data: TEST_DATA,
      ...FAST,
    });
    assertEquals([e.rows[0].val_n, e.rows[0].accuracy_from], [
      BEANS_MINI_ROWS.validation,
      "evaluated",
    ]);
    // A browser_latency.json that is no latency record is named, not a TypeError.
    const web = join(tmp, "web");
    await Deno.mkdir(web);
    for (const body of ["null", '{"median_ms":-1}', "{garb"]) {
      await Deno.writeTextFile(join(web, "browser_latency.json"), body);
      await assertRejects(
        () => measureTradeoff({ teachers: [], students: [`dir:${student}`], web: [web], ...FAST }),
        UserError,
        `${join(web, "browser_latency.json")}: `,
      );
    }
    const md = tradeoffMarkdown(t);
    assertStringIncludes(md, "| model | role | input | parameters |");
    assertStringIncludes(
      md,
      `| teacher | teacher | 64 px | ${t.rows[0].params.toLocaleString("en-US")} |`,
    );
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

test({
  name: "tradeoff: a sweep's teachers and best students land in tradeoff.json and the report",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const tmp = await Deno.makeTempDir({ prefix: "kd-tradeoff-sweep-" });
    try {
      const dir = join(tmp, "sweep");
      await writeSyntheticSweep(dir, {
        teachers: ["strong"],
        temperatures: [2],
        seeds: [0],
        confirmSeeds: 0,
      });
      const { html: before } = await writeReport(dir);
      assertStringIncludes(await Deno.readTextFile(before), "deno task bench tradeoff --sweep");
      // Give the synthetic sweep real models: a saved teacher and best/ for each run.
      const manifestPath = join(dir, "sweep.json");
      const manifest = JSON.parse(await Deno.readTextFile(manifestPath));
      manifest.teachers[0].spec = `dir:${await saveTeacher(join(tmp, "teacher"))}`;
      await Deno.writeTextFile(manifestPath, JSON.stringify(manifest));
      const sweep = await loadSweep(dir);
      for (const r of sweep.runs) await saveRandomStudent(r.dir, "best", 32);

      const table = await measureSweepTradeoff(sweep, FAST);
      const distill = sweep.runs.find((r) => r.kind === "distill")!;
      const scratch = sweep.runs.find((r) => r.kind === "scratch")!;
      assertEquals(table.rows.map((r) => [r.role, r.name]), [
        ["teacher", "strong"],
        ["student", `best distilled (${distill.id})`],
        ["student", `best scratch (${scratch.id})`],
      ]);
      assertEquals(table.rows[1].val_accuracy, distill.final!.validation.accuracy);
      assertEquals(table.rows[1].accuracy_from, "run");
      assertEquals(await readSweepTradeoff(dir), table);
      const { html } = await writeReport(dir);
      const page = await Deno.readTextFile(html);
      assertStringIncludes(page, "Teacher vs student: size, speed, accuracy");
      assertStringIncludes(page, `best distilled (${distill.id})`);
      assert(!page.includes("deno task bench tradeoff --sweep"));
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});

test("deno task bench tradeoff: --json prints the table; missing --teacher is exit 2", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "kd-tradeoff-cli-" });
  const cli = new URL("../../lib/cli/bench.ts", import.meta.url).pathname;
  const run = (...args: string[]) =>
    new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", cli, "tradeoff", ...args],
      stdout: "piped",
      stderr: "piped",
    }).output();
  try {
    const student = await saveRandomStudent(tmp, "student", 32);
    const teacher = await saveTeacher(join(tmp, "teacher"));
    const ok = await run(
      "--student",
      `dir:${student}`,
      "--teacher",
      `dir:${teacher}`,
      "--runs",
      "1",
      "--seconds",
      "0",
      "--json",
    );
    assert(ok.success, new TextDecoder().decode(ok.stderr));
    const t = JSON.parse(new TextDecoder().decode(ok.stdout));
    assertEquals(t.rows.map((r: { role: string }) => r.role), ["teacher", "student"]);
    const bad = await run("--student", `dir:${student}`);
    assertEquals(bad.code, 2);
    assertStringIncludes(new TextDecoder().decode(bad.stderr), "--teacher are required");
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
