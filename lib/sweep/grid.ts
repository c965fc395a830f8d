/**
 * Expanding a sweep profile into runs with stable ids, hashing the grid, and sharding it.
 * @module
 */
import { sha256Hex } from "../core/hash.ts";
import { UserError } from "../core/errors.ts";
import { presetRecipe } from "../presets.ts";
import type { TrainConfig } from "../train.ts";
import type { SweepArm, SweepProfile } from "./define.ts";
import type { ConfirmPick, ConfirmPlan, RunEntry, RunStage, TeacherEntry } from "./types.ts";

/**
 * Id of one run: `scratch-s0` or `kd-<teacher>-T5-l0.5-s0`; in a recipe arm
 * `scratch-<arm>-s0` and `kd-<teacher>-<arm>-T5-l0.5-s0`.
 */
export function runId(
  teacher: string | null,
  T: number | null,
  lambda: number | null,
  seed: number,
  recipe?: string,
): string {
  const arm = recipe ? `${recipe}-` : "";
  return teacher === null
    ? `scratch-${arm}s${seed}`
    : `kd-${teacher}-${arm}T${T}-l${lambda}-s${seed}`;
}

/** Settings of the distillation term only: a scratch run of the same arm leaves them out. */
const METHOD_KEYS = ["method", "dkdAlpha", "dkdBeta", "dkdWarmup", "distBeta", "distGamma"];

/** The recipe arms of a profile (one unnamed arm when it defines none), checked. */
export function profileArms(profile: SweepProfile): (SweepArm | undefined)[] {
  if (!profile.arms) return [undefined];
  if (!profile.arms.length) throw new UserError("the sweep profile has an empty arms list");
  const names = new Set<string>();
  for (const a of profile.arms) {
    if (!/^[A-Za-z0-9][A-Za-z0-9-]*$/.test(a.name) || names.has(a.name)) {
      throw new UserError(`sweep arm name "${a.name}" must be unique, letters, digits and -`);
    }
    names.add(a.name);
  }
  return profile.arms;
}

/** One run of `profile` (`teacher` null for scratch, then T and λ are the recipe's). */
function entry(
  stage: RunStage,
  profile: SweepProfile,
  arm: SweepArm | undefined,
  teacher: TeacherEntry | null,
  T: number | null,
  lambda: number | null,
  seed: number,
  base: { data?: string },
): RunEntry {
  const preset = arm?.preset ?? profile.preset;
  const recipe = { ...presetRecipe(preset), ...profile.overrides, ...arm?.overrides };
  const config: TrainConfig = {
    ...structuredClone(recipe),
    temperature: T ?? recipe.temperature,
    lambda: lambda ?? recipe.lambda,
    student: profile.student,
    teacher: teacher?.spec ?? null,
    data: base.data,
    trainSplit: "train",
    valSplit: "validation",
    seed,
    preset,
  };
  if (!teacher) {
    for (const k of METHOD_KEYS) delete (config as unknown as Record<string, unknown>)[k];
  }
  return {
    id: runId(teacher?.name ?? null, T, lambda, seed, arm?.name),
    stage,
    ...(arm ? { recipe: arm.name } : {}),
    kind: teacher ? "distill" : "scratch",
    teacher: teacher?.name ?? null,
    temperature: teacher ? T : null,
    lambda: teacher ? lambda : null,
    seed,
    config,
  };
}

/** The screen stage of a profile: a scratch baseline per seed, then teacher × T × λ × seed. */
export function expandGrid(
  profile: SweepProfile,
  teachers: TeacherEntry[],
  base: { data?: string },
): RunEntry[] {
  if (!profile.seeds.length) throw new UserError("the sweep grid is empty: no seeds");
  const clash = profile.seeds.filter((s) => s >= CONFIRM_SEED_BASE);
  if (clash.length && (profile.confirmSeeds ?? 0) > 0) {
    throw new UserError(
      `screen seeds ${clash.join(", ")} are ≥ ${CONFIRM_SEED_BASE}, where confirm seeds start`,
    );
  }
  // A bad first confirm seed fails now, not after the screen.
  if (profile.confirmSeedStart !== undefined) confirmSeedList(0, profile.confirmSeedStart);
  const runs: RunEntry[] = [];
  for (const arm of profileArms(profile)) {
    for (const seed of profile.seeds) {
      runs.push(entry("screen", profile, arm, null, null, null, seed, base));
    }
    for (const t of teachers) {
      for (const T of arm?.temperatures ?? profile.temperatures) {
        for (const lambda of arm?.lambdas ?? profile.lambdas) {
          for (const seed of profile.seeds) {
            runs.push(entry("screen", profile, arm, t, T, lambda, seed, base));
          }
        }
      }
    }
  }
  if (!runs.some((r) => r.kind === "distill")) {
    throw new UserError(
      "the sweep grid has no distillation runs (no teachers, temperatures or λ values)",
    );
  }
  const ids = new Set<string>();
  for (const r of runs) {
    if (ids.has(r.id)) throw new UserError(`the sweep grid has a duplicate run "${r.id}"`);
    ids.add(r.id);
  }
  return runs;
}

