/**
 * Training one stage of a sweep: every unfinished run, each under its lock file, so that shards,
 * concurrent sweeps and a sweep's own jobs (`jobs.ts`) on one directory share the work instead
 * of repeating it. A finished run is skipped, an interrupted one resumes from its checkpoint, and
 * a scratch run whose training equals a finished one's is copied (`reuse.ts`).
 * @module
 */
import { join } from "node:path";
import { train } from "../train.ts";
import { exists } from "../core/fs.ts";
import { tryLock } from "../core/lock.ts";
import { formatDuration } from "../progress.ts";
import { shardRuns } from "./grid.ts";
import { copyFinishedRun, finishedTwin } from "./reuse.ts";
import type { RunEntry } from "./types.ts";

/** What a process training a sweep's stages shares between them. */
export interface StageContext {
  /** The sweep directory. */
  dir: string;
  /** This process's share: it starts with every `count`-th run from `index`. */
  shard: { index: number; count: number };
  /** The screen runs (a confirm run may copy a finished twin among them). */
  screen: RunEntry[];
  /** Where progress lines go. */
  log: (line: string) => void;
  /** Print no training progress. */
  quiet?: boolean;
  /** Test hook: stop (throw) once this many runs finished in this process. */
  stopAfterRuns?: number;
  /** Runs this process finished so far, over all stages (for `stopAfterRuns`). */
  finishedHere: number;
  /**
   * Return once every unfinished run is held by another process, instead of waiting for them
   * (a job: its parent waits for all jobs, then trains whatever a failed one left).
   */
  leaveToOthers?: boolean;
}

/** The lock file of `name` (a run id, `sweep.json`, `teacher-<name>`) in a sweep directory. */
export function lockPath(dir: string, name: string): string {
  return join(dir, "locks", `${name}.lock`);
}

/** How often a sweep looks again at runs and locks held by other processes (read when waiting). */
export function pollMs(): number {
  return Number(Deno.env.get("KD_SWEEP_POLL_MS") ?? 10_000);
}

/** Resolve after `ms` milliseconds. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Whether `run` of the sweep in `dir` has finished (its `final.json` exists). */
export function runFinished(dir: string, run: RunEntry): Promise<boolean> {
  return exists(join(dir, "runs", run.id, "final.json"));
}

/** `runs` with the shard's own share first, then the rest, each in their given order. */
export function shardFirst(
  runs: RunEntry[],
  shard: { index: number; count: number },
): RunEntry[] {
  const mine = shardRuns(runs, shard);
  return [...mine, ...runs.filter((r) => !mine.includes(r))];
}

async function countFinished(dir: string, runs: RunEntry[]): Promise<number> {
  let n = 0;
  for (const r of runs) if (await runFinished(dir, r)) n++;
  return n;
}

/**
 * Train every unfinished run of a stage: this process's share first, then (so that a slow or
 * absent process does not hold the stage up) any other run no live process holds; then wait
 * for runs other processes are training. Returns when the whole stage is finished (or, with
 * `leaveToOthers`, when nothing is left that no other process holds).
 */
export async function trainStage(
  ctx: StageContext,
  stage: string,
  runs: RunEntry[],
): Promise<void> {
  const { dir, log } = ctx;
  const eventsPath = join(dir, "log", `shard-${ctx.shard.index + 1}-of-${ctx.shard.count}.jsonl`);
  await Deno.mkdir(join(dir, "log"), { recursive: true });
  const event = async (run: string, what: string, extra: Record<string, unknown> = {}) => {
    const line = JSON.stringify({ time: new Date().toISOString(), run, event: what, ...extra });
    await Deno.writeTextFile(eventsPath, line + "\n", { append: true });
  };
  const finished = (r: RunEntry) => runFinished(dir, r);
  const order = shardFirst(runs, ctx.shard);
  const t0 = performance.now();
  let trainedHere = 0, announcedWait = false;
  const done = await countFinished(dir, runs);
  if (done) log(`${stage}: ${done} of ${runs.length} run(s) finished earlier, skipped`);
  while (true) {
    const pending: RunEntry[] = [];
    for (const r of order) if (!(await finished(r))) pending.push(r);
    if (!pending.length) return;
    let ranOne = false;
    for (const run of pending) {
      const lock = await tryLock(lockPath(dir, run.id));
      if (!lock) continue;
      try {
        if (await finished(run)) continue;
        const out = join(dir, "runs", run.id);
        const at = `[${stage} ${(await countFinished(dir, runs)) + 1}/${runs.length}]`;
        const twin = await exists(out)
          ? undefined
          : await finishedTwin(run, [...ctx.screen, ...runs], finished);
        if (twin) {
          await copyFinishedRun(join(dir, "runs", twin.id), out, twin.id, dir);
          await event(run.id, "reuse", { stage, from: twin.id });
          log(`${at} ${run.id}: the same training as ${twin.id}, copied (reused_from.json)`);
          ctx.finishedHere++, ranOne = true;
          continue;
        }
        const resuming = await exists(join(out, "checkpoint", "trainer.json"));
        log(`${at} ${run.id}: ${resuming ? "resuming" : "starting"}`);
        await event(run.id, resuming ? "resume" : "start", { stage });
        const summary = await train(run.config, { out, resume: true, quiet: ctx.quiet });
        await event(run.id, "finish", { stage, accuracy: summary.validation.accuracy });
        ctx.finishedHere++, trainedHere++, ranOne = true;
        const elapsed = (performance.now() - t0) / 1000;
        const left = runs.length - (await countFinished(dir, runs));
        log(
          `${at} ${run.id}: val acc ${(summary.validation.accuracy * 100).toFixed(1)}% ` +
            `(${stage} elapsed ${formatDuration(elapsed)}, ~${
              // The processes sharing the stage (shards, jobs) finish the rest together.
              formatDuration(
                (elapsed / trainedHere) * left / ctx.shard.count,
              )} left for ${left} run(s))`,
        );
        if (ctx.stopAfterRuns !== undefined && ctx.finishedHere >= ctx.stopAfterRuns) {
          throw new Error(`stopping after ${ctx.finishedHere} runs (test hook)`);
        }
      } finally {
        await lock.release();
      }
    }
    if (!ranOne) {
      if (ctx.leaveToOthers) return;
      if (!announcedWait) {
        log(`${stage}: waiting for ${pending.length} run(s) other processes are training`);
        announcedWait = true;
      }
      await sleep(pollMs());
    }
  }
}
