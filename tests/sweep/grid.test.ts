import { test } from "../permissions.ts";
import { assert, assertEquals, assertRejects, assertThrows } from "@std/assert";
import { join } from "node:path";
import {
  checkConfirmPlan,
  CONFIRM_SEED_BASE,
  confirmRuns,
  confirmSeedList,
  expandGrid,
  selectForConfirm,
} from "../../lib/sweep/grid.ts";
import { UserError } from "../../lib/core/errors.ts";
import type { SweepProfile } from "../../lib/sweep/define.ts";
import { mergeResults } from "../../lib/sweep/results.ts";
import { writeSyntheticSweep } from "../../lib/report/synthetic.ts";
import { exists } from "../../lib/core/fs.ts";

const profile: SweepProfile = {
  preset: "smoke",
  student: "mobilenet_v2@0.35",
  temperatures: [2, 5, 10],
  lambdas: [0.5, 0.9],
  seeds: [0, 1],
  confirmSeeds: 3,
};
const teachers = [{ name: "a", spec: "dir:/a" }, { name: "b", spec: "dir:/b" }];

/** Validation accuracy per screen run from a function of (teacher, T, λ, seed). */
function accuracies(
  f: (t: string | null, T: number | null, l: number | null, s: number) => number,
) {
  const screen = expandGrid(profile, teachers, {});
  return {
    screen,
    acc: new Map(screen.map((r) => [r.id, f(r.teacher, r.temperature, r.lambda, r.seed)])),
  };
}

Deno.test("screen picks per teacher the best mean validation accuracy; ties go to lower T, then λ", () => {
  const { screen, acc } = accuracies((t, T, l, s) =>
    t === "a"
      ? (T === 5 && l === 0.9 ? 0.9 : 0.8) + s * 0.01
      : t === "b"
      ? (T === 10 ? 0.85 : 0.85)
      : 0.7
  );
  const picks = selectForConfirm(screen, acc);
  assertEquals(picks.map((p) => [p.teacher, p.temperature, p.lambda]), [["a", 5, 0.9], [
    "b",
    2,
    0.5,
  ]]);
  assertEquals(picks[0].screenSeeds, [0, 1]);
  assert(Math.abs(picks[0].screenAccuracy - 0.905) < 1e-12);
  // The same answer whatever order the runs are listed in.
  const shuffled = [...screen].reverse();
  assertEquals(selectForConfirm(shuffled, acc).map((p) => p.temperature).sort(), [2, 5]);
});

Deno.test("selection needs every screen run and only their validation accuracy", () => {
  const { screen, acc } = accuracies(() => 0.8);
  acc.delete(screen[3].id);
  assertThrows(() => selectForConfirm(screen, acc), Error, screen[3].id);
});

Deno.test("confirm runs: scratch and each pick on the same fresh seeds, seed by seed, never a screen seed", () => {
  const screen = expandGrid(profile, teachers, {});
  const seeds = confirmSeedList(3);
  assertEquals(seeds, [CONFIRM_SEED_BASE, CONFIRM_SEED_BASE + 1, CONFIRM_SEED_BASE + 2]);
  const picks = [{
    teacher: "b",
    temperature: 5,
    lambda: 0.5,
    screenAccuracy: 0.9,
    screenSeeds: [0, 1],
  }];
  const runs = confirmRuns(profile, teachers, picks, seeds, {});
  // Seed by seed: stopped early, the finished runs are complete pairs.
  assertEquals(runs.map((r) => r.id), [
    "scratch-s1000",
    "kd-b-T5-l0.5-s1000",
    "scratch-s1001",
    "kd-b-T5-l0.5-s1001",
    "scratch-s1002",
    "kd-b-T5-l0.5-s1002",
  ]);
  assert(runs.every((r) => r.stage === "confirm" && r.config.seed >= CONFIRM_SEED_BASE));
  const screenIds = new Set(screen.map((r) => r.id));
  assert(runs.every((r) => !screenIds.has(r.id)));
  // A larger N extends a smaller one (same first seeds).
  assertEquals(confirmSeedList(5).slice(0, 3), seeds);
  assertThrows(
    () => expandGrid({ ...profile, seeds: [0, 1000] }, teachers, {}),
    UserError,
    "confirm seeds start",
  );
});

