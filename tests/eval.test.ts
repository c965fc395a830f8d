import { BEANS_MINI_ROWS, BEANS_MINI_VALIDATION_PER_CLASS } from "./fixture_paths.ts";
import { test } from "./permissions.ts";
import { assert, assertEquals, assertRejects, assertStringIncludes } from "@std/assert";
import { join } from "node:path";
import { initBackend } from "../lib/backend.ts";
import { UserError } from "../lib/core/errors.ts";
import { evaluateModel } from "../lib/evaluate.ts";
import { saveModel } from "../lib/models/checkpoint.ts";
import { createModel } from "../lib/models/registry.ts";
import { saveRandomStudent, TEST_DATA as DATA } from "./helpers.ts";
import { MNV2_FIXTURE as MNV2_TINY } from "./export/helpers.ts";
const EVAL_CLI = new URL("../lib/cli/eval.ts", import.meta.url).pathname;

async function evalCli(args: string[]) {
  const o = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", EVAL_CLI, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    ok: o.success,
    out: new TextDecoder().decode(o.stdout),
    err: new TextDecoder().decode(o.stderr),
  };
}

test("deno task eval --json: stdout is the evaluation", async () => {
  const dir = await Deno.makeTempDir();
  await saveRandomStudent(dir);
  const r = await evalCli([
    "--model",
    join(dir, "model"),
    "--data",
    DATA,
    "--split",
    "validation",
    "--json",
  ]);
  assert(r.ok, r.err);
  assertEquals(r.out.trim().split("\n").length, 1);
  const last = JSON.parse(r.out);
  assertEquals(last.n, BEANS_MINI_ROWS.validation);
  assertEquals(
    last.confusion.flat().reduce((a: number, b: number) => a + b, 0),
    BEANS_MINI_ROWS.validation,
  );
  assertEquals(
    last.confusion.map((row: number[]) => row.reduce((a, b) => a + b, 0)),
    BEANS_MINI_VALIDATION_PER_CLASS,
  );
  assert(last.accuracy >= 0 && last.accuracy <= 1 && typeof last.macro_f1 === "number");

  // A run directory (with best/) gets a <split>_eval.json record beside it.
  await saveRandomStudent(join(dir, "run"), "best");
  const run = await evalCli(["--model", join(dir, "run"), "--data", DATA, "--split", "validation"]);
  assert(run.ok, run.err);
  const record = JSON.parse(await Deno.readTextFile(join(dir, "run", "validation_eval.json")));
  assertEquals([record.split, record.n], ["validation", BEANS_MINI_ROWS.validation]);

  const missing = await evalCli(["--model", join(dir, "model"), "--data", DATA, "--split", "test"]);
  assert(!missing.ok);
  assert(missing.err.includes('no "test" split'), missing.err);
  assert(!missing.err.includes("    at "), "no stack trace for a user error");
  await Deno.remove(dir, { recursive: true });
});

test("eval matches a model's classes to the data's by name, or refuses naming both", async () => {
  await initBackend(undefined, { quiet: true });
  const dir = await Deno.makeTempDir();
  try {
    // Four classes (one the data lacks): the logits are never read as three columns.
    const four = await createModel("mobilenet_v2@0.35", {
      numLabels: 4,
      labels: ["angular_leaf_spot", "bean_rust", "healthy", "mosaic"],
      imageSize: 32,
      seed: 1,
    });
    await saveModel(four, join(dir, "four"));
    four.dispose();
    const e = await evaluateModel({ model: join(dir, "four"), data: DATA, split: "validation" });
    assertEquals(e.classNames.length, 4);
    assertEquals(e.metrics.confusion.length, 4);
    assertEquals(e.metrics.n, BEANS_MINI_ROWS.validation);

    // Same classes in another order: labels follow the names, so predictions are unchanged.
    const names = ["angular_leaf_spot", "bean_rust", "healthy"];
    const permuted = ["healthy", "angular_leaf_spot", "bean_rust"];
    const a = await createModel("mobilenet_v2@0.35", {
      numLabels: 3,
      labels: names,
      imageSize: 32,
      seed: 2,
    });
    await saveModel(a, join(dir, "a"));
    a.dispose();
    const config = JSON.parse(await Deno.readTextFile(join(dir, "a", "config.json")));
    config.config.labels = permuted;
    await Deno.mkdir(join(dir, "b"));
    await Deno.copyFile(join(dir, "a", "model.safetensors"), join(dir, "b", "model.safetensors"));
    await Deno.writeTextFile(join(dir, "b", "config.json"), JSON.stringify(config));
    const ea = await evaluateModel({ model: join(dir, "a"), data: DATA, split: "validation" });
    const eb = await evaluateModel({ model: join(dir, "b"), data: DATA, split: "validation" });
    // b's column i is class permuted[i]: its true labels are renumbered, its predictions not.
    const perm = names.map((n) => permuted.indexOf(n));
    assertEquals([...eb.labels], [...ea.labels].map((l) => perm[l]));
    assertEquals([...eb.predictions], [...ea.predictions]);

    // A model whose classes the data does not know at all is refused with both lists.
    config.config.labels = ["cat", "dog", "bird"];
    await Deno.writeTextFile(join(dir, "b", "config.json"), JSON.stringify(config));
    const err = await assertRejects(
      () => evaluateModel({ model: join(dir, "b"), data: DATA, split: "validation" }),
      UserError,
    );
    assert(err.message.includes("cat") && err.message.includes("healthy"), err.message);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

test("deno task eval --quiet prints nothing on stderr, not even the backend line", async () => {
  const cli = new URL("../lib/cli/eval.ts", import.meta.url).pathname;
  const run = (quiet: string[]) =>
    new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", cli, "--model", `hf-dir:${MNV2_TINY}`, "--data", DATA, ...quiet],
      stdout: "piped",
      stderr: "piped",
    }).output();
  const [loud, quiet] = await Promise.all([run([]), run(["--quiet"])]);
  assert(loud.success && quiet.success, new TextDecoder().decode(quiet.stderr));
  assertStringIncludes(new TextDecoder().decode(loud.stderr), "backend: ");
  assertEquals(new TextDecoder().decode(quiet.stderr), "");
  assertEquals(quiet.stdout, loud.stdout);
});
