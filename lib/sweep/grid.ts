/**
 * Expanding a sweep profile into runs with stable ids, hashing the grid, and sharding it.
 * @module
 */
import { sha256Hex } from "../core/hash.ts";
import { UserError } from "../core/errors.ts";
import { presetRecipe } from "../presets.ts";
import type { TrainConfig } from "../train.ts";
import type { SweepProfile } from "./define.ts";
import type { RunEntry, TeacherEntry } from "./types.ts";

/** Id of one run: `scratch-s0` or `kd-<teacher>-T5-l0.5-s0`. */
export function runId(
  teacher: string | null,
  T: number | null,
  lambda: number | null,
  seed: number,
): string {
  return teacher === null ? `scratch-s${seed}` : `kd-${teacher}-T${T}-l${lambda}-s${seed}`;
}

/** Every run of the profile: a scratch baseline per seed, then teacher × T × λ × seed. */
export function expandGrid(
  profile: SweepProfile,
  teachers: TeacherEntry[],
  base: { data?: string },
): RunEntry[] {
  if (!profile.seeds.length) throw new UserError("the sweep grid is empty: no seeds");
  const recipe = { ...presetRecipe(profile.preset), ...profile.overrides };
  const config = (
    teacher: TeacherEntry | null,
    T: number,
    lambda: number,
    seed: number,
  ): TrainConfig => ({
    ...structuredClone(recipe),
    temperature: T,
    lambda,
    student: profile.student,
    teacher: teacher?.spec ?? null,
    data: base.data,
    trainSplit: "train",
    valSplit: "validation",
    seed,
    preset: profile.preset,
  });
  const runs: RunEntry[] = profile.seeds.map((seed) => ({
    id: runId(null, null, null, seed),
    kind: "scratch",
    teacher: null,
    temperature: null,
    lambda: null,
    seed,
    config: config(null, recipe.temperature, recipe.lambda, seed),
  }));
  for (const t of teachers) {
    for (const T of profile.temperatures) {
      for (const lambda of profile.lambdas) {
        for (const seed of profile.seeds) {
          runs.push({
            id: runId(t.name, T, lambda, seed),
            kind: "distill",
            teacher: t.name,
            temperature: T,
            lambda,
            seed,
            config: config(t, T, lambda, seed),
          });
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
