/**
 * `deno task notebooks [--profile smoke|cpu-fast] [--out DIR] [--only 01,03] [--timeout S]`:
 * execute every notebook headlessly (see `lib/notebook/execute.ts`); exit 1 when one fails.
 * @module
 */
import { UserError } from "../core/errors.ts";
import { type CommandSpec, runCommand } from "./command.ts";
import { intFlag } from "./flags.ts";
import { executeNotebooks, type NotebookRun } from "../notebook/execute.ts";
import { checkNotebookInputs } from "../notebook/teacher.ts";

/** The presets the notebooks are run with, as the usage says (the others take far longer). */
const PROFILES = ["smoke", "cpu-fast"];

const USAGE = `usage: deno task notebooks [--profile smoke|cpu-fast] [--out DIR] [--only 01,03]
  [--timeout S] [--json]

  Executes notebooks/*.ipynb on the Deno Jupyter kernel (installing Debian's nbconvert and the
  kernel when missing and running as root), writes the executed copies to --out (default
  runs/notebooks/) and checks their outputs. --profile sets KD_NOTEBOOK_PROFILE (default smoke).`;

/** `deno task notebooks`. */
export const notebooksCommand: CommandSpec<NotebookRun> = {
  usage: USAGE,
  string: ["profile", "out", "only", "timeout"],
  default: { profile: "smoke", timeout: "900" },
  json: true,
  async run(f) {
    if (!PROFILES.includes(f.profile as string)) {
      throw new UserError(`--profile must be ${PROFILES.join(" or ")}, got "${f.profile}"`);
    }
    // nbconvert's timeout is an int; "0.5" or "1e999" failed there with a Python traceback.
    const timeoutS = intFlag("timeout", f.timeout)!;
    if (!(timeoutS > 0)) {
      throw new UserError(`--timeout must be a whole number of seconds > 0, got "${f.timeout}"`);
    }
    // Data and teacher first: offline with one missing, one line instead of a failed notebook.
    await checkNotebookInputs(f.profile as string);
    const result = await executeNotebooks({
      profile: f.profile as string,
      out: f.out as string | undefined,
      only: f.only ? String(f.only).split(",").map((s) => s.trim()) : undefined,
      timeoutS,
    });
    if (result.failures.length) {
      for (const failure of result.failures) console.error(failure);
      console.error(`error: ${result.failures.length} notebook(s) failed`);
      Deno.exit(1);
    }
    return result;
  },
  print(r) {
    console.log(`all ${r.rows.length} notebooks ran; executed copies in ${r.out}`);
    for (const row of r.rows) console.log(`  ${row}`);
  },
};

if (import.meta.main) await runCommand(notebooksCommand);
