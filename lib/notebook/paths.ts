/**
 * Where notebooks find things, independent of the kernel's working directory: the repository,
 * the dataset (env `KD_DATA`, else beans from the Hugging Face cache), the profile (env
 * `KD_NOTEBOOK_PROFILE`), scratch output under `runs/notebooks/`, and sweep directories.
 * @module
 */
import { join } from "node:path";
import { UserError } from "../core/errors.ts";
import { projectRoot } from "../core/project.ts";
import { PRESETS } from "../presets.ts";
import { DEFAULT_DATA } from "../data/resolve.ts";

/** Absolute path of the repository root (a user cache folder when imported from a URL). */
export const REPO_ROOT: string = projectRoot();

/**
 * Dataset folder for notebooks: env `KD_DATA`, else undefined (beans from the Hugging Face cache).
 *
 * @example The data folder the notebooks use (env KD_DATA; undefined: beans from the hub)
 * ```ts
 * import { notebookDataDir } from "@kd/vision/notebook";
 *
 * console.log(notebookDataDir());
 * ```
 */
export function notebookDataDir(): string | undefined {
  return Deno.env.get("KD_DATA") || undefined;
}

/**
 * How to name the notebooks' dataset in a table: the folder, or where the default comes from.
 *
 * @example What the notebooks say about their data
 * ```ts
 * import { notebookDataLabel } from "@kd/vision/notebook";
 *
 * console.log(notebookDataLabel());
 * ```
 */
export function notebookDataLabel(): string {
  return notebookDataDir() ?? `${DEFAULT_DATA} (Hugging Face cache)`;
}

/**
 * Training preset for notebooks: env `KD_NOTEBOOK_PROFILE` (CI: `smoke`), else `cpu-fast`.
 *
 * @example The notebooks' preset (env KD_NOTEBOOK_PROFILE, default cpu-fast)
 * ```ts
 * import { notebookProfile } from "@kd/vision/notebook";
 *
 * Deno.env.set("KD_NOTEBOOK_PROFILE", "smoke");
 * console.log(notebookProfile()); // smoke
 * ```
 */
export function notebookProfile(): string {
  const p = Deno.env.get("KD_NOTEBOOK_PROFILE") || "cpu-fast";
  if (!PRESETS[p]) {
    throw new UserError(
      `KD_NOTEBOOK_PROFILE="${p}" is not a preset; available: ${Object.keys(PRESETS).join(", ")}`,
    );
  }
  return p;
}

/**
 * Scratch folder for notebook outputs (`runs/notebooks/<name>`, env `KD_NOTEBOOK_OUT` wins).
 *
 * @example Where a notebook writes its runs
 * ```ts
 * import { notebookOutDir } from "@kd/vision/notebook";
 *
 * console.log(notebookOutDir("02-distill-one-run"));
 * ```
 */
export function notebookOutDir(name: string): string {
  return join(Deno.env.get("KD_NOTEBOOK_OUT") || join(REPO_ROOT, "runs", "notebooks"), name);
}

/**
 * The most recently modified sweep directory (with a `results.json`) under `root`, or null.
 *
 * @example The newest sweep folder under a root, or null
 * ```ts
 * import { latestSweepDir } from "@kd/vision/notebook";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(latestSweepDir(await Deno.makeTempDir()), null);
 * ```
 */
export function latestSweepDir(root: string = join(REPO_ROOT, "runs", "sweeps")): string | null {
  let best: { dir: string; mtime: number } | null = null;
  try {
    for (const e of Deno.readDirSync(root)) {
      if (!e.isDirectory) continue;
      const dir = join(root, e.name);
      try {
        const mtime = Deno.statSync(join(dir, "results.json")).mtime?.getTime() ?? 0;
        if (!best || mtime > best.mtime) best = { dir, mtime };
      } catch {
        // not a merged sweep
      }
    }
  } catch {
    return null;
  }
  return best?.dir ?? null;
}
