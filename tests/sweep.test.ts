import { test } from "./permissions.ts";
import {
  assert,
  assertEquals,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import { join } from "node:path";
import { saveRandomStudent, TEST_DATA as DATA } from "./helpers.ts";
import { loadExperiment, runSweep } from "../lib/sweep/run.ts";
import { expandGrid, parseShard, shardRuns } from "../lib/sweep/grid.ts";
import { UserError } from "../lib/core/errors.ts";

const SWEEP_CLI = new URL("../lib/cli/sweep.ts", import.meta.url).pathname;
const TINY = new URL("./fixtures/tiny-sweep.ts", import.meta.url).pathname;

/** A random-weight 32 px teacher saved to a temp dir; exported to the experiment via env. */
async function makeTeacher(): Promise<string> {
  const path = await saveRandomStudent(await Deno.makeTempDir({ prefix: "kd-teacher-" }), "t");
  Deno.env.set("KD_TEST_TEACHER", path);
  return path;
}

function sweepCli(args: string[], env: Record<string, string> = {}): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", SWEEP_CLI, TINY, "--profile", "smoke", "--data", DATA, "--quiet", ...args],
    stdout: "piped",
    stderr: "piped",
    env: { KD_TEST_TEACHER: Deno.env.get("KD_TEST_TEACHER")!, ...env },
  }).spawn();
}

async function ok(p: Deno.ChildProcess): Promise<string> {
  const o = await p.output();
  const text = new TextDecoder().decode(o.stderr);
  assert(o.success, `sweep failed:\n${text}`);
  return text;
}

/** results.json rows without wall-clock fields. */
async function rows(dir: string): Promise<unknown[]> {
  const r = JSON.parse(await Deno.readTextFile(join(dir, "results.json")));
  return r.rows.map((x: Record<string, unknown>) => {
    const { trainTimeS: _a, imgPerS: _b, ...rest } = x;
    return rest;
  });
}

async function finishEvents(dir: string): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const e of Deno.readDirSync(join(dir, "log"))) {
    for (const line of (await Deno.readTextFile(join(dir, "log", e.name))).trim().split("\n")) {
      const ev = JSON.parse(line);
      if (ev.event === "finish") counts.set(ev.run, (counts.get(ev.run) ?? 0) + 1);
    }
  }
  return counts;
}

test({
  name: "sweep killed with SIGKILL midway and restarted: each run finishes once, same results",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await makeTeacher();
    const tmp = await Deno.makeTempDir({ prefix: "kd-sweep-" });
    const whole = join(tmp, "whole"), killed = join(tmp, "killed");
    await ok(sweepCli(["--out", whole]));

    const p = sweepCli(["--out", killed]);
    // Kill once the first run is finished and the second has a checkpoint (mid-run).
    const manifestRuns = async () =>
      JSON.parse(await Deno.readTextFile(join(killed, "sweep.json"))).runs.map((
        r: { id: string },
      ) => r.id);
    let ids: string[] = [];
    for (let i = 0; i < 4800; i++) {
      try {
        ids = await manifestRuns();
        await Deno.stat(join(killed, "runs", ids[0], "final.json"));
        await Deno.stat(join(killed, "runs", ids[1], "checkpoint", "trainer.json"));
        break;
      } catch { /* not yet */ }
      await new Promise((r) => setTimeout(r, 25));
    }
    p.kill("SIGKILL");
    await p.status;
    await p.stdout.cancel();
    await p.stderr.cancel();
    let hasResults = true;
    await Deno.stat(join(killed, "results.json")).catch(() => hasResults = false);
    assert(!hasResults, "the sweep finished before it was killed");

    const log = await ok(sweepCli(["--out", killed]));
    assertStringIncludes(log, "finished earlier, skipped");
    assertStringIncludes(log, "resuming");
    const counts = await finishEvents(killed);
    assertEquals([...counts.keys()].sort(), [...ids].sort());
    for (const [id, n] of counts) assertEquals(n, 1, `${id} finished ${n} times`);
    assertEquals(await rows(killed), await rows(whole));
    for (const f of ["results.csv", "results.md", "report.html"]) {
      assert((await Deno.stat(join(killed, f))).size > 0, `${f} missing`);
    }

    // A different grid in the same folder is refused, naming what differs; nothing is deleted.
    const before = [...Deno.readDirSync(join(killed, "runs"))].length;
    await assertRejects(
      () => runSweep({ experiment: TINY, profile: "other", data: DATA, out: killed, quiet: true }),
      UserError,
      "epochs",
    );
    assertEquals([...Deno.readDirSync(join(killed, "runs"))].length, before);

    // More seeds only add runs: the grid is extended and finished runs are kept untouched.
    const finalOf = (id: string) => Deno.readTextFile(join(killed, "runs", id, "final.json"));
    const kept = await finalOf(ids[0]);
    const more = await runSweep({
      experiment: TINY,
      profile: "more",
      data: DATA,
      out: killed,
      quiet: true,
      log: () => {},
    });
    assert(more.complete);
    assertEquals([...Deno.readDirSync(join(killed, "runs"))].length, before * 2);
    assertEquals(await finalOf(ids[0]), kept);
    await Deno.remove(tmp, { recursive: true });
  },
});

