/**
 * Teachers built on demand for a sweep (`deno task teacher` on a pretrained backbone), once per
 * sweep directory; concurrent shards may race to build, and the loser simply reuses the result.
 * @module
 */
import { join } from "node:path";
import { UserError } from "../core/errors.ts";
import { exists, readJson } from "../core/fs.ts";
import type { TeacherSource } from "./define.ts";

const TEACHER_CLI = new URL("../cli/teacher.ts", import.meta.url).pathname;

/** Validation accuracy recorded by the teacher builder in the saved model's `info`, if any. */
export async function recordedValAccuracy(dir: string): Promise<number | null> {
  const saved = await readJson<{ info?: Record<string, unknown> }>(join(dir, "config.json"));
  const info = saved.info ?? {};
  for (const key of ["valAccuracy", "val_accuracy", "validationAccuracy"]) {
    if (typeof info[key] === "number") return info[key] as number;
  }
  return null;
}

/** Build `src` into `dir` unless a finished build is already there. */
export async function ensureTeacher(
  src: TeacherSource,
  dir: string,
  opts: { data?: string; extraArgs: string[]; log: (l: string) => void },
): Promise<{ dir: string; valAccuracy: number | null }> {
  if (!(await exists(join(dir, "config.json")))) {
    const args = [
      "run",
      "-A",
      TEACHER_CLI,
      "--from",
      src.build!.from,
      "--out",
      dir,
      ...(opts.data ? ["--data", opts.data] : []),
      ...(src.build!.args ?? []),
      ...opts.extraArgs,
    ];
    opts.log(`building teacher ${src.name}: deno task teacher ${args.slice(3).join(" ")}`);
    const child = await new Deno.Command(Deno.execPath(), {
      args,
      stdout: "inherit",
      stderr: "inherit",
    })
      .output();
    if (!child.success && !(await exists(join(dir, "config.json")))) {
      throw new UserError(
        `building teacher ${src.name} failed (exit ${child.code}); see the output above`,
      );
    }
  }
  return { dir, valAccuracy: await recordedValAccuracy(dir) };
}
