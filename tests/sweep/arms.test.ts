/** Recipe arms in sweeps: each arm has its own scratch baseline with the same recipe. */
import { test } from "../permissions.ts";
import { assert, assertEquals, assertThrows } from "@std/assert";
import { confirmRuns, expandGrid, selectForConfirm } from "../../lib/sweep/grid.ts";
import { againstStrongestScratch, aggregate } from "../../lib/sweep/results.ts";
import type { ConfirmResult } from "../../lib/sweep/types.ts";
import type { SweepProfile } from "../../lib/sweep/define.ts";
import { validateConfig } from "../../lib/train/config.ts";
import { UserError } from "../../lib/core/errors.ts";
import type { FinalSummary } from "../../lib/train.ts";
import { sweep as patient } from "../../experiments/2026-12-04-beans-patient-distillation.ts";

const profile: SweepProfile = {
  preset: "smoke",
  student: "mobilenet_v2@0.35",
  temperatures: [5],
  lambdas: [0.5],
  seeds: [0, 1],
  confirmSeeds: 2,
  arms: [
    { name: "today" },
    { name: "mix", overrides: { augment: "flip,mixup=0.2", epochs: 3 }, lambdas: [1] },
    { name: "dkd", overrides: { method: "dkd", dkdBeta: 4 } },
  ],
};
const teachers = [{ name: "t", spec: "dir:/t" }];

Deno.test("each arm's scratch runs share its augmentation and schedule, without its method", () => {
  const runs = expandGrid(profile, teachers, {});
  assertEquals(runs.length, 3 * (2 + 2));
  const mixScratch = runs.find((r) => r.id === "scratch-mix-s0")!;
  const mixKd = runs.find((r) => r.id === "kd-t-mix-T5-l1-s0")!;
  assertEquals([mixScratch.config.augment, mixScratch.config.epochs], ["flip,mixup=0.2", 3]);
  assertEquals([mixKd.config.augment, mixKd.config.epochs, mixKd.config.lambda], [
    "flip,mixup=0.2",
    3,
    1,
  ]);
  const dkdScratch = runs.find((r) => r.id === "scratch-dkd-s1")!;
  assertEquals([dkdScratch.config.method, dkdScratch.config.dkdBeta], [undefined, undefined]);
  assertEquals(runs.find((r) => r.id === "kd-t-dkd-T5-l0.5-s1")!.config.method, "dkd");
  assertThrows(
    () => expandGrid({ ...profile, arms: [{ name: "a" }, { name: "a" }] }, teachers, {}),
    UserError,
    "unique",
  );
});

test("Δ and the confirm stage pair each arm with its own scratch; rows show the teacher gap", () => {
  const screen = expandGrid(profile, teachers, {});
  // Scratch of the mix arm is weak, of the others strong: Δ must differ by arm accordingly.
  const acc = (id: string) =>
    id.startsWith("scratch-mix") ? 0.5 : id.startsWith("scratch") ? 0.8 : 0.7;
  const final = (a: number, teacher: boolean): FinalSummary => ({
    best_epoch: 1,
    select_by: "accuracy",
    epochs_run: 1,
    stopped_early: false,
    validation: { accuracy: a, macro_f1: a, n: 12, agreement: null, kl_to_teacher: null },
    teacher_val_accuracy: teacher ? 0.9 : null,
    train_time_s: 1,
    img_per_s: 1,
    class_names: ["a", "b", "c"],
  } as unknown as FinalSummary);
  const finished = new Map(screen.map((r) => [r.id, final(acc(r.id), r.kind === "distill")]));
  const manifest = {
    experiment: "x",
    profile: "smoke",
    description: "",
    teachers,
    runs: screen,
    gridHash: "",
  };
  const rows = aggregate(manifest, finished).rows;
  const row = (recipe: string) => rows.find((r) => r.kind === "distill" && r.recipe === recipe)!;
  assert(Math.abs(row("mix").deltaAccuracy!.mean - 0.2) < 1e-9);
  assert(Math.abs(row("today").deltaAccuracy!.mean + 0.1) < 1e-9);
  assert(Math.abs(row("dkd").teacherGap! + 0.2) < 1e-9);

  const picks = selectForConfirm(screen, new Map(screen.map((r) => [r.id, acc(r.id)])));
  assertEquals(picks.map((p) => p.recipe), ["today", "mix", "dkd"]);
  const confirm = confirmRuns(profile, teachers, picks, [1000, 1001], {});
  assertEquals(confirm.filter((r) => r.kind === "scratch").map((r) => r.id).sort(), [
    "scratch-dkd-s1000",
    "scratch-dkd-s1001",
    "scratch-mix-s1000",
    "scratch-mix-s1001",
    "scratch-today-s1000",
    "scratch-today-s1001",
  ]);
});

Deno.test("the patient-distillation experiment: every arm of every profile is a valid run", () => {
  for (const [name, p] of Object.entries(patient.profiles)) {
    const ts = (p.teachers ?? patient.teachers.map((t) => t.name)).map((n) => ({
      name: n,
      spec: `dir:/${n}`,
    }));
    const runs = expandGrid(p, ts, {});
    for (const r of runs) validateConfig(r.config);
    const recipes = new Set(runs.map((r) => r.recipe));
    assertEquals(recipes.size, p.arms!.length, name);
    // Every arm has scratch runs with its own recipe.
    for (const recipe of recipes) {
      assert(runs.some((r) => r.kind === "scratch" && r.recipe === recipe), `${name} ${recipe}`);
    }
  }
  assertEquals(patient.profiles.full.arms!.find((a) => a.name === "hf-guide")!.preset, "hf-guide");
});

Deno.test("each confirm pick is also paired with the strongest scratch recipe of the sweep", () => {
  const pick = (recipe: string | undefined, scratch: number[], distilled: number[]) =>
    ({
      teacher: "t",
      recipe,
      scratch: { validation: { accuracy: { mean: (scratch[0] + scratch[1]) / 2 } } },
      perSeed: scratch.map((s, i) => ({
        seed: 1000 + i,
        scratch: { validation: s, test: null },
        distilled: { validation: distilled[i], test: null },
      })),
    }) as unknown as ConfirmResult;
  // "mix" beats its own weak scratch by 30 pp; against "crop"'s scratch it does not.
  const out = againstStrongestScratch([
    pick("mix", [0.5, 0.6], [0.9, 0.8]),
    pick("crop", [0.85, 0.9], [0.8, 0.95]),
  ]);
  assertEquals(out.map((c) => c.vsStrongestScratch!.recipe), ["crop", "crop"]);
  assert(Math.abs(out[0].vsStrongestScratch!.accuracy.mean - (0.05 - 0.1) / 2) < 1e-9);
  assert(Math.abs(out[1].vsStrongestScratch!.accuracy.mean) < 1e-9);
  // One recipe: its own scratch is the only one, nothing to add.
  const one = againstStrongestScratch([pick(undefined, [0.5, 0.6], [0.9, 0.8])]);
  assertEquals(one[0].vsStrongestScratch, undefined);
});
