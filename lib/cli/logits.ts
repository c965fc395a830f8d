/**
 * `deno task logits --model SPEC --input FILE.safetensors --out FILE.safetensors`: runs a model on
 * the input's `pixel_values` (NCHW float32, as HF image processors produce it) and writes
 * `logits` (float32), for cross-checking against PyTorch.
 * @module
 */
import { UserError } from "../core/errors.ts";
import { type CommandSpec, runCommand } from "./command.ts";
import { intFlag } from "./flags.ts";
import { SPEC_FORMS } from "../models/registry.ts";
import { writeLogitsFile } from "../models/logits_file.ts";

const USAGE = `usage: deno task logits --model SPEC --input FILE.safetensors --out FILE.safetensors
  [--batch-size N] [--input-name pixel_values] [--force] [--backend NAME] [--json]

  --force   replace an existing --out file (never the --input file itself)

  SPEC: ${SPEC_FORMS.join(" | ")}`;

/** `deno task logits`. */
export const logitsCommand: CommandSpec<{ out: string; shape: number[] }> = {
  usage: USAGE,
  string: ["model", "input", "out", "batch-size", "input-name"],
  boolean: ["force"],
  json: true,
  backend: true,
  async run(f) {
    for (const flag of ["model", "input", "out"]) {
      if (!f[flag]) throw new UserError(`--${flag} is required (see --help)`);
    }
    const batchSize = intFlag("batch-size", f["batch-size"]) ?? 16;
    if (batchSize < 1) throw new UserError(`--batch-size must be >= 1, got ${batchSize}`);
    const shape = await writeLogitsFile({
      model: f.model as string,
      input: f.input as string,
      out: f.out as string,
      inputName: f["input-name"] as string | undefined,
      batchSize,
      force: Boolean(f.force),
    });
    return { out: f.out as string, shape };
  },
  print: (r) => console.log(`wrote logits [${r.shape}] to ${r.out}`),
};

if (import.meta.main) await runCommand(logitsCommand);
