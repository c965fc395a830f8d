/**
 * Where the toolkit keeps what it makes by default (image and logit caches, built teachers,
 * sweeps): inside the checkout it runs from. Imported from elsewhere (`jsr:`, `https:`), the
 * modules' URLs name no folder — `new URL("../../data", import.meta.url).pathname` would be
 * `/data`, at the file-system root — so the defaults move to a user cache folder instead.
 * @module
 */
import { homedir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root as a URL (two levels above this file). */
const ROOT = new URL("../../", import.meta.url);

/**
 * The folder default outputs live under: the checkout when the toolkit runs from files, else
 * `$XDG_CACHE_HOME/kd-vision` (`~/.cache/kd-vision`). `root` is for tests.
 */
export function projectRoot(root: URL = ROOT): string {
  // fileURLToPath, not .pathname: a checkout under "My Projects" is not "My%20Projects".
  if (root.protocol === "file:") return fileURLToPath(root).replace(/\/$/, "");
  const cache = Deno.env.get("XDG_CACHE_HOME") ||
    join(Deno.env.get("HOME") || homedir(), ".cache");
  return join(cache, "kd-vision");
}

/** `rel` (e.g. `data/cache`) under {@linkcode projectRoot}. */
export function projectPath(rel: string, root: URL = ROOT): string {
  return join(projectRoot(root), rel);
}

/** The default cache folder for decoded images and teacher logits: env `KD_CACHE_DIR`, else `data/cache`. */
export function defaultCacheDir(): string {
  return Deno.env.get("KD_CACHE_DIR") || projectPath("data/cache");
}
