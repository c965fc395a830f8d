/**
 * The teacher the distillation notebook uses: env `KD_TEACHER` (any registry spec) wins; the
 * `smoke` profile takes the cheapest model available (the random-weight ViT fixture: it runs
 * the code path in seconds, but its "knowledge" is noise); other profiles use the linear-probe
 * teacher on the shared ImageNet MobileNetV2, built once with `deno task teacher`.
 * @module
 */
import { join } from "node:path";
import { UserError } from "../core/errors.ts";
import { exists } from "../core/fs.ts";
import { REPO_ROOT, SHARED_DIR } from "./paths.ts";

/** A chosen teacher and why. */
export interface NotebookTeacher {
  spec: string;
  /** One sentence for the notebook reader. */
  note: string;
}

const TEACHER_CLI = join(REPO_ROOT, "lib", "cli", "teacher.ts");

/** Run `deno task teacher` (output summarised on stdout) unless `out` already holds a model. */
export async function buildProbeTeacher(
  out: string,
  opts: { data: string; extraArgs?: string[] },
): Promise<void> {
  if (await exists(join(out, "config.json"))) return;
  const args = ["run", "-A", TEACHER_CLI, "--data", opts.data, "--out", out, "--quiet"];
  args.push(...(opts.extraArgs ?? []));
  console.log(`building the teacher (once): deno ${args.slice(2).join(" ")}`);
  const t0 = performance.now();
  const res = await new Deno.Command(Deno.execPath(), { args, stdout: "piped", stderr: "piped" })
    .output();
  const text = new TextDecoder().decode(res.stdout) + new TextDecoder().decode(res.stderr);
  const lines = text.split(/[\r\n]+/).filter((l) => l.trim());
  if (!res.success) {
    throw new UserError(
      `deno task teacher failed (exit ${res.code}):\n${lines.slice(-8).join("\n")}`,
    );
  }
  for (const l of lines.filter((l) => /validation accuracy|saved teacher/.test(l))) console.log(l);
  console.log(`teacher built in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
}

/** The teacher spec for `profile` (building the probe teacher when needed). */
export async function notebookTeacher(profile: string, data: string): Promise<NotebookTeacher> {
  const env = Deno.env.get("KD_TEACHER");
  if (env) return { spec: env, note: `KD_TEACHER=${env}` };
  if (profile === "smoke") {
    const dir = join(SHARED_DIR, "fixtures", "vit_tiny");
    if (!(await exists(join(dir, "config.json")))) {
      throw new UserError(`${dir} not found (the smoke profile's stand-in teacher)`);
    }
    return {
      spec: `hf-dir:${dir}`,
      note: "smoke profile: the random-weight tiny ViT fixture stands in for a teacher so the " +
        "notebook runs in seconds; its predictions are noise, so read the plots as a code check only",
    };
  }
  const out = join(REPO_ROOT, "data", "teachers", "mnv2-probe");
  await buildProbeTeacher(out, { data });
  return {
    spec: `dir:${out}`,
    note: "linear probe on frozen features of the shared ImageNet MobileNetV2 (deno task teacher)",
  };
}
