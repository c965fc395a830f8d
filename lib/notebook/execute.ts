/**
 * Executing every notebook in `notebooks/` headlessly on the Deno Jupyter kernel (Debian's `/usr/bin/jupyter
 * nbconvert --execute`), write the executed copies to `runs/notebooks/`, and fail if a cell
 * errors or if notebooks 01 and 02 lack their plotly (offline HTML) and PNG outputs.
 * Missing tools are installed when possible (root on Debian) or named exactly.
 * @module
 */
import { basename, join } from "node:path";
import { UserError } from "../core/errors.ts";
import {
  checkCommitted,
  checkExecuted,
  type NotebookDoc,
  type OutputRequirements,
  summarizeOutputs,
} from "./check.ts";
import { REPO_ROOT } from "./paths.ts";
import { findChromium } from "../report/png.ts";

const JUPYTER = "/usr/bin/jupyter";
const PYTHON = "/usr/bin/python3";
const APT_PACKAGES = [
  "jupyter-nbconvert",
  "python3-nbconvert",
  "python3-nbclient",
  "jupyter-client",
];
const NOTEBOOK_DIR = join(REPO_ROOT, "notebooks");

/** Rich outputs each notebook must produce (by file name prefix). */
export const REQUIREMENTS: Record<string, OutputRequirements> = {
  "01-": { plotly: true, png: true },
  "02-": { plotly: true, png: true },
};

