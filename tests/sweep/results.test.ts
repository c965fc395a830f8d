import { test } from "../permissions.ts";
import { assert, assertEquals, assertRejects, assertStringIncludes } from "@std/assert";
import { join } from "node:path";
import { aggregate, mergeResults, type TestRecord } from "../../lib/sweep/results.ts";
import { writeSyntheticSweep } from "../../lib/report/synthetic.ts";
import { loadSweep } from "../../lib/report/load.ts";
import { UserError } from "../../lib/core/errors.ts";
import { confirmRuns, confirmSeedList, expandGrid } from "../../lib/sweep/grid.ts";
import { resultsCsv, resultsMarkdown } from "../../lib/report/table.ts";
import { confirmHtml } from "../../lib/report/confirm.ts";
import { mulberry32 } from "../../lib/core/rng.ts";
import type { FinalSummary } from "../../lib/core/run_files.ts";
import type { SweepProfile } from "../../lib/sweep/define.ts";
import type { SweepManifest } from "../../lib/sweep/types.ts";

const VAL = 133, TEST = 128, N = 10;
const profile: SweepProfile = {
  preset: "smoke",
  student: "mobilenet_v2@0.35",
  temperatures: [5],
  lambdas: [0.5],
  seeds: [0, 1],
  confirmSeeds: N,
};
const teachers = [{ name: "t", spec: "dir:/t" }];

function final(accuracy: number): FinalSummary {
  return {
    best_epoch: 1,
    select_by: "accuracy",
    epochs_run: 1,
    stopped_early: false,
    validation: {
      n: VAL,
      accuracy,
      macro_f1: accuracy - 0.01,
      ece: 0,
      precision: [],
      recall: [],
      confusion: [],
      agreement: null,
      kl_to_teacher: null,
    },
    teacher_val_accuracy: 0.9,
    train_time_s: 1,
    img_per_s: 1,
    class_names: ["a", "b", "c"],
  };
}

/** Test predictions where exactly `right` of the TEST images are correct (which ones: `rand`). */
function testRecord(right: number, rand: () => number): TestRecord {
  const ids = Array.from({ length: TEST }, (_, i) => `img${i}`);
  const order = ids.map((_, i) => i).sort(() => rand() - 0.5);
  const correct = new Set(order.slice(0, right));
  const labels = ids.map((_, i) => i % 3);
  return {
    split: "test",
    accuracy: right / TEST,
    macro_f1: right / TEST,
    n: TEST,
    ids,
    labels,
    predictions: labels.map((l, i) => correct.has(i) ? l : (l + 1) % 3),
  };
}

/**
 * A finished sweep where distilled accuracy = scratch accuracy + `effect` (per seed, plus
 * noise of its own), on validation and on test.
 */
function synthetic(effect: number, seed: number, withTest = true) {
  const rand = mulberry32(seed);
  const noise = (sd: number) => (rand() + rand() + rand() - 1.5) * sd * 2;
  const screen = expandGrid(profile, teachers, {});
  const seeds = confirmSeedList(N);
  const picks = [{
    teacher: "t",
    temperature: 5,
    lambda: 0.5,
    screenAccuracy: 0.8,
    screenSeeds: [0, 1],
  }];
  const confirm = confirmRuns(profile, teachers, picks, seeds, {});
  const manifest: SweepManifest = {
    experiment: "synthetic",
    profile: "x",
    description: "",
    teachers,
    runs: [...screen, ...confirm],
    gridHash: "",
    confirm: { picks, seeds, fromRuns: screen.map((r) => r.id), selectedAt: "" },
  };
  const finished = new Map(screen.map((r) => [r.id, final(0.8)]));
  const tests = new Map<string, TestRecord>();
  for (const s of seeds) {
    const base = 0.78 + noise(0.04);
    const d = base + effect + noise(0.01);
    finished.set(`scratch-s${s}`, final(base));
    finished.set(`kd-t-T5-l0.5-s${s}`, final(d));
    tests.set(`scratch-s${s}`, testRecord(Math.round(base * TEST), rand));
    tests.set(`kd-t-T5-l0.5-s${s}`, testRecord(Math.round(d * TEST), rand));
  }
  return withTest ? aggregate(manifest, finished, tests, true) : aggregate(manifest, finished);
}

