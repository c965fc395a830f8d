import { assert, assertEquals } from "@std/assert";
import { join } from "node:path";
import { initBackend } from "../lib/backend.ts";
import { createModel } from "../lib/models/registry.ts";
import { saveModel } from "../lib/models/checkpoint.ts";

const DATA = Deno.env.get("KD_TEST_DATA") ??
  new URL("../../shared/datasets/beans", import.meta.url).pathname;
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
  await initBackend(undefined, { quiet: true });
  const dir = await Deno.makeTempDir();
  const m = await createModel("mobilenet_v2@0.35", {
    numLabels: 3,
    labels: ["angular_leaf_spot", "bean_rust", "healthy"],
    imageSize: 32,
    seed: 0,
  });
  await saveModel(m, join(dir, "model"));
  m.dispose();
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

  const missing = await evalCli(["--model", join(dir, "model"), "--data", DATA, "--split", "test"]);
  assert(!missing.ok);
  assert(missing.err.includes('no "test" split'), missing.err);
  assert(!missing.err.includes("    at "), "no stack trace for a user error");
  await Deno.remove(dir, { recursive: true });
});
