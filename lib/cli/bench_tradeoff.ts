/**
 * `deno task bench tradeoff --student SPEC --teacher SPEC [--data DIR] [--web DIR] [--browser]
 * [--json]` (repeat --student/--teacher for more rows), or `--sweep DIR` for a sweep's teachers
 * and best students (written to `SWEEP/tradeoff.json` and shown in its report).
 * @module
 */
import { UserError } from "../core/errors.ts";
import type { CommandSpec } from "./command.ts";
import { runCommand } from "./command.ts";
import { intFlag, numberFlag } from "./flags.ts";
import { measureTradeoff, tradeoffMarkdown, type TradeoffTable } from "../export/tradeoff.ts";
import { loadSweep } from "../report/load.ts";
import { measureSweepTradeoff } from "../report/tradeoff.ts";
import { writeReport } from "../report/html.ts";

const USAGE =
  `usage: deno task bench tradeoff --student SPEC|RUN_DIR --teacher SPEC [--data DIR] [--web DIR]
                                [--browser] [--runs N] [--seconds S] [--json] [--backend NAME]
                                [--quiet]
       deno task bench tradeoff --sweep SWEEP_DIR [--data DIR] [--browser] [--runs N] [--seconds S]
                                [--json]

  Teacher and student side by side: parameters, weight-file size, multiply-adds per image,
  CPU latency (batch 1) and throughput (batch 32) on the backend, browser latency, validation
  accuracy (evaluated on --data, else the runs' records). --student/--teacher repeat.
  --web DIR   the student's tfjs export (its size, and browser_latency.json written by
              deno task demo --headless --model DIR); one per --student, in order
  --browser   measure browser latency now (tfjs export + headless Chromium) when --web is absent
  --runs N    time each CPU measurement over at least N runs (default 10; batch 32: N/4, ≥ 3)
  --seconds S and for at least S seconds (default 1; 0: the runs alone)
  --sweep     the sweep's teachers and best distilled/scratch students → SWEEP_DIR/tradeoff.json,
              then the report is rewritten with the table`;

/** The `tradeoff` benchmark as a command (registered in `lib/cli/bench.ts`). */
export function tradeoffCommand(): CommandSpec<TradeoffTable> {
  return {
    usage: USAGE,
    string: ["data", "sweep", "runs", "seconds", "student", "teacher", "web"],
    collect: ["student", "teacher", "web"],
    boolean: ["browser", "quiet"],
    json: true,
    backend: true,
    async run(f, ctx) {
      const quiet = (f.quiet as boolean) || ctx.json;
      const minRuns = intFlag("runs", f.runs);
      const minSeconds = numberFlag("seconds", f.seconds);
      // No runs and no time would time nothing: the latencies would be NaN behind exit 0.
      if (minRuns !== undefined && minRuns < 1) {
        throw new UserError(`--runs must be 1 or more, got "${f.runs}"`);
      }
      if (minSeconds !== undefined && minSeconds < 0) {
        throw new UserError(`--seconds must be 0 or more, got "${f.seconds}"`);
      }
      const students = (f.student ?? []) as string[];
      const teachers = (f.teacher ?? []) as string[];
      const web = (f.web ?? []) as string[];
      if (f.sweep) {
        if (students.length || teachers.length || web.length) {
          throw new UserError("--sweep takes its teachers and students from the sweep");
        }
        const sweep = await loadSweep(f.sweep as string);
        const table = await measureSweepTradeoff(sweep, {
          data: f.data as string | undefined,
          browser: f.browser as boolean,
          quiet,
          minRuns,
          minSeconds,
        });
        const { html } = await writeReport(f.sweep as string, { quiet: true });
        console.error(`wrote ${f.sweep}/tradeoff.json and ${html}`);
        return table;
      }
      if (!students.length || !teachers.length) {
        throw new UserError("--student and --teacher are required (or --sweep DIR; see --help)");
      }
      if (web.length > students.length) {
        throw new UserError(`${web.length} --web folders for ${students.length} --student models`);
      }
      return await measureTradeoff({
        teachers,
        students,
        data: f.data as string | undefined,
        web,
        browser: f.browser as boolean,
        minRuns,
        minSeconds,
        quiet,
      });
    },
    print(t) {
      console.log(tradeoffMarkdown(t));
    },
  };
}

if (import.meta.main) await runCommand(tradeoffCommand());
