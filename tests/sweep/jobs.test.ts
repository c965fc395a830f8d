/**
 * A sweep's jobs (`lib/sweep/jobs.ts`): each stage trained by several processes at once, with
 * the cores split between them, every run trained exactly once; a failed job names itself.
 */
import { test } from "../permissions.ts";
import { assert, assertEquals, assertRejects } from "@std/assert";
import { join } from "node:path";
import { saveRandomStudent, TEST_DATA as DATA } from "../helpers.ts";
import { runSweep } from "../../lib/sweep/run.ts";
import { threadsPerJob, trainStageInJobs } from "../../lib/sweep/jobs.ts";
import { UserError } from "../../lib/core/errors.ts";
import type { RunEntry } from "../../lib/sweep/types.ts";

const TINY = new URL("../fixtures/tiny-sweep.ts", import.meta.url).pathname;

Deno.test("threadsPerJob splits the threads evenly, at least one per job", () => {
  assertEquals([1, 2, 3, 4, 8].map((j) => threadsPerJob(j, 8)), [8, 4, 2, 2, 1]);
  assertEquals(threadsPerJob(4, 2), 1);
});

test({
  name: "a sweep in two jobs: every run trained once, by the jobs, on half the threads each",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const teacher = await saveRandomStudent(await Deno.makeTempDir({ prefix: "kd-jobs-t-" }), "t");
    Deno.env.set("KD_TEST_TEACHER", teacher);
    const threads = Deno.env.get("OMP_NUM_THREADS");
    Deno.env.set("OMP_NUM_THREADS", "2");
    const out = await Deno.makeTempDir({ prefix: "kd-jobs-" });
    const lines: string[] = [];
    try {
      const r = await runSweep({
        experiment: TINY,
        profile: "confirm",
        data: DATA,
        out,
        quiet: true,
        jobs: 2,
        log: (l) => lines.push(l),
      });
      assert(r.complete);
    } finally {
      if (threads === undefined) Deno.env.delete("OMP_NUM_THREADS");
      else Deno.env.set("OMP_NUM_THREADS", threads);
    }
    const text = lines.join("\n");
    assert(/^screen: 3 run\(s\) in 2 jobs of 1 thread\(s\) each/m.test(text), text);
    assert(/^confirm: 4 run\(s\) in 2 jobs of 1 thread\(s\) each/m.test(text), text);
    // On the native backend, each job's oneDNN runs one thread.
    for (const job of ["1/2", "2/2"]) {
      const first = lines.find((l) => l.startsWith(`[job ${job}] `));
      assert(first, `no line from job ${job}:\n${text}`);
      if (first.includes("oneDNN")) assert(first.includes("1 threads"), first);
    }
    // Every run finished exactly once (which job trains which depends on their start-up).
    const manifest = JSON.parse(await Deno.readTextFile(join(out, "sweep.json")));
    const ids: string[] = manifest.runs.map((x: RunEntry) => x.id);
    const finishedBy = new Map<string, string[]>();
    // The parent trained nothing itself: only the jobs' logs (a job that found nothing left to
    // train has none).
    const logs = [...Deno.readDirSync(join(out, "log"))].map((e) => e.name);
    assert(logs.every((n) => /^shard-[12]-of-2\.jsonl$/.test(n)), logs.join(", "));
    for (const name of logs) {
      const job = name.slice("shard-".length, -".jsonl".length);
      const log = await Deno.readTextFile(join(out, "log", name));
      for (const line of log.trim().split("\n")) {
        const ev = JSON.parse(line);
        if (ev.event === "finish") finishedBy.set(ev.run, [...finishedBy.get(ev.run) ?? [], job]);
      }
    }
    assertEquals([...finishedBy.keys()].sort(), [...ids].sort());
    for (const [id, by] of finishedBy) assertEquals(by.length, 1, `${id} finished by ${by}`);
  },
});

test({
  name: "a job that fails names itself and its last line (exit 2: the user's input)",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "kd-jobs-bad-" });
    const run = { id: "scratch-s0", stage: "screen" } as RunEntry;
    await assertRejects(
      () => trainStageInJobs({ dir, stage: "screen", runs: [run], jobs: 2, log: () => {} }),
      UserError,
      `screen: job 1/2 failed (exit 2): ${join(dir, "sweep.json")} does not exist`,
    );
  },
});
