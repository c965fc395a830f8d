/**
 * Teachers built on demand for a sweep (`buildTeacher`, in this process), once per sweep
 * directory: a finished build (its `config.json`, written atomically) is reused, so a killed
 * sweep leaves nothing half-built and concurrent shards at worst build the same teacher twice.
 * @module
 */
import { join } from "node:path";
import { UserError } from "../core/errors.ts";
import { exists, hasEntries, isJsonObject, readJson } from "../core/fs.ts";
import { buildTeacher, TEACHER_DEFAULTS, type TeacherSettings } from "../teacher/build.ts";
import type { TeacherSource } from "./define.ts";

/** What the teacher builder recorded in a saved teacher's `info`. */
interface TeacherInfo {
  from?: string;
  val_accuracy?: number;
  features_from?: string | null;
  train_fraction?: number;
  max_images?: number;
  seed?: number;
  finetune?: { blocks: number | "all"; epochs: number; lr: number; augment: string | null } | null;
}

/** What a saved teacher's `config.json` says about how it was built. */
export interface SavedTeacher {
  /** The input it runs at (the toolkit's saved `InputSpec`). */
  input?: { size?: number };
  /** What the teacher builder recorded. */
  info?: TeacherInfo;
}

/** The saved teacher in `dir` (its `config.json`). */
export async function readSavedTeacher(dir: string): Promise<SavedTeacher> {
  const path = join(dir, "config.json");
  const saved = await readJson<unknown>(path);
  if (!isJsonObject(saved)) {
    throw new UserError(`${path}: not a saved teacher's config (not a JSON object)`);
  }
  return saved as SavedTeacher;
}

function valAccuracyOf(saved: SavedTeacher): number | null {
  const v = saved.info?.val_accuracy;
  return typeof v === "number" ? v : null;
}

/**
 * The first setting `saved` was built with that differs from `requested`, as
 * `name=saved, not requested`, or null when all that the build recorded agrees. A folder is
 * reused by name only, so without this check an experiment whose teacher settings changed
 * would silently keep distilling from the old teacher.
 */
export function settingsMismatch(
  saved: SavedTeacher,
  requested: Partial<TeacherSettings>,
): string | null {
  const info = saved.info ?? {};
  const s: TeacherSettings = { ...TEACHER_DEFAULTS, ...requested };
  const ft = s.finetuneBlocks === 0 ? null : {
    blocks: s.finetuneBlocks,
    epochs: s.finetuneEpochs,
    lr: s.finetuneLr,
    augment: s.finetuneBlocks === "all" ? s.augment ?? null : null,
  };
  const pairs: [string, unknown, unknown][] = [
    ["featuresFrom", info.features_from ?? null, s.featuresFrom ?? null],
    ["trainFraction", info.train_fraction, s.trainFraction],
    ["maxImages", info.max_images, s.maxImages],
    ["seed", info.seed, s.seed],
    ["finetuneBlocks", info.finetune?.blocks ?? 0, ft?.blocks ?? 0],
    ["finetuneEpochs", info.finetune?.epochs, ft?.epochs],
    ["finetuneLr", info.finetune?.lr, ft?.lr],
    ["augment", info.finetune?.augment ?? null, ft?.augment ?? null],
    // Only a requested size can be checked: the backbone's own is not known here.
    ["imageSize", saved.input?.size, s.imageSize ?? saved.input?.size],
  ];
  for (const [name, was, want] of pairs) {
    // Settings an older build did not record cannot be checked.
    if (was === undefined) continue;
    if (JSON.stringify(was) !== JSON.stringify(want)) {
      return `${name}=${JSON.stringify(was)}, not ${JSON.stringify(want)}`;
    }
  }
  return null;
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
  const settings = { ...opts.settings, ...src.build?.settings };
  if (await exists(join(dir, "config.json"))) {
    const saved = await readSavedTeacher(dir);
    const made = saved.info?.from;
    if (made !== undefined && made !== opts.from) {
      throw new UserError(
        `${dir} was built from ${made}, not ${opts.from}; refusing to mix teachers in one ` +
          `sweep (use another --out folder, or the same --backbone as before)`,
      );
    }
    const differs = settingsMismatch(saved, settings);
    if (differs) {
      throw new UserError(
        `${dir} was built with ${differs} as teacher ${src.name} now asks; refusing to reuse ` +
          `it (delete that folder to rebuild it, or use another --out folder)`,
      );
    }
    return { dir, valAccuracy: valAccuracyOf(saved) };
  }
  // Said here, in the sweep's words: buildTeacher would name the folder as its --out.
  if (await hasEntries(dir)) {
    throw new UserError(
      `${dir} holds files but no built teacher (no config.json); delete or empty it to build ` +
        `teacher ${src.name} there, or use another --out folder`,
    );
  }
  const shown = Object.entries(settings).map(([k, v]) => `${k}=${v}`).join(" ");
  opts.log(`building teacher ${src.name} from ${opts.from}${shown ? ` (${shown})` : ""}`);
  const built = await buildTeacher({
    ...settings,
    from: opts.from,
    data: opts.data,
    out: dir,
    name: src.name,
    quiet: opts.quiet,
    log: opts.log,
  });
  return { dir, valAccuracy: built.val_accuracy };
}
