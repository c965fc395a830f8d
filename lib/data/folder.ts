/**
 * Image folders: `DIR/<split>/<class>/[...]/<image>.{jpg,jpeg,png}`, classes sorted by name (as
 * torchvision's ImageFolder and HF's imagefolder loader do). Images in nested folders
 * (`healthy/batch2/x.jpg`) belong to the top-level class folder, as in both of those loaders;
 * hidden entries (`.ipynb_checkpoints/`, `.DS_Store`) are skipped, as HF's loader does.
 * @module
 */
import { UserError } from "../core/errors.ts";
import type { SplitSource } from "./source.ts";

const IMAGE_EXT = /\.(jpe?g|png)$/i;

/** Entries of `dir` sorted by name, with symlinks resolved to what they point at. */
function sortedDirEntries(dir: string): Deno.DirEntry[] {
  const entries = [...Deno.readDirSync(dir)].map((e) => {
    if (!e.isSymlink) return e;
    try {
      const st = Deno.statSync(`${dir}/${e.name}`);
      return { ...e, isFile: st.isFile, isDirectory: st.isDirectory };
    } catch {
      return e;
    }
  });
  return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * Image paths under `root/rel`, relative to `root`, depth first in name order (deterministic, so
 * row order and ids do not depend on the file system). A folder reached twice (a symlink loop)
 * is read once.
 */
function imagesUnder(root: string, rel: string, seen = new Set<string>()): string[] {
  const dir = `${root}/${rel}`;
  let real: string;
  try {
    real = Deno.realPathSync(dir);
  } catch (e) {
    throw new UserError(`cannot read image folder ${dir}: ${(e as Error).message}`);
  }
  if (seen.has(real)) return [];
  seen.add(real);
  const out: string[] = [];
  for (const e of sortedDirEntries(dir)) {
    if (e.name.startsWith(".")) continue;
    if (e.isDirectory) out.push(...imagesUnder(root, `${rel}/${e.name}`, seen));
    else if (e.isFile && IMAGE_EXT.test(e.name)) out.push(`${rel}/${e.name}`);
  }
  return out;
}

/** True when `dir/<split>` exists and has at least one class subfolder. */
export function hasFolderSplit(dir: string, split: string): boolean {
  try {
    return sortedDirEntries(`${dir}/${split}`).some((e) => e.isDirectory);
  } catch {
    return false;
  }
}

/**
 * Index `dir/<split>/<class>/` and its subfolders (ids are `<split>/<class>/[<sub>/]<file>`, like beans'
 * image_file_path).
 */
export function openFolderSplit(
  dir: string,
  split: string,
  opts: { labels?: string[] } = {},
): SplitSource {
  const root = `${dir}/${split}`;
  let classDirs: string[];
  try {
    classDirs = sortedDirEntries(root).filter((e) => e.isDirectory).map((e) => e.name);
  } catch (e) {
    throw new UserError(`cannot read image folder ${root}: ${(e as Error).message}`);
  }
  const classNames = opts.labels ?? classDirs;
  const files: string[] = [];
  const ids: string[] = [];
  const labels: number[] = [];
  for (const cls of classDirs) {
    const label = classNames.indexOf(cls);
    if (label < 0) {
      throw new UserError(
        `${root}/${cls}: class folder "${cls}" is not in the class list [${classNames.join(", ")}]`,
      );
    }
    for (const rel of imagesUnder(root, cls)) {
      files.push(`${root}/${rel}`);
      ids.push(`${split}/${rel}`);
      labels.push(label);
    }
  }
  if (files.length === 0) {
    throw new UserError(`${root}: no images found (expected ${root}/<class>/*.jpg|jpeg|png)`);
  }
  return {
    name: split,
    source: root,
    files,
    classNames,
    ids,
    labels: Int32Array.from(labels),
    images: () => Promise.all(files.map((f) => Deno.readFile(f))),
  };
}
