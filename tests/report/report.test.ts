import { ALL_GRANTED, test } from "../permissions.ts";
import { assert, assertEquals, assertGreater, assertStringIncludes } from "@std/assert";
import { join } from "node:path";
import { writeSyntheticSweep } from "../../lib/report/synthetic.ts";
import { bestRun, loadSweep, parseMetricsJsonl } from "../../lib/report/load.ts";
import { renderReportHtml, reportFigures, writeReport } from "../../lib/report/html.ts";
import { type CurveRun, learningCurvesFigure } from "../../lib/report/figures.ts";
import type { EpochRecord } from "../../lib/core/run_files.ts";
import { findChromium } from "../../lib/report/png.ts";
import { writeSweepReport } from "../../lib/report/finish.ts";
import { UserError } from "../../lib/core/errors.ts";
import { loadSharp } from "../../lib/data/sharp.ts";

async function syntheticDir(opts: Parameters<typeof writeSyntheticSweep>[1] = {}) {
  const dir = await Deno.makeTempDir({ prefix: "kd-report-test-" });
  const results = await writeSyntheticSweep(dir, {
    teachers: ["ta", "tb"],
    temperatures: [1, 5],
    seeds: [0, 1],
    epochs: 3,
    ...opts,
  });
  return { dir, results };
}

