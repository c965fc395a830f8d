/**
 * Scratch runs shared between recipe arms. Arms that change only the distillation term (`dkd`,
 * `dist` beside `today`) give their scratch baselines the very same training config, and training
 * is deterministic for a config and seed (the resume tests hold it to the bit), so the second one
 * is a copy of the first instead of a second identical training. Each arm keeps its own run
 * folder, so pairing and the report are unchanged; the copy says where it came from in
 * `reused_from.json`.
 * @module
 */
import { cp } from "node:fs/promises";
import { join } from "node:path";
import { exists, writeJsonAtomic } from "../core/fs.ts";
import type { RunEntry } from "./types.ts";

/** The file a copied run records its source in. */
export const REUSED_FROM_FILE = "reused_from.json";

/** Canonical JSON (keys sorted at every level), so equal configs give equal strings. */
function canonical(value: unknown): string {
  return JSON.stringify(
    value,
    (_k, v) =>
      v && typeof v === "object" && !Array.isArray(v)
        ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
        : v,
  );
}

/**
 * A scratch run of `candidates` other than `run` with exactly `run`'s training config (seed
 * included) that `isFinished` says is done; undefined for distilled runs or when there is none.
 */
export async function finishedTwin(
  run: RunEntry,
  candidates: RunEntry[],
  isFinished: (r: RunEntry) => Promise<boolean>,
): Promise<RunEntry | undefined> {
  if (run.kind !== "scratch") return undefined;
  const key = canonical(run.config);
  for (const c of candidates) {
    if (c.id === run.id || c.kind !== "scratch" || canonical(c.config) !== key) continue;
    if (await isFinished(c)) return c;
  }
  return undefined;
}

/**
 * Copy the finished run folder `src` (of run `from`) to `out`, which must not exist yet: the copy
 * is assembled beside the sweep's folders and renamed into place, so `out` either does not exist
 * or is complete. `work` is a folder on the same file system (the sweep directory).
 */
export async function copyFinishedRun(
  src: string,
  out: string,
  from: string,
  work: string,
): Promise<void> {
  if (await exists(out)) throw new Error(`${out} exists; a run is only copied into a new folder`);
  const tmp = await Deno.makeTempDir({ dir: work, prefix: ".copy-" });
  try {
    const staged = join(tmp, "run");
    await cp(src, staged, { recursive: true });
    await writeJsonAtomic(join(staged, REUSED_FROM_FILE), {
      run: from,
      reason: "same training config and seed as that run; training is deterministic",
    });
    await Deno.rename(staged, out);
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}
