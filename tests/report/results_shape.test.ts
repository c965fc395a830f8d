import { test } from "../permissions.ts";
import { assert, assertEquals, assertRejects, assertThrows } from "@std/assert";
import { join } from "node:path";
import { writeSyntheticSweep } from "../../lib/report/synthetic.ts";
import { loadSweep } from "../../lib/report/load.ts";
import { checkSweepResults } from "../../lib/report/results_shape.ts";
import { UserError } from "../../lib/core/errors.ts";

/** A malformed results.json and the start of what the error must say about it. */
const MALFORMED: [string, string][] = [
  ["null", "the file should be an object, got null"],
  ["[]", "the file should be an object, got a list"],
  ['{"rows":[{}]}', "experiment should be a string, got nothing"],
  [
    '{"experiment":"e","profile":"p","generatedAt":"t","rows":[{}],"pending":[]}',
    "rows[0].teacher should be a string, got nothing",
  ],
  [
    '{"experiment":"e","profile":"p","generatedAt":"t","rows":[]}',
    "pending should be a list, got nothing",
  ],
];

test("checkSweepResults accepts what the sweep writes and names the first wrong field", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // Every shape the synthetic sweeps have (confirm stage, test split, recipes) passes.
    for (const [i, opts] of [{}, { confirmSeeds: 3 }, { teachers: ["t"], seeds: [0] }].entries()) {
      const results = await writeSyntheticSweep(join(dir, String(i)), opts);
      const back = JSON.parse(JSON.stringify(results)); // NaN statistics become null, as on disk
      assertEquals(checkSweepResults(back, "r.json"), back);
    }
    for (const [text, what] of MALFORMED) {
      assertThrows(
        () => checkSweepResults(JSON.parse(text), "r.json"),
        UserError,
        `r.json: ${what}`,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

test("loadSweep and `deno task report` refuse a malformed results.json in one line", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "results.json");
    for (const [text, what] of MALFORMED) {
      await Deno.writeTextFile(path, text);
      await assertRejects(() => loadSweep(dir), UserError, `${path}: ${what}`);
    }
    // The command (the last case, where the table read results.pending): exit 2, no stack trace.
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL("../../lib/cli/report.ts", import.meta.url).pathname, dir],
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const err = new TextDecoder().decode(out.stderr).trim().split("\n");
    assertEquals(out.code, 2, err.join("\n"));
    assertEquals(err.length, 1, err.join("\n"));
    assert(err[0].startsWith(`error: ${path}: pending should be a list`), err[0]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
