/** Nothing finished is lost: --force replaces a run only once the new one has started. */
import { test } from "../permissions.ts";
import {
  assert,
  assertEquals,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import { join } from "node:path";
import { UserError } from "../../lib/core/errors.ts";
import { presetRecipe } from "../../lib/presets.ts";
import { train, type TrainConfig } from "../../lib/train.ts";
import { tryLock } from "../../lib/core/lock.ts";
import { checkTrainerState, initialState, RUN_LOCK } from "../../lib/train/run_dir.ts";
import { TEST_DATA as DATA, tinyConfig } from "../helpers.ts";
import { runCommand } from "../commands.ts";
import { BEANS_CLASSES, BEANS_DIR, validationRows, writeImageParquet } from "../data/helpers.ts";

const exists = (p: string) => Deno.stat(p).then(() => true, () => false);

test("--force with a mistyped --data or --teacher keeps the finished run", async () => {
  const out = await Deno.makeTempDir();
  try {
    const config = tinyConfig({ epochs: 1 });
    await train(config, { out, quiet: true });
    const final = await Deno.readTextFile(join(out, "final.json"));
    await Deno.writeTextFile(join(out, "test_eval.json"), "{}");
    // Leftovers of a crash (disk full during a checkpoint) are cleaned on the next start.
    await Deno.mkdir(join(out, "checkpoint.dead.tmp"));

    for (const bad of [{ data: "/nonexistent/beans" }, { teacher: "dir:/nonexistent/teacher" }]) {
      await assertRejects(
        () => train({ ...config, ...bad }, { out, force: true, quiet: true }),
        UserError,
      );
      assertEquals(await Deno.readTextFile(join(out, "final.json")), final);
      assert(await exists(join(out, "best", "model.safetensors")));
      assert(await exists(join(out, "test_eval.json")));
    }
    // A failure after the new run started (here: NaN at its first step) restores the old run.
    await assertRejects(
      () => train(config, { out, force: true, quiet: true, nanAtStep: 1 }),
      UserError,
    );
    assertEquals(await Deno.readTextFile(join(out, "final.json")), final);
    assert(!(await exists(join(out, "checkpoint.dead.tmp"))));

    // A good --force run replaces it, and the old test record goes with the old run.
    await train({ ...config, seed: 1 }, { out, force: true, quiet: true });
    assert(await Deno.readTextFile(join(out, "final.json")) !== final);
    assert(!(await exists(join(out, "test_eval.json"))));
    assertEquals([...Deno.readDirSync(out)].filter((e) => e.name.includes(".tmp")), []);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

test("a run folder is locked: a second train on it is refused naming the folder and holder", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "kd-train-lock-" });
  try {
    const out = join(tmp, "run");
    const config = tinyConfig({ epochs: 1 });
    // This process holds the lock, as a first `train` would while it runs.
    const held = await tryLock(join(out, RUN_LOCK));
    assert(held);
    for (const opts of [{}, { force: true }, { resume: true }]) {
      await assertRejects(
        () => train(config, { out, quiet: true, ...opts }),
        UserError,
        `${out} is in use: process ${Deno.pid} on ${Deno.hostname()}`,
      );
    }
    // The command: exit 2, one line naming the folder and the holder; nothing written.
    const { code, lines } = await runCommand("train", [
      ...["--preset", "smoke", "--data", DATA, "--max-images", "16", "--epochs", "1"],
      ...["--out", out, "--quiet"],
    ]);
    assertEquals([code, lines.length], [2, 1], lines.join("\n"));
    assertStringIncludes(lines[0], `error: ${out} is in use: process ${Deno.pid}`);
    assertEquals((await Array.fromAsync(Deno.readDir(out))).map((e) => e.name), [RUN_LOCK]);
    await held.release();

    // A lock left by a process that died (SIGKILL) is taken over; the run releases its own.
    const dead = new Deno.Command("true").spawn();
    await dead.status;
    await Deno.writeTextFile(
      join(out, RUN_LOCK),
      JSON.stringify({ pid: dead.pid, host: Deno.hostname(), started: "then" }),
    );
    await train(config, { out, quiet: true });
    assert(await exists(join(out, "final.json")));
    assert(!(await exists(join(out, RUN_LOCK))));

    // A refused run leaves no folder behind that it had to create.
    const other = join(tmp, "other");
    await assertRejects(
      () => train({ ...config, data: "/nonexistent/beans" }, { out: other, quiet: true }),
      UserError,
    );
    assert(!(await exists(other)));
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

test("--resume refuses changed data or settings, naming what differs, and keeps the record", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "kd-resume-check-" });
  try {
    const data = join(tmp, "data"), out = join(tmp, "run");
    await Deno.mkdir(data);
    // The committed subset: 24 train images (8 per class) and 15 validation images.
    const trainRows = await validationRows(0, 24, join(BEANS_DIR, "train.parquet"));
    const valRows = await validationRows(0, 15);
    const writeTrain = (r: typeof trainRows) =>
      writeImageParquet(join(data, "train.parquet"), r, { classNames: BEANS_CLASSES });
    writeTrain(trainRows);
    writeImageParquet(join(data, "validation.parquet"), valRows, { classNames: BEANS_CLASSES });
    const config: TrainConfig = {
      ...presetRecipe("smoke"),
      batchSize: 8,
      epochs: 2,
      student: "mobilenet_v2@0.35",
      teacher: null,
      data,
      trainSplit: "train",
      valSplit: "validation",
      seed: 0,
    };
    // Interrupted after epoch 1 (3 steps per epoch: step 4 is the first of epoch 2).
    await assertRejects(() => train(config, { out, quiet: true, nanAtStep: 4 }), UserError);
    const record = await Deno.readTextFile(join(out, "config.json"));
    const checkpoint = await Deno.readFile(join(out, "checkpoint", "trainer.json"));

    // The training file now holds other images (one row swapped for a validation image).
    writeTrain([...trainRows.slice(0, 23), valRows[11]]);
    await assertRejects(
      () => train(config, { out, resume: true, quiet: true }),
      UserError,
      `cannot resume ${out}: the data changed since the run started (train split`,
    );
    // Other settings than the run's.
    writeTrain(trainRows);
    for (const [change, named] of [[{ lr: 1e-2 }, "lr: "], [{ maxImages: 12 }, "maxImages: "]]) {
      await assertRejects(
        () =>
          train({ ...config, ...(change as Partial<TrainConfig>) }, {
            out,
            resume: true,
            quiet: true,
          }),
        UserError,
        named as string,
      );
    }
    assertEquals(await Deno.readTextFile(join(out, "config.json")), record);
    assertEquals(await Deno.readFile(join(out, "checkpoint", "trainer.json")), checkpoint);
    // Without the record there is nothing to match the checkpoint against.
    await Deno.rename(join(out, "config.json"), join(tmp, "config.json"));
    await assertRejects(
      () => train(config, { out, resume: true, quiet: true }),
      UserError,
      "config.json is missing",
    );
    await Deno.rename(join(tmp, "config.json"), join(out, "config.json"));

    // The same data and settings resume.
    await train(config, { out, resume: true, quiet: true });
    assert(await exists(join(out, "final.json")));
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

test("train cleans crash leftovers only of its own writes, only in a run folder, only once input passed", async () => {
  const out = await Deno.makeTempDir({ prefix: "kd-train-leftovers-" });
  try {
    const names = async () => (await Array.fromAsync(Deno.readDir(out))).map((e) => e.name).sort();
    // A folder of the user's whose names look like leftovers of the toolkit's writes.
    await Deno.mkdir(join(out, "notes.tmp"));
    await Deno.writeTextFile(join(out, "notes.tmp", "a.txt"), "mine");
    await Deno.writeTextFile(join(out, "draft.tmp"), "mine");
    await Deno.mkdir(join(out, ".checkpoint.old-abc"));
    await Deno.writeTextFile(join(out, ".checkpoint.old-abc", "x"), "mine");
    const mine = await names();

    // Bad input: exit 2, one line, nothing deleted.
    const { code, lines } = await runCommand("train", [
      ...["--out", out, "--data", "/nonexistent/beans", "--preset", "smoke", "--quiet"],
    ]);
    assertEquals([code, lines.length], [2, 1], lines.join("\n"));
    assertEquals(await names(), mine);
    // A folder of the user's takes --force to train into, and even then its files stay.
    const config = tinyConfig({ epochs: 2 });
    await assertRejects(
      () => train(config, { out, quiet: true }),
      UserError,
      `${out} is not empty and holds no run (.checkpoint.old-abc, draft.tmp, notes.tmp)`,
    );
    assertEquals(await names(), mine);
    // Interrupted in epoch 2 (2 steps per epoch: step 3 is its first).
    await assertRejects(
      () => train(config, { out, force: true, quiet: true, nanAtStep: 3 }),
      UserError,
    );
    assertEquals((await names()).filter((n) => mine.includes(n)), mine);
    assertEquals(await Deno.readTextFile(join(out, "notes.tmp", "a.txt")), "mine");
    assertEquals(await Deno.readTextFile(join(out, ".checkpoint.old-abc", "x")), "mine");

    // Now a run folder: a crash mid-checkpoint-swap left the checkpoint aside, and temporaries.
    const aside = join(out, ".checkpoint.old-k1ll3d");
    await Deno.mkdir(aside);
    await Deno.rename(join(out, "checkpoint"), join(aside, "checkpoint"));
    await Deno.mkdir(join(out, "checkpoint.0badc0de.tmp"));
    await Deno.writeTextFile(join(out, "metrics.jsonl.0badc0de.tmp"), "half");
    await Deno.mkdir(join(out, ".saving-0badc0de.tmp"));
    // A resume refused for its input changes nothing, the aside checkpoint included.
    const before = await names();
    await assertRejects(
      () => train({ ...config, data: "/nonexistent/beans" }, { out, resume: true, quiet: true }),
      UserError,
    );
    assertEquals(await names(), before);
    // The interrupted run is still recognised (its checkpoint is aside) and resumes from it.
    await assertRejects(() => train(config, { out, quiet: true }), UserError, "--resume");
    await train(config, { out, resume: true, quiet: true });
    assert(await exists(join(out, "final.json")));
    const left = await names();
    for (
      const gone of [
        "checkpoint.0badc0de.tmp",
        "metrics.jsonl.0badc0de.tmp",
        ".saving-0badc0de.tmp",
      ]
    ) {
      assert(!left.includes(gone), `${gone} was left: ${left}`);
    }
    assert(!left.includes(".checkpoint.old-k1ll3d"), `${left}`);
    // The user's own files stay: not names the toolkit writes, nor a folder it would leave.
    assertEquals(await Deno.readTextFile(join(out, "notes.tmp", "a.txt")), "mine");
    assertEquals(await Deno.readTextFile(join(out, "draft.tmp")), "mine");
    assertEquals(await Deno.readTextFile(join(out, ".checkpoint.old-abc", "x")), "mine");
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("a trainer.json that is not a trainer state cannot be resumed from, named", () => {
  const good = { ...initialState(), epoch: 2, step: 10, bestEpoch: 2, bestScore: 0.5 };
  assertEquals(checkTrainerState(good, "t.json"), good);
  // JSON keeps no -Infinity: a state saved before any kept epoch reads back as null.
  assertEquals(checkTrainerState({ ...good, bestScore: null }, "t.json").bestScore, -Infinity);
  const bad: [unknown, string][] = [
    [null, "not a trainer state"],
    [[], "not a trainer state"],
    [{}, '"epoch" must be an integer >= 0, got undefined'],
    [{ ...good, epoch: -1 }, '"epoch"'],
    [{ ...good, step: 1.5 }, '"step"'],
    [{ ...good, history: null }, '"history" must be a list'],
    [{ ...good, trainTime: "x" }, '"trainTime"'],
    [{ ...good, bestScore: "x" }, '"bestScore"'],
  ];
  for (const [value, words] of bad) {
    const e = assertThrows(() => checkTrainerState(value, "t.json"), UserError, words);
    assertStringIncludes(e.message, "t.json: ");
    assertStringIncludes(e.message, "--force");
  }
});
