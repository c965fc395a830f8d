/**
 * `deno task eval --model RUN_DIR|SPEC [--data DIR] [--split NAME] [--json]`: evaluate a trained
 * run's best model (or any model spec) on one split. This is the only place the test split is
 * meant to be used: after selection on validation, as a separate, explicit step. Evaluating a
 * run directory records `<split>_eval.json` beside it (reports show `test_eval.json` in their
 * own TEST table).
 * @module
 */
import { UserError } from "../core/errors.ts";
import { type CommandSpec, runCommand } from "./command.ts";
import { parseLabelList } from "../data/source.ts";
import { evaluateModel, evaluationJson, recordEvaluation, runDirOf } from "../evaluate.ts";

const USAGE = `usage: deno task eval --model RUN_DIR|SPEC [--data DIR] [--split NAME]
  [--labels a,b,c] [--skip-bad-images] [--backend NAME] [--quiet] [--json]

  --split defaults to validation. A RUN_DIR is evaluated through its best/ model and the result
  is recorded as RUN_DIR/<split>_eval.json. --json prints the evaluation (metrics, confusion,
  per-image predictions) on stdout.`;

/** `deno task eval`. */
export const evalCommand: CommandSpec<Record<string, unknown>> = {
  usage: USAGE,
  string: ["model", "data", "split", "labels"],
  boolean: ["quiet", "skip-bad-images"],
  default: { split: "validation" },
  json: true,
  backend: true,
  async run(f, ctx) {
    if (!f.model) throw new UserError("--model RUN_DIR|SPEC is required (see --help)");
    const model = f.model as string;
    const data = f.data as string | undefined;
    const e = await evaluateModel({
      model,
      data,
      split: f.split as string,
      labels: parseLabelList(f.labels as string | undefined),
      skipBadImages: f["skip-bad-images"] as boolean,
      quiet: (f.quiet as boolean) || ctx.json,
    });
    const runDir = await runDirOf(model);
    const record = runDir ? await recordEvaluation(runDir, e, data) : null;
    return { ...evaluationJson(e, data), model, recorded_as: record };
  },
  print(r) {
    const pct = (x: unknown) => `${((x as number) * 100).toFixed(2)}%`;
    const kind = r.split === "test" ? "TEST" : r.split;
    console.log(
      `${kind} split: accuracy ${pct(r.accuracy)} macro-F1 ${
        (r.macro_f1 as number).toFixed(4)
      } n=${r.n}`,
    );
    const names = r.class_names as string[];
    const precision = r.precision as number[], recall = r.recall as number[];
    names.forEach((c, i) =>
      console.log(`  ${c}: precision ${precision[i].toFixed(3)} recall ${recall[i].toFixed(3)}`)
    );
    console.log(`  confusion [true][pred]: ${JSON.stringify(r.confusion)}`);
    if (r.recorded_as) console.log(`  written to ${r.recorded_as}`);
  },
};

if (import.meta.main) await runCommand(evalCommand);
