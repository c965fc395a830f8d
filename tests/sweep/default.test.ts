/**
 * The default experiment (`deno task sweep`, the newest dated `experiments/*-sweep.ts`) teaches
 * the way issue #20's experiments found to beat the strongest scratch recipe: a teacher at the
 * student's resolution, cached augmented views, λ = 1, scratch on the same views and schedule.
 * Its smoke profile runs end to end offline, with the tiny MobileNetV2 fixture as the backbone.
 */
import { test } from "../permissions.ts";
import { assert, assertEquals, assertMatch, assertStringIncludes } from "@std/assert";
import { join } from "node:path";
import { defaultExperiment } from "../../lib/sweep/run.ts";
import { withSmokeSweep } from "./smoke_sweep.ts";
import { expandGrid } from "../../lib/sweep/grid.ts";
import { loadSweep } from "../../lib/report/load.ts";
import type { SweepDefinition, SweepProfile } from "../../lib/sweep/define.ts";

const EXPERIMENT = defaultExperiment();
const { sweep } = await import(`file://${EXPERIMENT}`) as { sweep: SweepDefinition };
/** The teachers a profile uses: the ones it names, else all of the experiment's. */
const teachersOf = (profile: SweepProfile) =>
  sweep.teachers.filter((t) => profile.teachers?.includes(t.name) ?? true);
/** The smoke profile's built teachers (the guide's ViT is hub-only: tests/fresh_clone.test.ts). */
const BUILT = teachersOf(sweep.profiles.smoke).filter((t) => t.build).map((t) => t.name);

Deno.test("the default sweep's own profiles teach at the student's resolution from cached views", () => {
  // `cpu` and `full` are the profiles `deno task sweep` picks by itself.
  for (const name of ["cpu", "full"]) {
    const profile = sweep.profiles[name];
    const used = teachersOf(profile);
    const runs = expandGrid(
      profile,
      used.map((t) => ({ name: t.name, spec: `dir:/${t.name}` })),
      {},
    );
    const size = runs[0].config.imageSize;
    for (const t of used) {
      // A built teacher is fine-tuned at the student's size; a hub teacher (the guide's ViT)
      // takes 224 px, so only a 224 px student gets one.
      const teacherSize = t.build ? t.build.settings?.imageSize ?? 224 : 224;
      assertEquals(teacherSize, size, `${name}: teacher ${t.name} at ${teacherSize} px`);
    }
    for (const r of runs) {
      assert((r.config.teacherViews ?? 0) >= 1, `${name}: ${r.id} without cached views`);
      assertMatch(r.config.augment ?? "", /crop/, `${name}: ${r.id}`);
      if (r.kind === "distill") assertEquals(r.config.lambda, 1, `${name}: ${r.id}`);
    }
    assert((profile.confirmSeeds ?? 0) >= 8, `${name}: a verdict needs confirm seeds`);
  }
});

test({
  name: "the default sweep, smoke: screen and confirm, scratch on the distilled arm's views",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await withSmokeSweep(EXPERIMENT, async (out, lines) => {
      // The profile's budget comes first, before the teacher is built.
      assertEquals(lines[0], `${sweep.name} (profile smoke): ${sweep.profiles.smoke.budget}`);
      assert(lines.findIndex((l) => l.startsWith("building teacher")) > 0);
      const { manifest, results } = await loadSweep(out);
      assertEquals(results.pending, []);
      assert(manifest!.confirm!.picks.length >= 1);
      const confirmed = manifest!.runs.filter((x) => x.stage === "confirm");
      const seeds = new Set(confirmed.map((x) => x.seed));
      assertEquals(seeds.size, sweep.profiles.smoke.confirmSeeds);
      for (const seed of seeds) {
        const [scratch, kd] = ["scratch", "distill"].map((kind) =>
          confirmed.find((x) => x.seed === seed && x.kind === kind)!.config
        );
        const same = (c: typeof kd) => [c.augment, c.teacherViews, c.epochs, c.imageSize];
        assertEquals(same(scratch), same(kd), `seed ${seed}`);
      }
      const md = await Deno.readTextFile(join(out, "results.md"));
      assertStringIncludes(md, "**Answer:**");
    }, BUILT);
  },
});