/** Confirm seeds start here, so they never coincide with a screen seed. */
export const CONFIRM_SEED_BASE = 1000;

/**
 * The `n` confirm seeds: `start`, `start + 1`, ... (a larger n extends a smaller one). `start`
 * (a profile's `confirmSeedStart`, default 1000) may not be below 1000, where screen seeds end.
 */
export function confirmSeedList(n: number, start: number = CONFIRM_SEED_BASE): number[] {
  if (!Number.isInteger(start) || start < CONFIRM_SEED_BASE) {
    throw new UserError(
      `confirmSeedStart ${start} must be an integer ≥ ${CONFIRM_SEED_BASE}, where confirm seeds start`,
    );
  }
  return Array.from({ length: n }, (_, i) => start + i);
}

/**
 * Per teacher (and recipe arm), the screen configuration with the best mean validation accuracy
 * over its seeds (ties: lower T, then lower λ). Needs every screen run finished; reads
 * validation only.
 */
export function selectForConfirm(
  screen: RunEntry[],
  valAccuracy: Map<string, number>,
): ConfirmPick[] {
  const missing = screen.filter((r) => !valAccuracy.has(r.id)).map((r) => r.id);
  if (missing.length) throw new Error(`screen runs not finished: ${missing.join(", ")}`);
  const groups = new Map<string, RunEntry[]>();
  for (const r of screen.filter((r) => r.kind === "distill")) {
    const key = JSON.stringify([r.teacher, r.recipe, r.temperature, r.lambda]);
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  const best = new Map<string, ConfirmPick>();
  const slot = (r: { teacher: string | null; recipe?: string }) =>
    JSON.stringify([r.teacher, r.recipe]);
  for (const runs of groups.values()) {
    const { teacher, temperature, lambda, recipe } = runs[0];
    const mean = runs.reduce((a, r) => a + valAccuracy.get(r.id)!, 0) / runs.length;
    const pick: ConfirmPick = {
      teacher: teacher!,
      ...(recipe ? { recipe } : {}),
      temperature: temperature!,
      lambda: lambda!,
      screenAccuracy: mean,
      screenSeeds: runs.map((r) => r.seed),
    };
    const cur = best.get(slot(pick));
    const better = !cur || mean > cur.screenAccuracy ||
      (mean === cur.screenAccuracy &&
        (pick.temperature < cur.temperature ||
          (pick.temperature === cur.temperature && pick.lambda < cur.lambda)));
    if (better) best.set(slot(pick), pick);
  }
  // Teachers (and arms) in screen order.
  const order = [...new Set(screen.filter((r) => r.teacher).map(slot))];
  return order.map((t) => best.get(t)!).filter(Boolean);
}

/**
 * Check a recorded confirm plan against the screen results it claims to come from: every pick
 * must be a configuration of the screen grid and exactly what {@linkcode selectForConfirm} gives
 * on the finished screen runs. A hand-edited or stale `sweep.json` would otherwise train and
 * report a configuration as "picked on the screen stage" that never was. `path` names the file
 * in the error; `valAccuracy` holds the finished runs' validation accuracy by id.
 */
export function checkConfirmPlan(
  path: string,
  plan: ConfirmPlan,
  screen: RunEntry[],
  valAccuracy: Map<string, number>,
): void {
  const bad = (field: string, why: string): never => {
    throw new UserError(
      `${path}: confirm.${field} ${why}; the confirm stage must be what the screen results ` +
        "give (restore the file, or use a new --out folder)",
    );
  };
  if (!plan || !Array.isArray(plan.picks) || !Array.isArray(plan.fromRuns)) {
    bad("picks", "is missing or not a list");
  }
  const ids = screen.map((r) => r.id);
  const from = [...plan.fromRuns].sort(), want = [...ids].sort();
  if (JSON.stringify(from) !== JSON.stringify(want)) {
    bad("fromRuns", `lists other runs than the screen stage's ${ids.length}`);
  }
  const unfinished = ids.filter((id) => !valAccuracy.has(id));
  if (unfinished.length) {
    bad("picks", `were made before screen run(s) ${unfinished.join(", ")} finished`);
  }
  const expected = selectForConfirm(screen, valAccuracy);
  const distill = screen.filter((r) => r.kind === "distill");
  // A pick is one teacher's (and, with recipe arms, one arm's) best screen configuration.
  const slot = (x: { teacher: string | null; recipe?: string }) =>
    JSON.stringify([x.teacher, x.recipe ?? null]);
  const label = (x: { teacher: string | null; recipe?: string }) =>
    x.recipe ? `${x.teacher} (${x.recipe})` : `${x.teacher}`;
  plan.picks.forEach((p, i) => {
    const at = `picks[${i}]`;
    const grid = distill.filter((r) => slot(r) === slot(p ?? { teacher: null }));
    if (!grid.length) {
      bad(`${at}.teacher`, `"${p ? label(p) : p}" is not a teacher of the screen grid`);
    }
    for (const key of ["temperature", "lambda"] as const) {
      const values = [...new Set(grid.map((r) => r[key]))];
      if (!values.includes(p[key])) {
        bad(`${at}.${key}`, `${p[key]} is not in the screen grid of ${label(p)} (${values})`);
      }
    }
    const e = expected.find((x) => slot(x) === slot(p));
    for (const key of ["temperature", "lambda", "screenAccuracy", "screenSeeds"] as const) {
      if (JSON.stringify(p[key]) !== JSON.stringify(e?.[key])) {
        bad(
          `${at}.${key}`,
          `is ${JSON.stringify(p[key])} but the screen results give ${JSON.stringify(e?.[key])}` +
            ` for ${label(p)}`,
        );
      }
    }
  });
  const picked = plan.picks.map(slot);
  const missing = expected.filter((e) => !picked.includes(slot(e)));
  if (missing.length || new Set(picked).size !== picked.length) {
    bad("picks", `must name each teacher once (${expected.map(label).join(", ")})`);
  }
}

/**
 * The confirm stage: scratch of each picked recipe arm and each picked configuration, on the
 * same fresh seeds, in seed order (every run of one seed before the next seed's).
 */
export function confirmRuns(
  profile: SweepProfile,
  teachers: TeacherEntry[],
  picks: ConfirmPick[],
  seeds: number[],
  base: { data?: string },
): RunEntry[] {
  const arms = profileArms(profile);
  const armOf = (name?: string) => {
    const a = arms.find((a) => a?.name === name);
    if (name && !a) throw new UserError(`confirm pick names recipe arm "${name}" the sweep lacks`);
    return a;
  };
  const recipes = [...new Set(picks.map((p) => p.recipe))];
  if (!recipes.length) recipes.push(arms[0]?.name);
  const pickTeachers = picks.map((p) => {
    const t = teachers.find((t) => t.name === p.teacher);
    if (!t) throw new UserError(`confirm pick names teacher "${p.teacher}" the sweep lacks`);
    return t;
  });
  // Seed by seed, every pair of a seed before the next seed's: a confirm stage stopped early (a
  // session's end, a lost machine) leaves complete pairs on its first seeds, not all of one arm.
  return seeds.flatMap((seed) => [
    ...recipes.map((r) => entry("confirm", profile, armOf(r), null, null, null, seed, base)),
    ...picks.map((p, i) =>
      entry(
        "confirm",
        profile,
        armOf(p.recipe),
        pickTeachers[i],
        p.temperature,
        p.lambda,
        seed,
        base,
      )
    ),
  ]);
}

/** sha256 of the runs' ids and configs: two sweeps share a directory only if this matches. */
export function gridHash(runs: RunEntry[]): string {
  const canonical = JSON.stringify(runs.map((r) => [r.id, r.config]));
  return sha256Hex(canonical);
}

/** Parse `i/n` (1-based i) or Slurm's array variables into a 0-based shard. */
export function parseShard(
  flag: string | undefined,
  env: { get(k: string): string | undefined } = Deno.env,
): { index: number; count: number } {
  let index: number, count: number;
  if (flag) {
    const m = /^(\d+)\/(\d+)$/.exec(flag);
    if (!m) throw new UserError(`--shard must look like i/n (e.g. 1/4), got "${flag}"`);
    index = Number(m[1]) - 1;
    count = Number(m[2]);
  } else if (env.get("SLURM_ARRAY_TASK_ID") !== undefined && env.get("SLURM_ARRAY_TASK_COUNT")) {
    const min = Number(env.get("SLURM_ARRAY_TASK_MIN") ?? 0);
    index = Number(env.get("SLURM_ARRAY_TASK_ID")) - min;
    count = Number(env.get("SLURM_ARRAY_TASK_COUNT"));
  } else return { index: 0, count: 1 };
  if (
    !(Number.isInteger(count) && count >= 1 && Number.isInteger(index) && index >= 0 &&
      index < count)
  ) {
    throw new UserError(`shard ${index + 1}/${count} is out of range (shards are 1..${count})`);
  }
  return { index, count };
}

/** The runs shard `index` of `count` owns: every count-th run, so shards get similar mixes. */
export function shardRuns(runs: RunEntry[], shard: { index: number; count: number }): RunEntry[] {
  return runs.filter((_, i) => i % shard.count === shard.index);
}
