/**
 * Running a sweep, top to bottom: load the experiment, resolve (or build) its teachers, pin the
 * screen grid and the data's checksums in `sweep.json`, train the SCREEN stage, record the
 * per-teacher picks, train the CONFIRM stage on fresh seeds, then evaluate the confirm runs on
 * the test split once. Each run is its own resumable directory (a finished run is skipped, an
 * interrupted one resumes from its checkpoint) taken under a lock file, so shards and concurrent
 * sweeps on one directory share the work instead of repeating it. A scratch run whose training
 * config equals a finished one's (recipe arms that change only the distillation term) is copied,
 * not trained again (`reuse.ts`).
 * @module
 */
import { isAbsolute, join, resolve } from "node:path";
import { UserError } from "../core/errors.ts";
import { exists, readJson, writeJsonAtomic } from "../core/fs.ts";
import { checkName } from "../core/paths.ts";
import { projectPath, projectRoot } from "../core/project.ts";
import type { SweepDefinition, SweepProfile, TeacherSource } from "./define.ts";
import {
  checkConfirmPlan,
  CONFIRM_SEED_BASE,
  confirmRuns,
  confirmSeedList,
  expandGrid,
  gridHash,
  parseShard,
  selectForConfirm,
} from "./grid.ts";
import type { RunEntry, SweepManifest, TeacherEntry } from "./types.ts";
import { ensureTeacher } from "./teachers.ts";
import { hasSplit, resolveSplit, splitFiles } from "../data/resolve.ts";
import { checksumFiles } from "../data/source.ts";
import { tryLock } from "../core/lock.ts";
import {
  lockPath,
  pollMs,
  runFinished,
  shardFirst,
  sleep,
  type StageContext,
  trainStage,
} from "./stage.ts";
import { checkJobs, trainStageInJobs } from "./jobs.ts";
import { evaluateModel, recordEvaluation } from "../evaluate.ts";
import { checkFinalSummary } from "../core/run_files.ts";
import { parseSpec } from "../models/registry.ts";
import { fetchHFModel } from "../models/hub.ts";
import { backboneSpec } from "../teacher/backbone.ts";
import { checkManifestRuns } from "./results.ts";

const ROOT = `${projectRoot()}/`;

/** Default folder holding sweep directories. */
export const SWEEPS_DIR = projectPath("runs/sweeps");

/** Find and import an experiment: a path, or a name matched against `experiments/*.ts`. */
export async function loadExperiment(
  nameOrPath: string,
): Promise<{ file: string; def: SweepDefinition }> {
  let file = nameOrPath;
  if (!(await exists(file))) {
    const dir = join(ROOT, "experiments");
    const candidates = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) =>
      n.endsWith(".ts")
    )
      .sort();
    const match = candidates.filter((n) =>
      n === nameOrPath || n === `${nameOrPath}.ts` || n.includes(nameOrPath)
    );
    if (match.length !== 1) {
      throw new UserError(
        match.length
          ? `experiment "${nameOrPath}" is ambiguous: ${match.join(", ")}`
          : `experiment "${nameOrPath}" does not exist; available: ${candidates.join(", ")}`,
      );
    }
    file = join(dir, match[0]);
  }
  const abs = isAbsolute(file) ? file : resolve(file);
  const mod = await import(`file://${abs}`);
  const def = mod.sweep as SweepDefinition | undefined;
  if (!def || typeof def !== "object" || !def.profiles || !Array.isArray(def.teachers)) {
    throw new UserError(
      `${file} does not export a sweep (export const sweep = defineSweep({...}))`,
    );
  }
  return { file: abs, def };
}

/** The default experiment: the newest dated `experiments/*-sweep.ts`. */
export function defaultExperiment(): string {
  const names = [...Deno.readDirSync(join(ROOT, "experiments"))].map((e) => e.name)
    .filter((n) => /^\d{4}-\d{2}-\d{2}-.*sweep\.ts$/.test(n)).sort();
  if (!names.length) throw new UserError("no experiments/*-sweep.ts found");
  return join(ROOT, "experiments", names[names.length - 1]);
}

