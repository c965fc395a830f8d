/**
 * Crash-safe file writes: write beside the target, then rename, so readers never see a
 * half-written checkpoint, cache or results file.
 * @module
 */
import { basename, dirname, join, resolve, sep } from "node:path";
import { UserError } from "./errors.ts";

/** Write `data` to `path` atomically (temp file in the same folder + rename). */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  await Deno.mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  try {
    if (typeof data === "string") await Deno.writeTextFile(tmp, data);
    else await Deno.writeFile(tmp, data);
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
}

/** Write `value` as pretty JSON to `path` atomically. */
export function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  return writeFileAtomic(path, JSON.stringify(value, null, 2) + "\n");
}

/**
 * A new, uniquely named folder in `dir` to build something in before it is renamed into place,
 * made with the mode a plain `mkdir` gives (0777 less the umask). `Deno.makeTempDir` makes 0700
 * folders, and after the rename the model a user exported or a run's `best/` would be readable by
 * its owner only.
 */
export async function makeStagingDir(dir: string, prefix: string, suffix = ""): Promise<string> {
  for (;;) {
    const path = join(dir, `${prefix}${crypto.randomUUID().slice(0, 8)}${suffix}`);
    try {
      await Deno.mkdir(path);
      return path;
    } catch (e) {
      if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
    }
  }
}

/**
 * Replace directory `dest` by `src` (built elsewhere in the same folder) with at most a brief
 * window. The previous `dest` is moved into a uniquely named hidden folder beside it
 * (`.NAME.old-XXXX`) before it is deleted: a fixed name such as `NAME.old` could be a folder of
 * the user's, and deleting it to make room would lose their files.
 */
export async function replaceDir(src: string, dest: string): Promise<void> {
  if (!(await exists(dest))) {
    await Deno.rename(src, dest);
    return;
  }
  const aside = await Deno.makeTempDir({
    dir: dirname(resolve(dest)),
    prefix: oldPrefix(basename(resolve(dest))),
  });
  const moved = join(aside, basename(resolve(dest)));
  await Deno.rename(dest, moved);
  try {
    await Deno.rename(src, dest);
  } catch (e) {
    try {
      await Deno.rename(moved, dest);
      await Deno.remove(aside, { recursive: true });
    } catch { /* the previous version stays in `aside`, where a crash would also leave it */ }
    throw e;
  }
  await Deno.remove(aside, { recursive: true });
}

/**
 * Prefix of the hidden folder {@linkcode replaceDir} keeps a replaced `name` in until the swap is
 * done; after a crash in that window the previous version is at `.NAME.old-XXXX/NAME`.
 */
export function oldPrefix(name: string): string {
  return `.${name}.old-`;
}

/**
 * The absolute path of `path` with symbolic links of its existing part resolved, so two spellings
 * of one folder (`runs/a`, `./runs/../runs/a`, a link) compare equal; the part that does not
 * exist yet is appended as written.
 */
export async function canonicalPath(path: string): Promise<string> {
  const abs = resolve(path);
  let head = abs;
  const rest: string[] = [];
  for (;;) {
    try {
      return join(await Deno.realPath(head), ...rest.reverse());
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
      const up = dirname(head);
      if (up === head) return abs;
      rest.push(basename(head));
      head = up;
    }
  }
}

/** Whether canonical path `inner` is `outer` or lies inside it. */
export function isSameOrInside(inner: string, outer: string): boolean {
  return inner === outer || inner.startsWith(outer.endsWith(sep) ? outer : outer + sep);
}

/** Whether `path` exists. */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** Whether folder `dir` holds anything; false when it does not exist. */
export async function hasEntries(dir: string): Promise<boolean> {
  try {
    for await (const _ of Deno.readDir(dir)) return true;
    return false;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** Whether a parsed JSON value is an object (not null, not an array): a record to read keys of. */
export function isJsonObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Read and parse a JSON file; a file that is not JSON is a UserError naming it (the files read
 * this way are records a user can edit or damage, not the toolkit's own state in memory).
 */
export async function readJson<T>(path: string): Promise<T> {
  const text = await Deno.readTextFile(path);
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new UserError(`${path}: not valid JSON (${(e as Error).message})`);
  }
}
