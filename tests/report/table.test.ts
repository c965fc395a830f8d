import { test } from "../permissions.ts";
import { assert, assertAlmostEquals, assertEquals, assertStringIncludes } from "@std/assert";
import { join } from "node:path";
import { writeSyntheticSweep } from "../../lib/report/synthetic.ts";
import { CSV_COLUMNS, resultsCsv, writeResultTables } from "../../lib/report/table.ts";
import type { FinalSummary } from "../../lib/train.ts";
import type { SweepResults } from "../../lib/sweep/types.ts";

function parseCsv(text: string): Record<string, string>[] {
  const [head, ...lines] = text.trim().split("\n");
  const cols = head.split(",");
  return lines.map((l) => Object.fromEntries(l.split(",").map((v, i) => [cols[i], v])));
}

test("results.csv and results.md: one row per configuration, values from final.json", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kd-table-test-" });
  try {
    const results = await writeSyntheticSweep(dir, {
      teachers: ["ta"],
      temperatures: [2, 5],
      seeds: [0, 1, 2],
      epochs: 2,
      confirmSeeds: 0,
    });
    await writeResultTables(dir, results);
    const csv = await Deno.readTextFile(join(dir, "results.csv"));
    assertEquals(csv.split("\n")[0], CSV_COLUMNS.join(","));
    const rows = parseCsv(csv);
    assertEquals(rows.map((r) => [r.teacher, r.kind, r.temperature]), [
      ["scratch", "scratch", ""],
      ["ta", "distill", "2"],
      ["ta", "distill", "5"],
    ]);
    const finals = new Map<string, FinalSummary>();
    for (const r of results.rows) {
      for (const id of r.runs) {
        finals.set(id, JSON.parse(await Deno.readTextFile(join(dir, "runs", id, "final.json"))));
      }
    }
    const accOf = (id: string) => finals.get(id)!.validation.accuracy;
    for (const [i, row] of results.rows.entries()) {
      // Independently recomputed from the run folders: mean and paired difference by seed.
      const accs = row.runs.map(accOf);
      const mean = accs.reduce((a, b) => a + b, 0) / accs.length;
      assertAlmostEquals(Number(rows[i].acc_mean), mean, 1e-12);
      assertEquals(Number(rows[i].n_seeds), 3);
      if (row.kind === "distill") {
        const diffs = row.seeds.map((s, j) => accs[j] - accOf(`scratch-s${s}`));
        const d = diffs.reduce((a, b) => a + b, 0) / diffs.length;
        assertAlmostEquals(Number(rows[i].delta_acc_mean), d, 1e-12);
        assert(Number(rows[i].delta_acc_ci_low) <= d && d <= Number(rows[i].delta_acc_ci_high));
      } else assertEquals(rows[i].delta_acc_mean, "");
      assert(Number(rows[i].acc_mean) <= 1, "csv holds fractions");
    }
    const md = await Deno.readTextFile(join(dir, "results.md"));
    assertStringIncludes(md, "**validation**");
    const tableLines = md.split("\n").filter((l) => l.startsWith("|"));
    assertEquals(tableLines.length, 2 + results.rows.length);
    const cells = tableLines[2].split("|").map((c) => c.trim());
    const scratchMean = results.rows[0].runs.map(accOf).reduce((a, b) => a + b, 0) / 3;
    assert(cells[6].startsWith((scratchMean * 100).toFixed(2)), `percent in md: ${cells[6]}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

test("resultsCsv quotes fields with commas and leaves undefined CIs empty", () => {
  const stat = { mean: 0.5, std: 0, ci95: [NaN, NaN] as [number, number], n: 1 };
  const results: SweepResults = {
    experiment: "x",
    profile: "p",
    split: "validation",
    pending: [],
    generatedAt: "now",
    rows: [{
      teacher: 'a,"b"',
      kind: "distill",
      temperature: 2,
      lambda: 0.5,
      seeds: [0],
      accuracy: stat,
      macroF1: stat,
      deltaAccuracy: stat,
      deltaMacroF1: stat,
      teacherValAccuracy: null,
      agreement: 0.9,
      trainTimeS: 1,
      imgPerS: 2,
      runs: ["r"],
    }],
  };
  const line = resultsCsv(results).split("\n")[1];
  assert(line.startsWith('screen,validation,"a,""b""",distill,2,0.5,1,0.5,0,,,'), line);
});
