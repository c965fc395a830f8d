/**
 * Which model the demo shows: a tfjs export folder as is, anything else `deno task export`
 * accepts (a run directory, a registry spec) exported to a temporary tfjs folder first, and,
 * with nothing given, the most recently trained run under `runs/`.
 * @module
 */
import { join } from "node:path";
import { UserError } from "../core/errors.ts";
import { exists } from "../core/fs.ts";
import { exportModel } from "./export.ts";

/** A tfjs folder ready to serve. */
export interface DemoModel {
  dir: string;
  /** What it was made from. */
  source: string;
  /** True when `dir` is a temporary export (removed by `cleanup`). */
  temporary: boolean;
  cleanup(): Promise<void>;
}

/** The most recently finished run (by `best/config.json` time) under `root`, or null. */
export async function newestRun(root = "runs", depth = 5): Promise<string | null> {
  let best: { dir: string; t: number } | null = null;
  const walk = async (dir: string, left: number) => {
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(dir));
    } catch {
      return;
    }
    if (entries.some((e) => e.isDirectory && e.name === "best")) {
      try {
        const t = (await Deno.stat(join(dir, "best", "config.json"))).mtime?.getTime() ?? 0;
        if (!best || t > best.t) best = { dir, t };
      } catch { /* no saved model */ }
    }
    if (left <= 0) return;
    for (const e of entries) {
      if (
        e.isDirectory && !e.name.startsWith(".") && e.name !== "best" && e.name !== "checkpoint"
      ) {
        await walk(join(dir, e.name), left - 1);
      }
    }
  };
  await walk(root, depth);
  return (best as { dir: string } | null)?.dir ?? null;
}

/** Resolve the demo's `--model` (see the module doc). */
export async function prepareDemoModel(
  model: string | undefined,
  opts: { quiet?: boolean } = {},
): Promise<DemoModel> {
  if (model && await exists(join(model, "model.json"))) {
    return { dir: model, source: model, temporary: false, cleanup: async () => {} };
  }
  const spec = model ?? await newestRun();
  if (!spec) {
    throw new UserError(
      "no --model given and no trained run under runs/; pass a tfjs export folder, a run " +
        "directory or a model spec",
    );
  }
  if (!model && !opts.quiet) console.error(`demo: showing the newest run, ${spec}`);
  const tmp = await Deno.makeTempDir({ prefix: "kd-demo-" });
  const dir = join(tmp, "tfjs");
  const cleanup = () => Deno.remove(tmp, { recursive: true }).catch(() => {});
  try {
    await exportModel({ model: spec, format: "tfjs", out: dir, quiet: opts.quiet });
  } catch (e) {
    await cleanup();
    throw e;
  }
  return { dir, source: spec, temporary: true, cleanup };
}