/**
 * Options of {@linkcode runSweep}.
 *
 * @example One shard of a two-teacher experiment, one teacher only, progress lines collected
 * ```ts
 * import { runSweep, type SweepOptions } from "@kd/vision/sweep";
 *
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/two.ts`, `
 * import { defineSweep } from "@kd/vision/sweep";
 * export const sweep = defineSweep({
 *   name: "two",
 *   description: "two teachers; this example runs one",
 *   teachers: [
 *     { name: "vit-tiny", spec: "hf-dir:tests/fixtures/vit_tiny" },
 *     { name: "hub", spec: "hf:google/vit-base-patch16-224" },
 *   ],
 *   profiles: { smoke: { preset: "smoke", overrides: { epochs: 1, maxImages: 12 },
 *     student: "mobilenet_v2@0.35", temperatures: [5], lambdas: [0.5], seeds: [0] } },
 * });`);
 * const lines: string[] = [];
 * const opts: SweepOptions = {
 *   experiment: `${dir}/two.ts`,
 *   profile: "smoke",
 *   data: "tests/fixtures/beans",
 *   teachers: ["vit-tiny"], // offline: the hub teacher is left out
 *   out: `${dir}/sweep`,
 *   shard: "1/1",
 *   quiet: true,
 *   log: (line) => lines.push(line),
 * };
 * const { complete } = await runSweep(opts);
 * console.log(complete, lines.length);
 * ```
 */
export interface SweepOptions {
  /** The experiment: a path to its module, or a name matched against `experiments/*.ts`. */
  experiment: string;
  /** Which of the experiment's profiles to run. */
  profile: string;
  /** Dataset folder (default env `KD_DATA`, else beans from the Hugging Face cache). */
  data?: string;
  /** Backbone of every built teacher (default env `KD_BACKBONE`, else each source's own). */
  backbone?: string;
  /** Only these of the profile's teachers (e.g. offline, without a hub-only teacher). */
  teachers?: string[];
  /** Sweep directory (default `runs/sweeps/<experiment>-<profile>`). */
  out?: string;
  /**
   * `i/n`: this process trains the i-th of n shares of the runs first (default from Slurm's
   * `SLURM_ARRAY_TASK_*`, else `1/1`); any share no live process holds is taken next.
   */
  shard?: string;
  /**
   * Train each stage in this many processes at once, each with its share of the cores (default
   * 1: this process, all cores); see `jobs.ts`. Thread counts change the order oneDNN sums in, so
   * runs agree with a one-job sweep's to rounding, not bit for bit.
   */
  jobs?: number;
  /** Print no training progress (the sweep's own lines still go to `log`). */
  quiet?: boolean;
  /** Test hook: stop (throw) after this many runs finished in this invocation. */
  stopAfterRuns?: number;
  /** Where the sweep's progress lines go (default stderr). */
  log?: (line: string) => void;
}

/** How a grid differs from the saved one: run ids added or removed, settings changed. */
export function gridDifferences(
  saved: RunEntry[],
  current: RunEntry[],
): { added: string[]; removed: string[]; changed: string[] } {
  const a = new Map(saved.map((r) => [r.id, r])), b = new Map(current.map((r) => [r.id, r]));
  const added = [...b.keys()].filter((k) => !a.has(k));
  const removed = [...a.keys()].filter((k) => !b.has(k));
  const changed = new Set<string>();
  for (const [id, r] of a) {
    const c = b.get(id);
    if (!c) continue;
    for (const k of new Set([...Object.keys(r.config), ...Object.keys(c.config)])) {
      const x = (r.config as unknown as Record<string, unknown>)[k];
      const y = (c.config as unknown as Record<string, unknown>)[k];
      if (k !== "teacher" && k !== "data" && JSON.stringify(x) !== JSON.stringify(y)) {
        changed.add(`${k}: ${JSON.stringify(x)} → ${JSON.stringify(y)}`);
      }
    }
  }
  return { added, removed, changed: [...changed] };
}

const listed = (ids: string[]) => `${ids.slice(0, 5).join(", ")}${ids.length > 5 ? ", ..." : ""}`;

/**
 * The profile's teacher sources (those `--teachers` keeps), checked, and the data's train and
 * validation splits found: what can be wrong with the input fails here, before the sweep
 * directory is made.
 */
async function checkInputs(
  def: SweepDefinition,
  profile: SweepProfile,
  opts: SweepOptions,
): Promise<TeacherSource[]> {
  const all = profile.teachers ?? def.teachers.map((t) => t.name);
  const unknown = (opts.teachers ?? []).filter((t) => !all.includes(t));
  if (unknown.length) {
    throw new UserError(
      `--teachers ${unknown.join(",")}: not in profile ${opts.profile} (its teachers: ${
        all.join(", ")
      })`,
    );
  }
  const wanted = opts.teachers ? all.filter((t) => opts.teachers!.includes(t)) : all;
  const sources = wanted.map((name) => {
    const src: TeacherSource | undefined = def.teachers.find((t) => t.name === name);
    if (!src) {
      throw new UserError(`profile names teacher "${name}" that the experiment does not define`);
    }
    if (!src.spec && !src.build) {
      throw new UserError(`teacher "${src.name}" has neither spec nor build`);
    }
    if (src.spec) parseSpec(src.spec);
    return src;
  });
  const labels = (await resolveSplit({ data: opts.data, split: "train", quiet: true })).classNames;
  await resolveSplit({ data: opts.data, split: "validation", classNames: labels, quiet: true });
  return sources;
}