async function run(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: Record<string, string> } = {},
): Promise<{ ok: boolean; code: number; out: string; stdout: string }> {
  try {
    const res = await new Deno.Command(cmd, {
      args,
      cwd: opts.cwd,
      env: opts.env,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    const stdout = dec.decode(res.stdout);
    return { ok: res.success, code: res.code, out: stdout + dec.decode(res.stderr), stdout };
  } catch (e) {
    return { ok: false, code: -1, out: (e as Error).message, stdout: "" };
  }
}

async function nbconvertReady(): Promise<boolean> {
  const py = await run(PYTHON, ["-c", "import nbconvert, nbclient, jupyter_client"]);
  return py.ok && (await run(JUPYTER, ["nbconvert", "--version"])).ok;
}

/** Make sure Debian's jupyter nbconvert (system python, not pyenv) is installed. */
async function ensureNbconvert(): Promise<void> {
  if (await nbconvertReady()) return;
  const install = `apt-get update && apt-get install -y ${APT_PACKAGES.join(" ")}`;
  const isRoot = Deno.uid?.() === 0;
  if (!isRoot || !(await run("/usr/bin/apt-get", ["--version"])).ok) {
    throw new UserError(
      `${JUPYTER} nbconvert (Debian's, on ${PYTHON}) is missing; install it with: sudo ${install}`,
    );
  }
  console.error(`installing jupyter nbconvert: ${install}`);
  const env = { DEBIAN_FRONTEND: "noninteractive" };
  for (const args of [["update", "-q"], ["install", "-y", "-q", ...APT_PACKAGES]]) {
    const r = await run("/usr/bin/apt-get", args, { env });
    if (!r.ok) {
      throw new UserError(
        `apt-get ${args.join(" ")} failed:\n${r.out.trim().split("\n").slice(-5).join("\n")}`,
      );
    }
  }
  if (!(await nbconvertReady())) {
    throw new UserError(`still no working ${JUPYTER} nbconvert after ${install}`);
  }
}

/** Make sure the Deno kernel is registered with this Deno binary. */
async function ensureDenoKernel(): Promise<void> {
  const list = await run(JUPYTER, ["kernelspec", "list", "--json"]);
  let specs: Record<string, { spec?: { argv?: string[] } }> = {};
  try {
    specs = JSON.parse(list.stdout).kernelspecs ?? {};
  } catch {
    // treated as "no kernels"
  }
  const argv0 = specs.deno?.spec?.argv?.[0];
  let argvOk = false;
  try {
    argvOk = !!argv0 && Deno.statSync(argv0).isFile;
  } catch {
    argvOk = false;
  }
  if (argvOk) return;
  console.error(`registering the Deno Jupyter kernel: ${Deno.execPath()} jupyter --install`);
  // --force: a kernelspec pointing at a missing deno binary is replaced.
  const r = await run(Deno.execPath(), ["jupyter", "--install", "--force"]);
  if (!r.ok) throw new UserError(`deno jupyter --install failed:\n${r.out.trim()}`);
}

function requirementsFor(file: string): OutputRequirements {
  const key = Object.keys(REQUIREMENTS).find((p) => basename(file).startsWith(p));
  return key ? REQUIREMENTS[key] : {};
}

/** What {@linkcode executeNotebooks} reports. */
export interface NotebookRun {
  /** Folder holding the executed copies. */
  out: string;
  /** One summary line per executed notebook. */
  rows: string[];
  /** One entry per failed notebook (with the reason, possibly several lines). */
  failures: string[];
}

/** Execute the notebooks (all, or those whose names start with an `only` prefix). */
export async function executeNotebooks(opts: {
  profile: string;
  out?: string;
  only?: string[];
  timeoutS: number;
}): Promise<NotebookRun> {
  const out = opts.out ?? join(REPO_ROOT, "runs", "notebooks");
  const only = opts.only;
  const files = [...Deno.readDirSync(NOTEBOOK_DIR)]
    .filter((e) => e.isFile && e.name.endsWith(".ipynb") && !e.name.startsWith("_"))
    .map((e) => e.name).sort()
    .filter((n) => !only || only.some((o) => n.startsWith(o)));
  if (!files.length) {
    throw new UserError(`no notebooks to run in ${NOTEBOOK_DIR}${only ? ` matching ${only}` : ""}`);
  }
  await ensureNbconvert();
  await ensureDenoKernel();
  if (!findChromium()) {
    console.error(
      "note: chromium not found: figures get no image/png fallback (apt-get install chromium)",
    );
  }
  await Deno.mkdir(out, { recursive: true });

  const failures: string[] = [];
  const rows: string[] = [];
  for (const name of files) {
    const src = join(NOTEBOOK_DIR, name);
    const committed = checkCommitted(JSON.parse(await Deno.readTextFile(src)) as NotebookDoc);
    if (committed.length) {
      failures.push(`${name} (as committed): ${committed.join("; ")}`);
      continue;
    }
    console.error(`executing ${name} (KD_NOTEBOOK_PROFILE=${opts.profile}) …`);
    const t0 = performance.now();
    const r = await run(JUPYTER, [
      "nbconvert",
      "--to",
      "notebook",
      "--execute",
      "--ExecutePreprocessor.kernel_name=deno",
      `--ExecutePreprocessor.timeout=${opts.timeoutS}`,
      // Large outputs (plotly.js) can arrive well after the cell's reply.
      "--ExecutePreprocessor.iopub_timeout=60",
      "--output-dir",
      out,
      "--output",
      name,
      src,
    ], {
      cwd: NOTEBOOK_DIR,
      env: { KD_NOTEBOOK_PROFILE: opts.profile, NO_COLOR: "1" },
    });
    const secs = (performance.now() - t0) / 1000;
    if (!r.ok) {
      const tail = r.out.trim().split("\n").filter((l) => !l.includes("unstable")).slice(-25).join(
        "\n",
      );
      failures.push(
        `${name}: nbconvert failed (exit ${r.code}) after ${secs.toFixed(0)} s:\n${tail}`,
      );
      continue;
    }
    const executed = join(out, name);
    const nb = JSON.parse(await Deno.readTextFile(executed)) as NotebookDoc;
    const problems = checkExecuted(nb, requirementsFor(name));
    const s = summarizeOutputs(nb);
    rows.push(
      `${name}: ${secs.toFixed(0)} s, ${s.outputs} outputs, ${s.plotlyFigures} plotly figure(s), ` +
        `${s.pngs} PNG(s)${problems.length ? " — FAILED" : ""}`,
    );
    console.error(rows.at(-1));
    if (problems.length) {
      failures.push(`${name} (executed copy ${executed}): ${problems.join("; ")}`);
    }
  }
  return { out, rows, failures };
}