Deno.test("confirmSeedStart: a replication's confirm seeds start later, never among the screen's", () => {
  assertEquals(confirmSeedList(3, 1006), [1006, 1007, 1008]);
  // Extending a replication keeps its first seeds.
  assertEquals(confirmSeedList(5, 1006).slice(0, 3), confirmSeedList(3, 1006));
  for (const bad of [999, 1006.5]) {
    assertThrows(() => confirmSeedList(2, bad), UserError, `confirmSeedStart ${bad}`);
    // The grid refuses it before any screen run starts.
    assertThrows(
      () => expandGrid({ ...profile, confirmSeedStart: bad }, teachers, {}),
      UserError,
      "confirmSeedStart",
    );
  }
});

test("a recorded pick must be in the grid and be what the screen results give", async () => {
  const { screen, acc } = accuracies((t, T, _l, s) => (t === "a" && T === 5 ? 0.9 : 0.8) + s / 100);
  const picks = selectForConfirm(screen, acc);
  const plan = { picks, seeds: [1000], fromRuns: screen.map((r) => r.id), selectedAt: "then" };
  const check = (p: typeof plan) => checkConfirmPlan("SWEEP/sweep.json", p, screen, acc);
  check(plan);
  const edit = (i: number, change: Record<string, unknown>) => ({
    ...plan,
    picks: plan.picks.map((p, j) => (j === i ? { ...p, ...change } : p)),
  });
  const cases: [typeof plan, string][] = [
    [edit(0, { temperature: 7 }), "confirm.picks[0].temperature 7 is not in the screen grid"],
    [edit(0, { lambda: 0.7 }), "confirm.picks[0].lambda 0.7 is not in the screen grid"],
    [edit(0, { temperature: 10 }), "confirm.picks[0].temperature is 10 but the screen results"],
    [edit(1, { lambda: 0.9 }), "confirm.picks[1].lambda is 0.9 but the screen results give 0.5"],
    [edit(0, { screenAccuracy: 0.99 }), "confirm.picks[0].screenAccuracy is 0.99"],
    [edit(0, { screenSeeds: [0] }), "confirm.picks[0].screenSeeds"],
    [edit(1, { teacher: "c" }), 'confirm.picks[1].teacher "c" is not a teacher'],
    [{ ...plan, picks: [plan.picks[0]] }, "confirm.picks must name each teacher once"],
    [{ ...plan, fromRuns: plan.fromRuns.slice(1) }, "confirm.fromRuns lists other runs"],
  ];
  for (const [p, msg] of cases) {
    assertThrows(() => check(p), UserError, `SWEEP/sweep.json: ${msg}`);
  }
  const partial = new Map(acc);
  partial.delete(screen[0].id);
  assertThrows(
    () => checkConfirmPlan("SWEEP/sweep.json", plan, screen, partial),
    UserError,
    `made before screen run(s) ${screen[0].id} finished`,
  );

  // `deno task report` on a sweep whose sweep.json pick was edited: one line, exit 2.
  const dir = await Deno.makeTempDir({ prefix: "kd-sweep-pick-" });
  try {
    await writeSyntheticSweep(dir, { teachers: ["a"], temperatures: [2, 5], seeds: [0, 1] });
    const path = join(dir, "sweep.json");
    const manifest = JSON.parse(await Deno.readTextFile(path));
    await mergeResults(dir); // as written: consistent
    manifest.confirm.picks[0].temperature = 3;
    await Deno.writeTextFile(path, JSON.stringify(manifest));
    await assertRejects(() => mergeResults(dir), UserError, "temperature 3 is not in the screen");
    const o = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL("../../lib/cli/report.ts", import.meta.url).pathname, dir],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const lines = new TextDecoder().decode(o.stderr).trim().split("\n");
    assertEquals([o.code, lines.length], [2, 1], lines.join("\n"));
    assertEquals(
      lines[0].startsWith(`error: ${path}: confirm.picks[0].temperature 3 is not`),
      true,
      lines[0],
    );
    assertEquals(await exists(join(dir, "results.md")), false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
