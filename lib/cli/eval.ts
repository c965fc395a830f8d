/**
 * `deno task eval --model RUN_DIR|SPEC [--data DIR] [--split NAME] [--json]`: evaluate a trained
 * run's best model (or any model spec) on one split. This is the only place the test split is
 * meant to be used: after selection on validation, as a separate, explicit step.
 * @module
 */
import { parseArgs } from "@std/cli";
import { join } from "node:path";
import { UserError } from "../core/errors.ts";
import { runMain } from "./command.ts";
import { initBackend } from "../backend.ts";
import { loadSplit } from "../data/dataset.ts";
import { resolveSplit } from "../data/resolve.ts";
import { createModel, loadModel } from "../models/registry.ts";
import type { Classifier } from "../models/model.ts";
import { predictLogits } from "../predict.ts";
import { type EvalMetrics, evaluateLogits } from "../metrics.ts";
import { exists, writeJsonAtomic } from "../core/fs.ts";

/** Load what `--model` names: a run directory (its `best/`), a saved model directory, or a spec. */
export async function resolveModel(
  model: string,
  numLabels: number,
  labels: string[],
): Promise<Classifier> {
  if (await exists(join(model, "best", "config.json"))) return await loadModel(join(model, "best"));
  if (await exists(join(model, "config.json"))) return await loadModel(model);
  return await createModel(model, { numLabels, labels });
}

/** Evaluate `model` on a split and return its metrics. */
export async function evaluateModel(opts: {
  model: string;
  data?: string;
  split: string;
  quiet?: boolean;
}): Promise<EvalMetrics & { classNames: string[] }> {
  // Class names come from the index; images are decoded once, at the model's own size, below.
  const index = await resolveSplit({ data: opts.data, split: opts.split, quiet: true });
  const model = await resolveModel(opts.model, index.classNames.length, index.classNames);
  try {
    const split = await loadSplit({
      data: opts.data,
      split: opts.split,
      preprocess: model.input,
      quiet: opts.quiet,
    });
    const logits = await predictLogits(model, split, {
      label: `eval ${opts.split}`,
      quiet: opts.quiet,
    });
    return {
      ...evaluateLogits(logits, split.labels, split.classNames.length),
      classNames: split.classNames,
    };
  } finally {
    model.dispose();
  }
}

if (import.meta.main) {
  await runMain(async () => {
    const f = parseArgs(Deno.args, {
      string: ["model", "data", "split", "backend"],
      boolean: ["json", "quiet"],
      default: { split: "validation" },
    });
    if (!f.model) throw new UserError("--model RUN_DIR|SPEC is required");
    await initBackend(f.backend as string | undefined);
    const m = await evaluateModel({
      model: f.model as string,
      data: f.data as string | undefined,
      split: f.split as string,
      quiet: (f.quiet as boolean) || (f.json as boolean),
    });
    const kind = f.split === "test" ? "TEST" : f.split;
    console.log(
      `${kind} split: accuracy ${(m.accuracy * 100).toFixed(2)}% macro-F1 ${
        m.macroF1.toFixed(4)
      } n=${m.n}`,
    );
    m.classNames.forEach((c, i) =>
      console.log(`  ${c}: precision ${m.precision[i].toFixed(3)} recall ${m.recall[i].toFixed(3)}`)
    );
    console.log(`  confusion [true][pred]: ${JSON.stringify(m.confusion)}`);
    // Evaluating a run directory leaves a record beside it: `test_eval.json` is what reports show,
    // in their own clearly marked table, once selection on validation is done.
    if (await exists(join(f.model as string, "best", "config.json"))) {
      const record = join(f.model as string, `${f.split}_eval.json`);
      await writeJsonAtomic(record, {
        split: f.split,
        accuracy: m.accuracy,
        macro_f1: m.macroF1,
        n: m.n,
        confusion: m.confusion,
        data: f.data ?? null,
        evaluated_at: new Date().toISOString(),
      });
      console.log(`  written to ${record}`);
    }
    if (f.json) {
      console.log(JSON.stringify({
        split: f.split,
        accuracy: m.accuracy,
        macro_f1: m.macroF1,
        n: m.n,
        confusion: m.confusion,
        ece: m.ece,
      }));
    }
  });
}
