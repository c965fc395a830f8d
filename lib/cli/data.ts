/**
 * `deno task data info [--data DIR] [--json] [--split S]... [--labels a,b,c]`: rows and per-class
 * counts per split, without decoding images.
 * `deno task data prepare [--data DIR] [--split S]... [--size N] [--skip-bad-images]`: decode,
 * resize and cache the images now, so training starts without a decode pass.
 * @module
 */
import { parseArgs } from "@std/cli";
import { UserError } from "../core/errors.ts";
import { runMain } from "./command.ts";
import { datasetInfo } from "../data/info.ts";
import { loadSplit } from "../data/dataset.ts";
import { parseLabelList } from "../data/source.ts";
import { availableSplits, dataDir } from "../data/resolve.ts";

const USAGE = `usage: deno task data info [--data DIR] [--json] [--split NAME]... [--labels a,b,c]
       deno task data prepare [--data DIR] [--split NAME]... [--size N] [--skip-bad-images]`;

function parse(args: string[]) {
  try {
    return parseArgs(args, {
      string: ["data", "split", "labels", "size", "cache-dir"],
      boolean: ["json", "skip-bad-images", "quiet", "help"],
      collect: ["split"],
      alias: { h: "help" },
    });
  } catch (e) {
    throw new UserError(`${(e as Error).message}\n${USAGE}`);
  }
}

async function main() {
  const [cmd, ...rest] = Deno.args;
  const a = parse(rest);
  if (!cmd || a.help || cmd === "help" || cmd === "--help" || cmd === "-h") {
    console.log(USAGE);
    return;
  }
  const data = a.data as string | undefined;
  const labels = parseLabelList(a.labels as string | undefined);
  const splits = (a.split as string[] | undefined)?.length ? (a.split as string[]) : undefined;
  if (cmd === "info") {
    const info = await datasetInfo({ data, splits, labels, quiet: !!a.quiet });
    if (a.json) {
      const splitsOut = Object.fromEntries(
        Object.entries(info.splits).map(([k, v]) => [k, { rows: v.rows, classes: v.classes }]),
      );
      console.log(JSON.stringify({ data: info.dir, splits: splitsOut }));
      return;
    }
    for (const [name, s] of Object.entries(info.splits)) {
      const parts = Object.entries(s.classes).map(([c, n]) => `${c} ${n}`).join(", ");
      console.log(`${name.padEnd(10)} ${String(s.rows).padStart(6)} rows  (${parts})  ${s.source}`);
    }
    return;
  }
  if (cmd === "prepare") {
    const size = a.size === undefined ? undefined : Number(a.size);
    if (size !== undefined && !(Number.isInteger(size) && size > 0)) {
      throw new UserError(`--size: expected a positive integer, got "${a.size}"`);
    }
    const todo = splits ?? availableSplits(dataDir(data).dir);
    for (const split of todo.length ? todo : ["train", "validation"]) {
      const t0 = performance.now();
      const s = await loadSplit({
        data,
        split,
        labels,
        preprocess: size ? { size } : undefined,
        skipBadImages: !!a["skip-bad-images"],
        cacheDir: a["cache-dir"] as string | undefined,
        quiet: !!a.quiet,
      });
      const secs = (performance.now() - t0) / 1000;
      console.log(
        `${split}: ${s.n} images ${s.size}px ${
          s.fromCache ? "already cached" : "decoded and cached"
        }` +
          ` in ${secs.toFixed(1)}s${s.skipped ? ` (${s.skipped} skipped)` : ""}`,
      );
    }
    return;
  }
  throw new UserError(`unknown data command "${cmd}"\n${USAGE}`);
}

if (import.meta.main) await runMain(main);
