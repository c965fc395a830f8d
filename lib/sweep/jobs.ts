/**
 * A sweep's jobs (`--jobs N`): a stage's runs trained by N processes at once, each with its share
 * of the cores (`OMP_NUM_THREADS`, what the `native` backend's oneDNN uses), instead of one process
 * with all of them. A small student's step keeps several cores busy poorly (its layers are small,
 * and oneDNN's threads meet between every two of them), so whole runs side by side use the cores
 * better (BENCHMARKS.md, "Jobs"). A job is this module run as a program: it trains the stage
 * through `trainStage`, under the same per-run locks as shards and concurrent sweeps, so a job that
 * dies loses nothing (the others, or the next invocation, resume its run).
 * @module
 */
import { join } from "node:path";
import { UserError } from "../core/errors.ts";
import { cpuThreads } from "../core/threads.ts";
import { exists, readJson } from "../core/fs.ts";
import { ensureBackend, initBackend } from "../backend.ts";
import { shardRuns } from "./grid.ts";
import { runFinished, trainStage } from "./stage.ts";
import { checkManifestRuns } from "./results.ts";
import type { RunEntry, SweepManifest } from "./types.ts";

/** What the parent tells a job (one JSON argument). */
interface JobSpec {
  dir: string;
  stage: string;
  /** The stage's run ids, in the order the parent would train them. */
  ids: string[];
  job: number;
  jobs: number;
  quiet?: boolean;
}

/**
 * Threads each of `jobs` jobs gets: the cores (or `OMP_NUM_THREADS`, if set) divided evenly, at
 * least one.
 *
 * @example Two jobs on two cores run one thread each
 * ```ts
 * import { threadsPerJob } from "@kd/vision/sweep";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(threadsPerJob(2, 2), 1);
 * assertEquals(threadsPerJob(3, 8), 2);
 * ```
 */
export function threadsPerJob(jobs: number, total: number = cpuThreads()): number {
  return Math.max(1, Math.floor(total / jobs));
}

/** A `--jobs` value: a whole number ≥ 1 (a clear error otherwise). */
export function checkJobs(jobs: number): number {
  if (!Number.isInteger(jobs) || jobs < 1) {
    throw new UserError(`--jobs must be a whole number ≥ 1, got ${jobs}`);
  }
  return jobs;
}

/** Options of {@linkcode trainStageInJobs}. */
export interface JobsOptions {
  /** The sweep directory (its `sweep.json` lists the runs). */
  dir: string;
  /** The stage's name (`screen`, `confirm`), for progress lines. */
  stage: string;
  /** The stage's runs, in the order this process would train them. */
  runs: RunEntry[];
  /** How many jobs (processes) train at once. */
  jobs: number;
  /** Where the jobs' progress lines go, each prefixed `[job i/N]` (default stderr). */
  log?: (line: string) => void;
  /** Print no training progress. */
  quiet?: boolean;
}

/**
 * Train a stage's unfinished runs in `jobs` processes at once and wait for all of them; throws
 * (naming the job and its last line) if any job failed. Runs a failed job left unfinished stay
 * resumable, and the caller's own `trainStage` afterwards trains whatever is left.
 */
export async function trainStageInJobs(o: JobsOptions): Promise<void> {
  const log = o.log ?? ((l: string) => console.error(l));
  const pending = [];
  for (const r of o.runs) if (!(await runFinished(o.dir, r))) pending.push(r);
  if (!pending.length) return;
  const main = new URL(import.meta.url);
  if (main.protocol !== "file:") {
    throw new UserError("--jobs needs the toolkit as local files (a clone), not a remote import");
  }
  const config = new URL("../../deno.json", import.meta.url).pathname;
  const backend = (await ensureBackend()).name;
  const threads = threadsPerJob(o.jobs);
  log(
    `${o.stage}: ${pending.length} run(s) in ${o.jobs} jobs of ${threads} thread(s) each` +
      ` (backend ${backend})`,
  );
  const ids = o.runs.map((r) => r.id);
  const jobs = Array.from({ length: o.jobs }, async (_, i) => {
    const spec: JobSpec = {
      dir: o.dir,
      stage: o.stage,
      ids,
      job: i,
      jobs: o.jobs,
      quiet: o.quiet,
    };
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--config", config, main.pathname, JSON.stringify(spec)],
      env: { OMP_NUM_THREADS: String(threads), KD_BACKEND: backend },
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const name = `job ${i + 1}/${o.jobs}`;
    let last = "";
    for await (const line of lines(child.stderr)) {
      log(`[${name}] ${line}`);
      if (line.trim()) last = line;
    }
    const { code } = await child.status;
    return { name, code, last };
  });
  const failed = (await Promise.all(jobs)).filter((j) => j.code !== 0);
  if (failed.length) {
    const f = failed[0];
    const msg = `${o.stage}: ${f.name} failed (exit ${f.code}): ${f.last || "no output"}`;
    // A job's bad input is the user's (exit 2); anything else is ours.
    throw failed.every((j) => j.code === 2) ? new UserError(msg) : new Error(msg);
  }
}

/** The lines of a byte stream as they arrive. */
async function* lines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let rest = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    const parts = (rest + chunk).split("\n");
    rest = parts.pop()!;
    yield* parts;
  }
  if (rest) yield rest;
}

/** One job: train the stage's runs, this job's share first. */
async function runJob(spec: JobSpec): Promise<void> {
  const backend = await initBackend(undefined, { quiet: true });
  const manifestPath = join(spec.dir, "sweep.json");
  if (!(await exists(manifestPath))) throw new UserError(`${manifestPath} does not exist`);
  const manifest = checkManifestRuns(manifestPath, await readJson<SweepManifest>(manifestPath));
  const byId = new Map(manifest.runs.map((r) => [r.id, r]));
  const runs = spec.ids.map((id) => {
    const r = byId.get(id);
    if (!r) throw new UserError(`${manifestPath} has no run "${id}"`);
    return r;
  });
  const shard = { index: spec.job, count: spec.jobs };
  const log = (l: string) => console.error(l);
  log(
    `${backend.name} on ${backend.device}: ${
      shardRuns(runs, shard).length
    } run(s) of ${spec.stage} first, then any left`,
  );
  await trainStage(
    {
      dir: spec.dir,
      shard,
      screen: manifest.runs.filter((r) => (r.stage ?? "screen") === "screen"),
      log,
      quiet: spec.quiet,
      finishedHere: 0,
      leaveToOthers: true,
    },
    spec.stage,
    runs,
  );
}

if (import.meta.main) {
  try {
    await runJob(JSON.parse(Deno.args[0]) as JobSpec);
  } catch (e) {
    // One line: the parent shows a job's last line as the reason it failed.
    console.error(e instanceof Error ? e.message : String(e));
    Deno.exit(e instanceof UserError ? 2 : 1);
  }
}
