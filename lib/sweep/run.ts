/**
 * Running a sweep: load the experiment, resolve (or build) its teachers, expand and pin the grid
 * in `sweep.json`, then train this shard's runs. Each run is its own resumable directory: a
 * finished run is skipped, an interrupted one resumes from its checkpoint. Shards write only
 * their own runs and their own log, so no coordination is needed.
 * @module
 */
import { isAbsolute, join, resolve } from "node:path";
import { UserError } from "../core/errors.ts";
import { train } from "../train.ts";
import { exists, readJson, writeJsonAtomic } from "../core/fs.ts";
import type { SweepDefinition, SweepProfile, TeacherSource } from "./define.ts";
import { expandGrid, gridHash, parseShard, shardRuns } from "./grid.ts";
import type { RunEntry, SweepManifest, TeacherEntry } from "./types.ts";
import { ensureTeacher } from "./teachers.ts";
import { resolveSplit } from "../data/resolve.ts";
import { parseSpec } from "../models/registry.ts";
import { fetchHFModel } from "../models/hub.ts";
import { backboneSpec } from "../teacher/backbone.ts";
import { formatDuration } from "../progress.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

/** Default folder holding sweep directories. */
export const SWEEPS_DIR = join(ROOT, "runs", "sweeps");

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

/** Options of {@linkcode runSweep}. */
export interface SweepOptions {
  experiment: string;
  profile: string;
  data?: string;
  /** Backbone of every built teacher (default env `KD_BACKBONE`, else each source's own). */
  backbone?: string;
  /** Only these of the profile's teachers (e.g. offline, without a hub-only teacher). */
  teachers?: string[];
  /** Sweep directory (default `runs/sweeps/<experiment>-<profile>`). */
  out?: string;
  shard?: string;
  quiet?: boolean;
  /** Test hook: stop (throw) after this many runs finished in this invocation. */
  stopAfterRuns?: number;
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
 * Resolve the teacher axis of a profile before any run: the data is checked first (its absence
 * is the likeliest problem), hub teachers are fetched into the Hugging Face cache, and built
 * teachers are built (in this process) unless the sweep directory already holds them.
 */
async function resolveTeachers(
  def: SweepDefinition,
  profile: SweepProfile,
  dir: string,
  opts: SweepOptions,
  log: (l: string) => void,
): Promise<TeacherEntry[]> {
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
  await resolveSplit({ data: opts.data, split: "validation", labels, quiet: true });
  // Hub teachers next (a download, or a one-line failure), before minutes of teacher building.
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
    const built = await ensureTeacher(src, join(dir, "teachers", src.name), {
      from: backboneSpec(opts.backbone, src.build!.from),
      data: opts.data,
      settings: profile.teacherSettings,
      quiet: opts.quiet,
      log,
    });
    out.push({ name: src.name, spec: `dir:${built.dir}`, valAccuracy: built.valAccuracy });
  }
  return out;
}

/** Run (this shard of) a sweep; returns the sweep directory and whether every run is finished. */
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
  const shard = parseShard(opts.shard);
  const dir = resolve(opts.out ?? join(SWEEPS_DIR, `${def.name}-${opts.profile}`));
  await Deno.mkdir(join(dir, "runs"), { recursive: true });

  const teachers = await resolveTeachers(def, profile, dir, opts, log);
  const runs = expandGrid(profile, teachers, { data: opts.data });
  const hashable = runs.map((r) => ({
    ...r,
    config: { ...r.config, teacher: r.teacher, data: undefined },
  }));
  const hash = gridHash(hashable);
  const manifestPath = join(dir, "sweep.json");
  if (await exists(manifestPath)) {
    let saved: SweepManifest;
    try {
      saved = await readJson<SweepManifest>(manifestPath);
    } catch (e) {
      throw new UserError(`${manifestPath}: ${(e as Error).message}`);
    }
    if (saved.gridHash !== hash) {
      const { added, removed, changed } = gridDifferences(saved.runs, runs);
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
      // Only new runs (more seeds, temperatures or teachers): finished runs stay valid.
      log(`extending the grid of ${dir} with ${added.length} run(s): ${listed(added)}`);
      await writeJsonAtomic(manifestPath, { ...saved, teachers, runs, gridHash: hash });
    }
  } else {
    const manifest: SweepManifest = {
      experiment: def.name,
      profile: opts.profile,
      description: def.description,
      teachers,
      runs,
      gridHash: hash,
    };
    await writeJsonAtomic(manifestPath, manifest);
  }

  const mine = shardRuns(runs, shard);
  const shardName = `shard-${shard.index + 1}-of-${shard.count}`;
  const eventsPath = join(dir, "log", `${shardName}.jsonl`);
  await Deno.mkdir(join(dir, "log"), { recursive: true });
  const event = async (run: string, what: string, extra: Record<string, unknown> = {}) => {
    const line = JSON.stringify({ time: new Date().toISOString(), run, event: what, ...extra });
    await Deno.writeTextFile(eventsPath, line + "\n", { append: true });
  };
  log(
    `sweep ${def.name} (${file.replace(ROOT, "")}): ${runs.length} runs, this shard ` +
      `${shard.index + 1}/${shard.count} owns ${mine.length} → ${dir}`,
  );
  const t0 = performance.now();
  let finishedNow = 0;
  for (const [i, run] of mine.entries()) {
    const out = join(dir, "runs", run.id);
    if (await exists(join(out, "final.json"))) {
      log(`[${i + 1}/${mine.length}] ${run.id}: finished earlier, skipped`);
      await event(run.id, "skip");
      continue;
    }
    const resuming = await exists(join(out, "checkpoint", "trainer.json"));
    log(`[${i + 1}/${mine.length}] ${run.id}: ${resuming ? "resuming" : "starting"}`);
    await event(run.id, resuming ? "resume" : "start");
    const summary = await train(run.config, { out, resume: true, quiet: opts.quiet });
    await event(run.id, "finish", { accuracy: summary.validation.accuracy });
    finishedNow++;
    const elapsed = (performance.now() - t0) / 1000;
    const left = mine.length - i - 1;
    log(
      `[${i + 1}/${mine.length}] ${run.id}: val acc ${
        (summary.validation.accuracy * 100).toFixed(1)
      }% ` +
        `(sweep elapsed ${formatDuration(elapsed)}, ~${
          formatDuration((elapsed / finishedNow) * left)
        } left)`,
    );
    if (opts.stopAfterRuns !== undefined && finishedNow >= opts.stopAfterRuns) {
      throw new Error(`stopping after ${finishedNow} runs (test hook)`);
    }
  }
  const allDone = await Promise.all(runs.map((r) => exists(join(dir, "runs", r.id, "final.json"))));
  return { dir, complete: allDone.every(Boolean) };
}
