import { assert, assertEquals } from "@std/assert";
import { join } from "node:path";
import { saveRandomStudent, TEST_DATA as DATA } from "./helpers.ts";
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

Deno.test("deno task eval --json: last stdout line is the metrics object", async () => {
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
  const last = JSON.parse(r.out.trim().split("\n").at(-1)!);
  assertEquals(last.n, 133);
  assertEquals(last.confusion.flat().reduce((a: number, b: number) => a + b, 0), 133);
  assertEquals(last.confusion.map((row: number[]) => row.reduce((a, b) => a + b, 0)), [44, 45, 44]);
  assert(last.accuracy >= 0 && last.accuracy <= 1 && typeof last.macro_f1 === "number");

  // A run directory (with best/) gets a <split>_eval.json record beside it.
  await saveRandomStudent(join(dir, "run"), "best");
  const run = await evalCli(["--model", join(dir, "run"), "--data", DATA, "--split", "validation"]);
  assert(run.ok, run.err);
  const record = JSON.parse(await Deno.readTextFile(join(dir, "run", "validation_eval.json")));
  assertEquals([record.split, record.n], ["validation", 133]);

  const missing = await evalCli(["--model", join(dir, "model"), "--data", DATA, "--split", "test"]);
  assert(!missing.ok);
  assert(missing.err.includes('no "test" split'), missing.err);
  assert(!missing.err.includes("    at "), "no stack trace for a user error");
  await Deno.remove(dir, { recursive: true });
});