/**
 * Resolve the teacher axis of a profile before any run: hub teachers are fetched into the
 * Hugging Face cache, and built teachers are built (in this process) unless the sweep directory
 * already holds them.
 */
async function resolveTeachers(
  sources: TeacherSource[],
  profile: SweepProfile,
  dir: string,
  opts: SweepOptions,
  log: (l: string) => void,
): Promise<TeacherEntry[]> {
  // Hub teachers first (a download, or a one-line failure), before minutes of teacher building.
  for (const src of sources) {
    const p = src.spec ? parseSpec(src.spec) : undefined;
    if (p?.kind === "hf") await fetchHFModel(p.target, { quiet: opts.quiet });
  }
  const out: TeacherEntry[] = [];
  for (const src of sources) {
    if (src.spec) {
      out.push({ name: src.name, spec: src.spec });
      continue;
    }
    // One process builds; the others wait for it (or take over if it died) and then reuse it.
    const lock = lockPath(dir, `teacher-${src.name}`);
    const built = await withLock(
      lock,
      () =>
        ensureTeacher(src, join(dir, "teachers", src.name), {
          from: backboneSpec(opts.backbone, src.build!.from),
          data: opts.data,
          settings: profile.teacherSettings,
          quiet: opts.quiet,
          log,
        }),
      once(() => log(`teacher ${src.name}: another process is building it; waiting`)),
    );
    out.push({ name: src.name, spec: `dir:${built.dir}`, valAccuracy: built.valAccuracy });
  }
  return out;
}

/**
 * sha256 of each split's files (test included when the data has one): the data's identity.
 * Parquet files are hashed as bytes, not parsed: the test split is not read before its stage.
 */
export async function dataChecksums(data?: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const split of ["train", "validation", "test"]) {
    if (split === "test" && !hasSplit(data, split)) continue;
    const files = await splitFiles(data, split, { quiet: true }) ??
      (await resolveSplit({ data, split, quiet: true })).files;
    out[split] = await checksumFiles(files);
  }
  return out;
}

function once(fn: () => void): () => void {
  let done = false;
  return () => {
    if (!done) fn();
    done = true;
  };
}

/** Run `fn` holding the lock at `path`, waiting (polling) while a live process holds it. */
async function withLock<T>(path: string, fn: () => Promise<T>, wait = () => {}): Promise<T> {
  let lock = await tryLock(path);
  while (!lock) {
    wait();
    await sleep(pollMs());
    lock = await tryLock(path);
  }
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}

/**
 * Run (this shard of) a sweep; returns the sweep directory and whether every run is finished.
 *
 * @example Run an experiment file on the fixture (what `deno task sweep` does)
 * ```ts
 * import { runSweep } from "@kd/vision/sweep";
 * import { writeSweepReport } from "@kd/vision/report";
 * import { assertEquals } from "@std/assert";
 *
 * const dir = await Deno.makeTempDir();
 * const experiment = `${dir}/tiny.ts`;
 * await Deno.writeTextFile(experiment, `
 * import { defineSweep } from "@kd/vision/sweep";
 * export const sweep = defineSweep({
 *   name: "tiny",
 *   description: "scratch vs the tiny ViT",
 *   teachers: [{ name: "vit-tiny", spec: "hf-dir:tests/fixtures/vit_tiny" }],
 *   profiles: { smoke: { preset: "smoke", overrides: { epochs: 1 }, student: "mobilenet_v2@0.35",
 *     temperatures: [5], lambdas: [0.5], seeds: [0] } },
 * });`);
 * const { complete } = await runSweep({
 *   experiment,
 *   profile: "smoke",
 *   data: "tests/fixtures/beans",
 *   out: `${dir}/sweep`,
 *   quiet: true,
 * });
 * assertEquals(complete, true);
 * await writeSweepReport(`${dir}/sweep`, { quiet: true });
 * ```
 */