test("shards split the grid deterministically and disjointly", () => {
  const runs = Array.from({ length: 7 }, (_, i) => ({ id: `r${i}` })) as never[];
  const parts = [0, 1, 2].map((index) => shardRuns(runs, { index, count: 3 }));
  assertEquals(parts.flat().length, 7);
  assertEquals(new Set(parts.flat()).size, 7);
  assertEquals(parseShard("2/3"), { index: 1, count: 3 });
  const env = new Map([["SLURM_ARRAY_TASK_ID", "4"], ["SLURM_ARRAY_TASK_COUNT", "5"]]);
  assertEquals(parseShard(undefined, env), { index: 4, count: 5 });
});

test("bad sweep input: missing experiment, no sweep export, shard out of range, unknown profile", async () => {
  await assertRejects(() => loadExperiment("no-such-experiment"), UserError, "does not exist");
  await assertRejects(
    () => loadExperiment(new URL("./fixtures/no-sweep.ts", import.meta.url).pathname),
    UserError,
    "does not export a sweep",
  );
  for (const s of ["4/3", "0/3", "x"]) {
    try {
      parseShard(s);
      throw new Error(`--shard ${s} accepted`);
    } catch (e) {
      assert(e instanceof UserError, `--shard ${s}: ${e}`);
    }
  }
  await assertRejects(
    () => runSweep({ experiment: TINY, profile: "gpu-huge", data: DATA, quiet: true }),
    UserError,
    "no profile",
  );
  const out = await Deno.makeTempDir();
  await assertRejects(
    () => runSweep({ experiment: TINY, profile: "smoke", data: DATA, out, teachers: ["vit"] }),
    UserError,
    "--teachers vit: not in profile smoke (its teachers: rand)",
  );
  await Deno.remove(out, { recursive: true });
  // Bad input fails before the sweep folder is made: nothing is left to clean up.
  const fresh = join(await Deno.makeTempDir(), "sweep");
  await assertRejects(
    () => runSweep({ experiment: TINY, profile: "smoke", data: "/nonexistent/beans", out: fresh }),
    UserError,
    "/nonexistent/beans",
  );
  await assertRejects(() => Deno.stat(fresh), Deno.errors.NotFound);
  const profile = { preset: "smoke", student: "mobilenet_v2", temperatures: [2], lambdas: [0.5] };
  const teachers = [{ name: "t", spec: "dir:/t" }];
  assertThrows(() => expandGrid({ ...profile, seeds: [] }, teachers, {}), UserError, "empty");
  assertThrows(
    () => expandGrid({ ...profile, temperatures: [], seeds: [0] }, teachers, {}),
    UserError,
    "no distillation runs",
  );
});

// `deno task sweep --profile smoke` of the default experiment (results.csv/md, report.html) is
// tested as a user meets it, from a fresh clone against a loopback hub: tests/fresh_clone.test.ts.

/** A data folder with train, validation and a test split (a copy of validation, for plumbing). */
async function dataWithTest(test?: Uint8Array): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "kd-data-test-" });
  for (const s of ["train", "validation"]) {
    await Deno.symlink(join(DATA, `${s}.parquet`), join(dir, `${s}.parquet`));
  }
  if (test) await Deno.writeFile(join(dir, "test.parquet"), test);
  else await Deno.symlink(join(DATA, "validation.parquet"), join(dir, "test.parquet"));
  return dir;
}