test("a distilled arm better by construction: the confirm interval excludes 0", () => {
  const r = synthetic(0.06, 1);
  const c = r.confirm![0];
  assertEquals(c.seeds.length, N);
  assert(c.delta.validation.accuracy.ci95[0] > 0, JSON.stringify(c.delta.validation.accuracy));
  assert(c.delta.test!.accuracy.ci95[0] > 0);
  assertStringIncludes(c.verdict, "beats scratch by +");
  assert(Math.abs(c.delta.validation.accuracy.mean - 0.06) < 0.01);
  assertStringIncludes(c.verdict, "on test");
  assertEquals(c.pairedTest!.n, TEST * N);
  assert(c.pairedTest!.p < 0.05, `McNemar p ${c.pairedTest!.p}`);
  for (const arm of [c.scratch.validation, c.distilled.validation, c.scratch.test!]) {
    assert(arm.accuracy.ci95[0] >= 0 && arm.accuracy.ci95[1] <= 1);
  }
});

test("no effect by construction: the confirm interval contains 0", () => {
  for (const seed of [2, 3, 4]) {
    const c = synthetic(0, seed).confirm![0];
    const [lo, hi] = c.delta.validation.accuracy.ci95;
    assert(lo < 0 && hi > 0, `seed ${seed}: [${lo}, ${hi}]`);
    assertStringIncludes(c.verdict, "no detectable difference");
  }
});

test("CONFIRM sections in results.md, results.csv and the report, with TEST rows and the test named", () => {
  const r = synthetic(0.06, 5);
  const md = resultsMarkdown(r);
  assertStringIncludes(md, "### CONFIRM t");
  assertStringIncludes(md, "| scratch | TEST |");
  assertStringIncludes(md, "exact McNemar");
  assertStringIncludes(md, `n = ${TEST * N}`);
  assertStringIncludes(md, "**Verdict:**");
  const csv = resultsCsv(r).trim().split("\n");
  const header = csv[0].split(",");
  const confirm = csv.slice(1).filter((l) => l.startsWith("confirm,"));
  // scratch + distilled on validation and on test.
  assertEquals(confirm.length, 4);
  const testDistill = confirm.find((l) => l.startsWith("confirm,test,t,distill"))!.split(",");
  assertEquals(testDistill[header.indexOf("paired_test_n")], String(TEST * N));
  assertStringIncludes(confirmHtml(r), "CONFIRM t");
  // Without a test split the section says so, and has no TEST rows.
  const noTest = synthetic(0.06, 5, false);
  assertStringIncludes(noTest.confirm![0].verdict, "the data has no test split");
  const md2 = resultsMarkdown(noTest);
  assertStringIncludes(md2, "No test split in the data");
  assert(!md2.includes("| TEST |"));
});

test("a run id in sweep.json that is not a plain name is refused, naming sweep.json and the id", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "kd-sweep-ids-" });
  try {
    const dir = join(tmp, "a", "sweep");
    await writeSyntheticSweep(dir, {
      teachers: ["t"],
      temperatures: [5],
      seeds: [0],
      epochs: 1,
      confirmSeeds: 0,
    });
    const path = join(dir, "sweep.json");
    const good = JSON.parse(await Deno.readTextFile(path)) as SweepManifest;
    // A finished run outside the sweep, where such an id leads.
    const outside = join(tmp, "a", "s2");
    await Deno.mkdir(outside);
    await Deno.copyFile(
      join(dir, "runs", good.runs[0].id, "final.json"),
      join(outside, "final.json"),
    );
    for (const id of ["../../s2", "/etc", "a/b", ".."]) {
      const bad = { ...good, runs: [{ ...good.runs[0], id }, ...good.runs.slice(1)] };
      await Deno.writeTextFile(path, JSON.stringify(bad));
      const msg = `${path}: run id ${JSON.stringify(id)} cannot name a folder`;
      await assertRejects(() => mergeResults(dir), UserError, msg);
      await assertRejects(() => loadSweep(dir), UserError, msg);
    }
    // The command: exit 2, one line naming sweep.json and the id.
    const cli = new URL("../../lib/cli/report.ts", import.meta.url).pathname;
    const o = await new Deno.Command(Deno.execPath(), { args: ["run", "-A", cli, dir] }).output();
    const lines = new TextDecoder().decode(o.stderr).trim().split("\n");
    assertEquals([o.code, lines.length], [2, 1], lines.join("\n"));
    assertStringIncludes(lines[0], `${path}: run id ".."`);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
