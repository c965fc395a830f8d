/**
 * Copies of fetched files into a plain folder (`deno task fetch --out DIR`), for a machine
 * without network. The folder may already hold earlier fetches (one split, then another), so it
 * need not be empty; but a file there is the user's until shown otherwise: one with the same
 * bytes is left as it is, a different one is replaced only with `force`, and every name is
 * checked before anything is written.
 * @module
 */
import { dirname, join } from "node:path";
import { UserError } from "../core/errors.ts";
import { sha256File } from "../core/hash.ts";

/** Copy each `[source, name]` to `out/name`; returns the destinations. */
export async function copyFilesTo(
  files: [string, string][],
  out: string,
  force = false,
): Promise<string[]> {
  const todo: [string, string][] = [];
  for (const [src, name] of files) {
    const dest = join(out, name);
    let there: Deno.FileInfo | null = null;
    try {
      there = await Deno.stat(dest);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    if (there) {
      if (!there.isFile) throw new UserError(`--out ${out}: ${name} exists and is not a file`);
      const same = there.size === (await Deno.stat(src)).size &&
        await sha256File(dest) === await sha256File(src);
      if (same) continue;
      if (!force) {
        throw new UserError(
          `--out ${out}: ${name} exists with other contents; pass --force to replace it`,
        );
      }
    }
    todo.push([src, dest]);
  }
  for (const [src, dest] of todo) {
    await Deno.mkdir(dirname(dest), { recursive: true });
    const tmp = `${dest}.${crypto.randomUUID().slice(0, 8)}.tmp`;
    await Deno.copyFile(src, tmp);
    await Deno.rename(tmp, dest);
  }
  return files.map(([, name]) => join(out, name));
}