export async function runSweep(opts: SweepOptions): Promise<{ dir: string; complete: boolean }> {
  const log = opts.log ?? ((l: string) => console.error(l));
  const { file, def } = await loadExperiment(opts.experiment);
  const profile = def.profiles[opts.profile];
  if (!profile) {
    throw new UserError(
      `experiment ${def.name} has no profile "${opts.profile}"; available: ${
        Object.keys(def.profiles).join(", ")
      }`,
    );
  }
  checkName("experiment name", def.name);
  checkName("profile", opts.profile);
  // Teacher names become folder names under the sweep directory: never a path.
  for (const t of def.teachers) checkName("teacher name", t.name);
  const shard = parseShard(opts.shard);
  const jobs = checkJobs(opts.jobs ?? 1);
  const dir = resolve(opts.out ?? join(SWEEPS_DIR, `${def.name}-${opts.profile}`));
  // Before anything is built: a user should know at once whether this takes minutes or hours.
  if (profile.budget) log(`${def.name} (profile ${opts.profile}): ${profile.budget}`);
  const sources = await checkInputs(def, profile, opts);
  for (const sub of ["runs", "locks", "teachers"]) {
    await Deno.mkdir(join(dir, sub), { recursive: true });
  }
  const timer = stageTimer(dir);

  const teachers = await timer.time(
    "teachers",
    () => resolveTeachers(sources, profile, dir, opts, log),
  );
  const data = await dataChecksums(opts.data);
  const screen = expandGrid(profile, teachers, { data: opts.data });
  const confirmN = profile.confirmSeeds ?? 0;
  const hashable = screen.map((r) => ({
    ...r,
    config: { ...r.config, teacher: r.teacher, data: undefined },
  }));
  const hash = gridHash(hashable);
  const manifestPath = join(dir, "sweep.json");
  await withLock(lockPath(dir, "sweep.json"), async () => {
    if (!(await exists(manifestPath))) {
      const fresh: SweepManifest = {
        experiment: def.name,
        profile: opts.profile,
        description: def.description,
        teachers,
        runs: screen,
        gridHash: hash,
        data,
        confirm: confirmN > 0 ? null : undefined,
      };
      await writeJsonAtomic(manifestPath, fresh);
      return fresh;
    }
    let saved: SweepManifest;
    try {
      saved = checkManifestRuns(manifestPath, await readJson<SweepManifest>(manifestPath));
    } catch (e) {
      if (e instanceof UserError) throw e;
      throw new UserError(`${manifestPath}: ${(e as Error).message}`);
    }
    checkSameData(dir, saved.data, data);
    const savedScreen = saved.runs.filter((r) => (r.stage ?? "screen") === "screen");
    if (saved.gridHash !== hash) {
      const { added, removed, changed } = gridDifferences(savedScreen, screen);
      if (changed.length || removed.length) {
        const diff = [
          ...(removed.length ? [`runs removed: ${listed(removed)}`] : []),
          ...(added.length ? [`runs added: ${listed(added)}`] : []),
          ...changed,
        ];
        throw new UserError(
          `${dir} was created by a different grid; refusing to mix results. Differences: ` +
            `${diff.join("; ")}. Use another --out folder.`,
        );
      }
      if (saved.confirm) {
        throw new UserError(
          `${dir}: its confirm stage was already picked from ${saved.confirm.fromRuns.length} ` +
            `screen runs; adding screen runs (${listed(added)}) would change the pick. ` +
            `Use another --out folder.`,
        );
      }
      // Only new runs (more seeds, temperatures or teachers): finished runs stay valid.
      log(`extending the grid of ${dir} with ${added.length} run(s): ${listed(added)}`);
    }
    const confirmRunsSaved = saved.runs.filter((r) => r.stage === "confirm");
    const next: SweepManifest = {
      ...saved,
      teachers,
      runs: [...screen, ...confirmRunsSaved],
      gridHash: hash,
      data,
      confirm: saved.confirm ?? (confirmN > 0 ? null : undefined),
    };
    await writeJsonAtomic(manifestPath, next);
    return next;
  });

  const ctx: StageContext = {
    dir,
    shard,
    screen,
    log,
    quiet: opts.quiet,
    stopAfterRuns: opts.stopAfterRuns,
    finishedHere: 0,
  };
  const runStage = async (stage: string, runs: RunEntry[]) => {
    if (jobs > 1) {
      const order = shardFirst(runs, shard);
      await trainStageInJobs({ dir, stage, runs: order, jobs, log, quiet: opts.quiet });
      // Done, unless another process (a concurrent sweep) still trains some of them.
      if ((await Promise.all(runs.map((r) => runFinished(dir, r)))).every(Boolean)) return;
    }
    await trainStage(ctx, stage, runs);
  };

  log(
    `sweep ${def.name} (${file.replace(ROOT, "")}): screen ${screen.length} runs` +
      (confirmN > 0 ? `, then confirm ${confirmN} fresh seeds per arm` : "") +
      `; shard ${shard.index + 1}/${shard.count} → ${dir}`,
  );
  await timer.time("screen", () => runStage("screen", screen));
  if (confirmN === 0) return { dir, complete: true };

  // Every process derives the same picks from the finished screen runs; the first records them.
  const plan = await withLock(lockPath(dir, "sweep.json"), async () => {
    const saved = checkManifestRuns(manifestPath, await readJson<SweepManifest>(manifestPath));
    let plan = saved.confirm ?? null;
    const acc = new Map<string, number>();
    for (const r of screen) {
      const path = join(dir, "runs", r.id, "final.json");
      acc.set(r.id, checkFinalSummary(await readJson<unknown>(path), path).validation.accuracy);
    }
    if (plan) checkConfirmPlan(manifestPath, plan, screen, acc);
    else {
      plan = {
        picks: selectForConfirm(screen, acc),
        seeds: [],
        fromRuns: screen.map((r) => r.id),
        selectedAt: new Date().toISOString(),
      };
    }
    const start = profile.confirmSeedStart ?? CONFIRM_SEED_BASE;
    if (plan.seeds.length && plan.seeds[0] !== start) {
      throw new UserError(
        `${manifestPath}: its confirm seeds start at ${plan.seeds[0]}, the profile's at ` +
          `${start}; use another --out folder`,
      );
    }
    const n = Math.max(confirmN, plan.seeds.length);
    if (n > plan.seeds.length) plan = { ...plan, seeds: confirmSeedList(n, start) };
    const runs = confirmRuns(profile, teachers, plan.picks, plan.seeds, { data: opts.data });
    await writeJsonAtomic(manifestPath, { ...saved, runs: [...screen, ...runs], confirm: plan });
    return { ...plan, runs };
  });
  log(
    `confirm: ${
      plan.picks.map((p) =>
        `${p.teacher} T=${p.temperature} λ=${p.lambda} (screen ${
          (p.screenAccuracy * 100).toFixed(1)
        }%)`
      ).join(", ")
    } and scratch, seeds ${plan.seeds[0]}..${plan.seeds[plan.seeds.length - 1]}`,
  );
  await timer.time("confirm", () => runStage("confirm", plan.runs));

  // The test split, once, at the end: only confirm runs' best checkpoints (chosen on validation).
  if (hasSplit(opts.data, "test")) {
    await timer.time("test", async () => {
      for (const run of plan.runs) {
        const out = join(dir, "runs", run.id);
        if (await exists(join(out, "test_eval.json"))) continue;
        await withLock(lockPath(dir, run.id), async () => {
          if (await exists(join(out, "test_eval.json"))) return;
          const e = await evaluateModel({
            model: out,
            data: opts.data,
            split: "test",
            quiet: true,
          });
          await recordEvaluation(out, e, opts.data);
          log(`test: ${run.id} ${(e.metrics.accuracy * 100).toFixed(1)}%`);
        });
      }
    });
  }
  return { dir, complete: true };
}

