/**
 * The patient-distillation experiment's smoke profile end to end, as `deno task sweep
 * 2026-12-04-beans-patient-distillation --profile smoke` runs it offline, with the tiny
 * MobileNetV2 fixture as the teachers' backbone: every recipe arm through screen and confirm,
 * then the results and the report, which must keep the arms apart.
 */
import { test } from "../permissions.ts";
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { join } from "node:path";
import { exists } from "../../lib/core/fs.ts";
import { loadSweep } from "../../lib/report/load.ts";
import { withSmokeSweep } from "./smoke_sweep.ts";
import { reportFigures } from "../../lib/report/html.ts";
import { sweep as patient } from "../../experiments/2026-12-04-beans-patient-distillation.ts";
import { expandGrid } from "../../lib/sweep/grid.ts";
import { PRESETS } from "../../lib/presets.ts";

const EXPERIMENT = new URL(
  "../../experiments/2026-12-04-beans-patient-distillation.ts",
  import.meta.url,
).pathname;

test({
  name: "patient distillation, smoke: every arm screened and confirmed; results and report by arm",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await withSmokeSweep(EXPERIMENT, async (out) => {
      const sweep = await loadSweep(out);
      const arms = patient.profiles.smoke.arms!.map((a) => a.name);
      const { manifest } = sweep;
      assertEquals(manifest!.confirm!.picks.map((p) => p.recipe), arms);
      // Every run finished, and every arm has its own scratch on the screen and confirm seeds.
      assertEquals(sweep.results.pending, []);
      for (const arm of arms) {
        for (const seed of [0, 1000, 1001]) {
          assert(manifest!.runs.some((x) => x.id === `scratch-${arm}-s${seed}`), `${arm} ${seed}`);
        }
      }
      // `dkd` and `dist` change only the distillation term: their scratch runs are `today`'s,
      // copied rather than trained again, and say so; `views` (augmented) is trained.
      for (const seed of [0, 1000, 1001]) {
        const runDir = (id: string) => join(out, "runs", id);
        const today = await Deno.readTextFile(join(runDir(`scratch-today-s${seed}`), "final.json"));
        for (const arm of ["dkd", "dist"]) {
          const id = `scratch-${arm}-s${seed}`;
          const from = JSON.parse(await Deno.readTextFile(join(runDir(id), "reused_from.json")));
          assertEquals(from.run, `scratch-today-s${seed}`);
          assertEquals(await Deno.readTextFile(join(runDir(id), "final.json")), today);
        }
        assert(!(await exists(join(runDir(`scratch-views-s${seed}`), "reused_from.json"))));
      }
      // The arms' recipes reached the runs: views cached, mixup online, DKD, the guide's lr.
      const config = (id: string) => manifest!.runs.find((x) => x.id === id)!.config;
      assertEquals(config("kd-mnv2-weak-views-T5-l0.5-s0").teacherViews, 8);
      assertStringIncludes(config("kd-mnv2-weak-consistent-T5-l1-s0").augment!, "mixup=0.2");
      assertEquals(config("kd-mnv2-weak-dkd-T5-l0.5-s0").method, "dkd");
      assertEquals(config("scratch-hf-guide-s0").lr, 5e-5);

      // Each CONFIRM pick shows its teacher's own accuracy and the student's gap to it.
      const confirm = sweep.results.confirm!;
      assertEquals(confirm.map((c) => c.recipe), arms);
      const teacherAcc = sweep.results.rows.find((x) => x.kind === "distill")!
        .teacherValAccuracy!;
      for (const c of confirm) {
        assertEquals(c.teacherValAccuracy, teacherAcc);
        const mean = c.distilled.validation.accuracy.mean;
        assert(Math.abs(c.teacherGap! - (mean - teacherAcc)) < 1e-9);
      }
      // And against the strongest scratch recipe of the sweep, the same one for every pick.
      const best = confirm.reduce((a, b) =>
        b.scratch.validation.accuracy.mean > a.scratch.validation.accuracy.mean ? b : a
      );
      for (const c of confirm) {
        assertEquals(c.vsStrongestScratch!.recipe, best.recipe);
        const own = c.perSeed.map((s) => s.distilled.validation);
        const strongest = best.perSeed.map((s) => s.scratch.validation);
        const mean = own.reduce((a, v, i) => a + v - strongest[i], 0) / own.length;
        assert(Math.abs(c.vsStrongestScratch!.accuracy.mean - mean) < 1e-9);
      }
      const md = await Deno.readTextFile(join(out, "results.md"));
      for (const arm of arms) assertStringIncludes(md, `### CONFIRM mnv2-weak (${arm})`);
      assertStringIncludes(md, "| arm | teacher | teacher acc % |");
      assertStringIncludes(md, `| views | mnv2-weak | ${(teacherAcc * 100).toFixed(1)} |`);
      const csv = (await Deno.readTextFile(join(out, "results.csv"))).trim().split("\n");
      const cols = csv[0].split(",");
      const confirmRows = csv.slice(1).map((l) => l.split(",")).filter((c) => c[0] === "confirm");
      const recipes = new Set(confirmRows.map((c) => c[cols.indexOf("recipe")]));
      assertStringIncludes(md, "| Δ vs strongest scratch, pp [95% CI] |");
      const strongestCol = confirmRows.filter((c) =>
        c[cols.indexOf("kind")] === "distill" &&
        c[cols.indexOf("split")] === "validation"
      ).map((c) => c[cols.indexOf("strongest_scratch_recipe")]);
      assertEquals(new Set(strongestCol), new Set([best.recipe]));
      assertEquals([...recipes].sort(), [...arms].sort());

      // The figures keep the arms apart: one colour per arm, each arm's own scratch.
      const figures = new Map(reportFigures(sweep).map((f) => [f.name, f.figure]));
      const delta = figures.get("delta_vs_scratch")!;
      assertEquals(delta.data.map((t) => t.name), arms);
      assertEquals(new Set(delta.data.map((t) => (t.marker as { color: string }).color)).size, 6);
      const byArm = figures.get("arms")!;
      assertEquals(byArm.data[0].x, arms);
      assertEquals(byArm.data[0].name, "scratch (same arm)");
      const scratchLines = figures.get("accuracy_vs_temperature")!.data.filter((t) =>
        String(t.name).includes(": scratch")
      );
      assertEquals(scratchLines.length, arms.length);
      const curves = figures.get("learning_curves")!.data.filter((t) => t.showlegend);
      assert(
        curves.some((t) => t.legendgroup === "scratch-views"),
        "each arm's scratch is its own curve",
      );
      assertStringIncludes(await Deno.readTextFile(join(out, "report.html")), 'id="plot-arms"');
    });
  },
});

Deno.test("patient distillation: every profile's hf-guide arm trains with the guide's optimizer", () => {
  // A profile's own overrides reach every arm; the guide's arm must not inherit a from-scratch lr.
  const guide = PRESETS["hf-guide"].recipe;
  for (const [name, profile] of Object.entries(patient.profiles)) {
    const arms = profile.arms?.filter((a) => a.name === "hf-guide") ?? [];
    if (!arms.length) continue;
    const teachers = [{ name: "t", spec: "dir:/t" }];
    const runs = expandGrid({ ...profile, arms }, teachers, {});
    assert(runs.length > 0, name);
    for (const r of runs) {
      assertEquals(
        [r.config.lr, r.config.optimizer, r.config.schedule, r.config.batchSize],
        [guide.lr, guide.optimizer, guide.schedule, guide.batchSize],
        `${name}: ${r.id}`,
      );
    }
  }
});