test("report.html inlines plotly once, draws every figure and has no external scripts", async () => {
  const { dir } = await syntheticDir({ confirmSeeds: 0 });
  try {
    const { html: path } = await writeReport(dir);
    const html = await Deno.readTextFile(path);
    // plotly's bundle ends with this line; present exactly once means inlined once.
    assertEquals(html.split("window.Plotly = Plotly;").length - 1, 1);
    assert(!/<script[^>]+src=["']?(https?:)?\/\//i.test(html), "external script found");
    assert(!/<link[^>]+href=["']?https?:/i.test(html), "external stylesheet found");
    const names = [
      "accuracy_vs_temperature",
      "delta_vs_scratch",
      "learning_curves",
      "confusion_best_distill",
      "confusion_best_scratch",
    ];
    for (const n of names) assertStringIncludes(html, `id="plot-${n}"`);
    assertEquals(html.split("Plotly.newPlot(").length - 1, names.length);
    assertStringIncludes(html, "<strong>validation</strong>");
    assert(!html.includes('data-split="test"'), "no test table without test_eval.json");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

test("best runs and confusion figures come from final.json validation accuracy", async () => {
  const { dir } = await syntheticDir();
  try {
    const sweep = await loadSweep(dir);
    const distill = sweep.runs.filter((r) => r.kind === "distill" && r.final);
    const top = Math.max(...distill.map((r) => r.final!.validation.accuracy));
    const best = bestRun(sweep.runs, "distill")!;
    assertEquals(best.final!.validation.accuracy, top);
    const fig = reportFigures(sweep).find((f) => f.name === "confusion_best_distill")!;
    assertEquals(fig.figure.data[0].z, best.final!.validation.confusion);
    assertStringIncludes(JSON.stringify(fig.figure.layout.title), best.id);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

test("learning curves use every epoch of metrics.jsonl", async () => {
  const { dir } = await syntheticDir();
  try {
    const sweep = await loadSweep(dir);
    const run = sweep.runs[0];
    const lines = (await Deno.readTextFile(join(run.dir, "metrics.jsonl"))).trim().split("\n");
    const fig = reportFigures(sweep).find((f) => f.name === "learning_curves")!.figure;
    const acc = fig.data.find((t) =>
      t.hovertemplate === `${run.id} epoch %{x}: %{y:.1f}%<extra></extra>`
    )!;
    assertEquals(acc.x, lines.map((l) => JSON.parse(l).epoch));
    assertEquals(acc.y, lines.map((l) => JSON.parse(l).accuracy * 100));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

test("learning curves: each configuration's seeds also as one bold mean curve per panel", () => {
  const epoch = (e: number, accuracy: number) =>
    ({ epoch: e, accuracy, train_loss: 1 - accuracy }) as unknown as EpochRecord;
  const run = (id: string, kind: "scratch" | "distill", accs: number[]): CurveRun => ({
    id,
    kind,
    metrics: accs.map((a, i) => epoch(i + 1, a)),
  });
  const long = Array.from({ length: 40 }, (_, i) => 0.5 + i / 100);
  const fig = learningCurvesFigure([
    run("scratch-s0", "scratch", long),
    run("scratch-s1", "scratch", long.map((a) => a + 0.02)),
    run("kd-t-T5-l1-s0", "distill", long.map((a) => a + 0.1)),
  ]);
  const mean = fig.data.filter((t) => String(t.name).startsWith("scratch (mean of 2)"));
  assertEquals(mean.length, 2); // accuracy and loss panels
  assertEquals(
    (mean[0].y as number[]).map((v) => Math.round(v * 100) / 100),
    long.map((a) => Math.round((a + 0.01) * 10000) / 100),
  );
  assertEquals(mean[0].showlegend, true);
  // A single seed is drawn as itself, in the legend; scratch stays grey with one arm or none.
  const kd = fig.data.filter((t) => t.name === "kd-t-T5-l1");
  assertEquals(kd.length, 2);
  assertEquals(kd[0].showlegend, true);
  assert((mean[0].line as { color: string }).color !== (kd[0].line as { color: string }).color);
  // 40 epochs: automatic ticks instead of one per epoch.
  assertEquals((fig.layout.xaxis as { dtick?: number }).dtick, undefined);
  const short = learningCurvesFigure([run("scratch-s0", "scratch", [0.5, 0.6])]);
  assertEquals((short.layout.xaxis as { dtick?: number }).dtick, 1);
});

test("test_eval.json appears only in a separate, marked test table", async () => {
  const { dir } = await syntheticDir();
  try {
    await Deno.writeTextFile(
      join(dir, "runs", "scratch-s1", "test_eval.json"),
      JSON.stringify({ split: "test", accuracy: 0.8123, macro_f1: 0.8, n: 128 }),
    );
    const html = renderReportHtml(await loadSweep(dir));
    const testStart = html.indexOf('data-split="test"');
    assertGreater(testStart, html.indexOf('data-split="validation"'));
    assertStringIncludes(html, "TEST split (held out");
    assertEquals(html.indexOf("81.23"), html.indexOf("81.23", testStart));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

test("partial sweeps are labelled and the unfinished run has no row seed", async () => {
  const { dir, results } = await syntheticDir({ unfinished: ["kd-ta-T5-l0.5-s1"] });
  try {
    assertEquals(results.pending, ["kd-ta-T5-l0.5-s1"]);
    const html = renderReportHtml(await loadSweep(dir));
    assertStringIncludes(html, "Partial: 1 run(s) not finished: kd-ta-T5-l0.5-s1");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

test("loadSweep names the missing results.json and bad metrics lines", async () => {
  const dir = await Deno.makeTempDir();
  try {
    let err: unknown;
    try {
      await loadSweep(dir);
    } catch (e) {
      err = e;
    }
    assert(err instanceof UserError);
    assertStringIncludes(err.message, join(dir, "results.json"));
    let bad: unknown;
    try {
      parseMetricsJsonl('{"epoch":1}\n{oops\n', "x/metrics.jsonl");
    } catch (e) {
      bad = e;
    }
    assert(bad instanceof UserError);
    assertStringIncludes(bad.message, "x/metrics.jsonl: line 2");
    // Valid JSON that is no epoch record (it was a TypeError reading 'epoch').
    for (const line of ["null", "[]", '{"epoch":"1"}', "3"]) {
      let e: unknown;
      try {
        parseMetricsJsonl(`{"epoch":1}\n${line}\n`, "x/metrics.jsonl");
      } catch (x) {
        e = x;
      }
      assert(e instanceof UserError, line);
      assertStringIncludes(e.message, "x/metrics.jsonl: line 2 is not an epoch record");
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

test({
  name: "the report with png writes non-empty PNGs (needs chromium)",
  ignore: ALL_GRANTED && !findChromium(),
  async fn() {
    const { dir } = await syntheticDir({ teachers: ["ta"], temperatures: [2] });
    try {
      await writeSweepReport(dir, { png: true, quiet: true });
      const sweep = await loadSweep(dir);
      const names = reportFigures(sweep).map((f) => f.name);
      assertEquals(names.length, 6);
      assertEquals(names[0], "confirm_delta");
      for (const n of names) {
        const bytes = await Deno.readFile(join(dir, "figures", `${n}.png`));
        assertEquals([...bytes.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
        // Drawn, not blank: a white page has min = max = 255 in every channel.
        const stats = await (await loadSharp())(bytes).stats();
        assert(stats.channels.slice(0, 3).some((c) => c.min < 128), `${n}.png looks blank`);
      }
      for (const f of ["report.html", "results.md", "results.csv"]) {
        assertGreater((await Deno.stat(join(dir, f))).size, 0);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

if (ALL_GRANTED && !findChromium()) {
  console.error("skipping the PNG test: chromium is not installed");
}

test("a run's final.json with scores out of range or of the wrong type stops the report, named", async () => {
  const { dir } = await syntheticDir({ confirmSeeds: 0 });
  try {
    const id = [...Deno.readDirSync(join(dir, "runs"))].map((e) => e.name).sort()[0];
    const path = join(dir, "runs", id, "final.json");
    const good = JSON.parse(await Deno.readTextFile(path));
    const cases: [unknown, string][] = [
      [{ ...good, validation: { ...good.validation, accuracy: 7 } }, '"validation.accuracy"'],
      [{ ...good, validation: { ...good.validation, accuracy: null } }, '"validation.accuracy"'],
      [{ ...good, validation: { ...good.validation, accuracy: "abc" } }, '"validation.accuracy"'],
      [{ ...good, validation: null }, '"validation" must be an object'],
      [null, "not a JSON object"],
      [{ ...good, best_epoch: 1.5 }, '"best_epoch"'],
    ];
    for (const [value, words] of cases) {
      await Deno.writeTextFile(path, JSON.stringify(value));
      const before = await Deno.readTextFile(join(dir, "results.json"));
      const err = await writeSweepReport(dir, { quiet: true }).then(() => null, (e) => e);
      assert(err instanceof UserError, `${JSON.stringify(value)}: ${err}`);
      assertStringIncludes(err.message, `${path}: `);
      assertStringIncludes(err.message, words);
      // Nothing was rewritten from the bad record.
      assertEquals(await Deno.readTextFile(join(dir, "results.json")), before);
    }
    await Deno.writeTextFile(path, "{garb");
    const err = await loadSweep(dir).then(() => null, (e) => e);
    assert(err instanceof UserError && err.message.includes(`${path}: not valid JSON`), `${err}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