/** Refuse a sweep directory made from other data (a changed split checksum). */
function checkSameData(
  dir: string,
  saved: Record<string, string> | undefined,
  now: Record<string, string>,
): void {
  if (!saved) return;
  const changed = [...new Set([...Object.keys(saved), ...Object.keys(now)])]
    .filter((k) => saved[k] !== now[k])
    .map((k) =>
      `${k}: ${saved[k]?.slice(0, 12) ?? "absent"} → ${now[k]?.slice(0, 12) ?? "absent"}`
    );
  if (changed.length) {
    throw new UserError(
      `${dir} was made from other data (sha256 ${changed.join(", ")}); refusing to mix ` +
        `results. Use another --out folder or the same --data as before.`,
    );
  }
}

/** Wall-clock per stage, added up over invocations in `SWEEP/timing.json` (for BENCHMARKS.md). */
function stageTimer(dir: string) {
  const path = join(dir, "timing.json");
  return {
    async time<T>(stage: string, fn: () => Promise<T>): Promise<T> {
      const t0 = performance.now();
      try {
        return await fn();
      } finally {
        const s = (performance.now() - t0) / 1000;
        const saved = (await exists(path))
          ? await readJson<Record<string, number>>(path).catch(() => ({}))
          : {};
        const next = { ...saved, [stage]: ((saved as Record<string, number>)[stage] ?? 0) + s };
        await writeJsonAtomic(path, next);
      }
    },
  };
}