test({
  name: "screen → confirm → test: picks recorded, fresh seeds, test read once at the end",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await makeTeacher();
    const data = await dataWithTest();
    const out = await Deno.makeTempDir({ prefix: "kd-sweep-confirm-" });
    const lines: string[] = [];
    const r = await runSweep({
      experiment: TINY,
      profile: "confirm",
      data,
      out,
      quiet: true,
      log: (l) => lines.push(l),
    });
    assert(r.complete);
    const manifest = JSON.parse(await Deno.readTextFile(join(out, "sweep.json")));
    assertEquals(manifest.confirm.seeds, [1000, 1001]);
    assertEquals(manifest.confirm.picks.length, 1);
    const pick = manifest.confirm.picks[0];
    const confirmIds = manifest.runs.filter((x: { stage: string }) => x.stage === "confirm")
      .map((x: { id: string }) => x.id);
    // Seed by seed, each seed's pair together.
    assertEquals(confirmIds, [
      "scratch-s1000",
      `kd-rand-T${pick.temperature}-l0.5-s1000`,
      "scratch-s1001",
      `kd-rand-T${pick.temperature}-l0.5-s1001`,
    ]);
    // Test evaluations exist for confirm runs only, each written after every confirm run ended.
    const lastFinal = Math.max(
      ...await Promise.all(
        confirmIds.map(async (id: string) =>
          (await Deno.stat(join(out, "runs", id, "final.json"))).mtime!.getTime()
        ),
      ),
    );
    for (const x of manifest.runs) {
      const t = await Deno.stat(join(out, "runs", x.id, "test_eval.json")).catch(() => null);
      assertEquals(t !== null, x.stage === "confirm", x.id);
      if (t) assert(t.mtime!.getTime() >= lastFinal, `${x.id} tested before confirm ended`);
    }
    const { finishSweep } = await import("../lib/report/finish.ts");
    const results = await finishSweep(out);
    assertEquals(results.confirm!.length, 1);
    assertEquals(results.confirm![0].seeds, [1000, 1001]);
    const md = await Deno.readTextFile(join(out, "results.md"));
    assertStringIncludes(md, "### CONFIRM rand");
    assertStringIncludes(md, "| TEST |");
    assertStringIncludes(md, "exact McNemar");
    assertStringIncludes(await Deno.readTextFile(join(out, "report.html")), "CONFIRM rand");
    const timing = JSON.parse(await Deno.readTextFile(join(out, "timing.json")));
    for (const s of ["teachers", "screen", "confirm", "test"]) assert(s in timing, s);

    // More confirm seeds extend the directory: same picks, one more seed per arm, nothing redone.
    lines.length = 0;
    await runSweep({
      experiment: TINY,
      profile: "confirm3",
      data,
      out,
      quiet: true,
      log: (l) => lines.push(l),
    });
    const m3 = JSON.parse(await Deno.readTextFile(join(out, "sweep.json")));
    assertEquals(m3.confirm.picks, manifest.confirm.picks);
    assertEquals(m3.confirm.seeds, [1000, 1001, 1002]);
    const started = lines.filter((l) => l.includes(": starting"));
    assertEquals(started.length, 2, started.join("\n"));

    // Confirm seeds from elsewhere (a replication profile) belong in another folder.
    await assertRejects(
      () => runSweep({ experiment: TINY, profile: "confirm-from-1005", data, out, quiet: true }),
      UserError,
      "its confirm seeds start at 1000, the profile's at 1005",
    );

    // The sweep's identity includes its data: other data in the same folder is refused.
    const other = await Deno.makeTempDir();
    await Deno.symlink(join(DATA, "train.parquet"), join(other, "train.parquet"));
    await Deno.symlink(join(DATA, "train.parquet"), join(other, "validation.parquet"));
    await assertRejects(
      () => runSweep({ experiment: TINY, profile: "confirm3", data: other, out, quiet: true }),
      UserError,
      "was made from other data",
    );
    await Deno.remove(other, { recursive: true });
    await Deno.remove(out, { recursive: true });
    await Deno.remove(data, { recursive: true });
  },
});

test({
  name:
    "nothing reads the test split before confirm ends: an unreadable test split fails only then",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await makeTeacher();
    const data = await dataWithTest(new TextEncoder().encode("not a parquet file"));
    const out = await Deno.makeTempDir({ prefix: "kd-sweep-notest-" });
    await assertRejects(() =>
      runSweep({ experiment: TINY, profile: "confirm", data, out, quiet: true, log: () => {} })
    );
    const manifest = JSON.parse(await Deno.readTextFile(join(out, "sweep.json")));
    for (const x of manifest.runs) {
      await Deno.stat(join(out, "runs", x.id, "final.json"));
      assert(!(await Deno.stat(join(out, "runs", x.id, "test_eval.json")).catch(() => null)));
    }
    assertEquals(manifest.runs.length, 7);
    await Deno.remove(out, { recursive: true });
    await Deno.remove(data, { recursive: true });
  },
});

test({
  name: "two sweeps on one --out split the work: every run trains once",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await makeTeacher();
    const out = await Deno.makeTempDir({ prefix: "kd-sweep-twice-" });
    const env = { KD_SWEEP_POLL_MS: "200" };
    const [a, b] = [0, 1].map(() => sweepCli(["--out", out], env));
    await Promise.all([ok(a), ok(b)]);
    const counts = await finishEvents(out);
    assertEquals(counts.size, 3);
    for (const [id, n] of counts) assertEquals(n, 1, `${id} trained ${n} times`);
    await Deno.remove(out, { recursive: true });
  },
});

test("a teacher name that is not a plain folder name is refused before anything is written", async () => {
  const out = await Deno.makeTempDir();
  await assertRejects(
    () =>
      runSweep({
        experiment: new URL("./fixtures/bad-name-sweep.ts", import.meta.url).pathname,
        profile: "smoke",
        data: DATA,
        out,
        quiet: true,
      }),
    UserError,
    `teacher name "../../escape"`,
  );
  assertEquals([...Deno.readDirSync(out)], [], "nothing written");
  await Deno.remove(out, { recursive: true });
});
