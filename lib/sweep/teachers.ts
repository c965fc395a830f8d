/**
 * Teachers built on demand for a sweep (`buildTeacher`, in this process), once per sweep
 * directory: a finished build (its `config.json`, written atomically) is reused, so a killed
 * sweep leaves nothing half-built and concurrent shards at worst build the same teacher twice.
 * @module
 */
import { join } from "node:path";
import { UserError } from "../core/errors.ts";
import { exists, readJson } from "../core/fs.ts";
import { buildTeacher, type TeacherSettings } from "../teacher/build.ts";
import type { TeacherSource } from "./define.ts";

/** What the teacher builder recorded in a saved teacher's `info`. */
interface TeacherInfo {
  from?: string;
  val_accuracy?: number;
}

async function teacherInfo(dir: string): Promise<TeacherInfo> {
  const saved = await readJson<{ info?: TeacherInfo }>(join(dir, "config.json"));
  return saved.info ?? {};
}

/** Validation accuracy `buildTeacher` recorded (`info.val_accuracy`), or null if none. */
export async function recordedValAccuracy(dir: string): Promise<number | null> {
  const v = (await teacherInfo(dir)).val_accuracy;
  return typeof v === "number" ? v : null;
}

/** Options of {@linkcode ensureTeacher}. */
export interface EnsureTeacherOptions {
  /** Backbone spec for the build (already resolved from --backbone, env and the source). */
  from: string;
  data?: string;
  /** The profile's settings for every built teacher (the source's own settings win). */
  settings?: Partial<TeacherSettings>;
  quiet?: boolean;
  log: (l: string) => void;
}

/** Build `src` into `dir` unless a build from the same backbone is already there. */
export async function ensureTeacher(
  src: TeacherSource,
  dir: string,
  opts: EnsureTeacherOptions,
): Promise<{ dir: string; valAccuracy: number | null }> {
  if (await exists(join(dir, "config.json"))) {
    const made = (await teacherInfo(dir)).from;
    if (made !== undefined && made !== opts.from) {
      throw new UserError(
        `${dir} was built from ${made}, not ${opts.from}; refusing to mix teachers in one ` +
          `sweep (use another --out folder, or the same --backbone as before)`,
      );
    }
  } else {
    const settings = { ...opts.settings, ...src.build?.settings };
    const shown = Object.entries(settings).map(([k, v]) => `${k}=${v}`).join(" ");
    opts.log(`building teacher ${src.name} from ${opts.from}${shown ? ` (${shown})` : ""}`);
    await buildTeacher({
      ...settings,
      from: opts.from,
      data: opts.data,
      out: dir,
      name: src.name,
      quiet: opts.quiet,
      log: opts.log,
    });
  }
  return { dir, valAccuracy: await recordedValAccuracy(dir) };
}
