/**
 * Image folders: `DIR/<split>/<class>/*.{jpg,jpeg,png}`, classes sorted by name (as
 * torchvision's ImageFolder and HF's imagefolder loader do).
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

/** True when `dir/<split>` exists and has at least one class subfolder. */
export function hasFolderSplit(dir: string, split: string): boolean {
  try {
    return sortedDirEntries(`${dir}/${split}`).some((e) => e.isDirectory);
  } catch {
    return false;
  }
}

/** Index `dir/<split>/<class>/*` (ids are `<split>/<class>/<file>`, like beans' image_file_path). */
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
    for (const e of sortedDirEntries(`${root}/${cls}`)) {
      if (!e.isFile || !IMAGE_EXT.test(e.name)) continue;
      files.push(`${root}/${cls}/${e.name}`);
      ids.push(`${split}/${cls}/${e.name}`);
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
