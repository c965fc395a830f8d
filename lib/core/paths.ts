/**
 * Guards on paths that come from users or from files: a name that becomes a folder must stay one
 * plain name, a path a file lists must stay inside its folder, and an `--out` a command replaces
 * must neither hold someone's files (without `--force`) nor overlap what the command reads.
 * @module
 */
import { isAbsolute } from "node:path";
import { UserError } from "./errors.ts";
import { canonicalPath, hasEntries, isSameOrInside } from "./fs.ts";

/**
 * `name` when it is a plain name (letters, digits, ".", "_", "-"; no `..`), which can only name
 * a file or folder inside the one it is joined to; else a UserError starting with `what`, then
 * `role` (what such a name may not do).
 */
export function checkName(what: string, name: string, role = "cannot name a folder"): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name) || name.includes("..")) {
    throw new UserError(
      `${what} "${name}" ${role}: use letters, digits, ".", "_" and "-" only`,
    );
  }
  return name;
}

/**
 * `split` when it is a plain name. A split names files inside the data folder
 * (`<split>.parquet`) and, after it, cache files and evaluation records (`<split>_eval.json`):
 * `../x` would read and write outside them, and `./test` would pass for another name than the
 * held-out `test`.
 */
export function checkSplitName(split: string): string {
  return checkName("split", split, "is a name in the data folder, not a path");
}

/**
 * Whether `path`, as listed in a file of some folder (a weights manifest, an index), stays inside
 * that folder: relative, with no `..` part (so neither `/etc/x` nor `../x` nor `a/../../x`).
 */
export function staysInside(path: string): boolean {
  return path !== "" && !isAbsolute(path) && !path.split(/[/\\]/).includes("..");
}

/**
 * Refuse a path that file `file` lists (e.g. a weights file of a `model.json`) unless it
 * {@linkcode staysInside} the folder of `file`: reading it would read whatever it points at.
 */
export function checkListedPath(file: string, what: string, listed: unknown): string {
  if (typeof listed !== "string" || !staysInside(listed)) {
    throw new UserError(
      `${file}: ${what} ${JSON.stringify(listed)} is not a path inside its folder ` +
        "(absolute, or leaves it with ..)",
    );
  }
  return listed;
}

/**
 * Refuse a non-empty `out` without `force`, and an `out` that is a file (before any work);
 * messages name it as `label` (default `--out OUT`).
 */
export async function checkOut(
  out: string,
  force = false,
  label = `--out ${out}`,
): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(out);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return;
    throw e;
  }
  if (!info.isDirectory) throw new UserError(`${label} is a file, not a folder`);
  if (force) return;
  if (await hasEntries(out)) {
    throw new UserError(`${label} is not empty`, {
      // Library callers include commands without --force: only those with it are told to pass it.
      hint: {
        flag: "force",
        text: "pass --force to replace it",
        otherwise: "empty it or choose another folder",
      },
    });
  }
}

/**
 * How `out` overlaps folder `dir` ("is", "is inside", "contains"), comparing real paths (links
 * and `..` resolved), or null when they are apart. Replacing `out` would destroy `dir` (or
 * its files) whenever they overlap.
 */
export async function overlap(
  out: string,
  dir: string,
): Promise<"is" | "is inside" | "contains" | null> {
  const o = await canonicalPath(out);
  const d = await canonicalPath(dir);
  if (o === d) return "is";
  if (isSameOrInside(o, d)) return "is inside";
  if (isSameOrInside(d, o)) return "contains";
  return null;
}
