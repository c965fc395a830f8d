/**
 * `deno task data info [--data DIR] [--split S]... [--labels a,b,c] [--json]`: rows and per-class
 * counts per split, without decoding images.
 * `deno task data prepare [--data DIR] [--split S]... [--image-size N] [--skip-bad-images]`:
 * decode, resize and cache the images now, so training starts without a decode pass.
 * @module
 */
import { type CommandSpec, runSubcommands } from "./command.ts";
import { intFlag } from "./flags.ts";
import { UserError } from "../core/errors.ts";
import { datasetInfo, type SplitInfo } from "../data/info.ts";
import { loadSplit } from "../data/dataset.ts";
import { MAX_IMAGE_SIZE } from "../data/preprocess.ts";
import { parseLabelList } from "../data/source.ts";
import { availableSplits, dataDir } from "../data/resolve.ts";

const USAGE = `usage: deno task data info [--data DIR] [--split NAME]... [--labels a,b,c] [--json]
       deno task data prepare [--data DIR] [--split NAME]... [--image-size N] [--labels a,b,c]
         [--skip-bad-images] [--quiet] [--json]`;

const common = (f: Record<string, unknown>) => ({
  data: f.data as string | undefined,
  labels: parseLabelList(f.labels as string | undefined),
  splits: (f.split as string[] | undefined)?.length ? (f.split as string[]) : undefined,
});

const info: CommandSpec<{ data: string; splits: Record<string, SplitInfo> }> = {
  usage: USAGE,
  string: ["data", "split", "labels"],
  collect: ["split"],
  boolean: ["quiet"],
  json: true,
  async run(f) {
    const { data, labels, splits } = common(f);
    const r = await datasetInfo({ data, splits, labels, quiet: f.quiet as boolean });
    return { data: r.dir, splits: r.splits };
  },
  print(r) {
    for (const [name, s] of Object.entries(r.splits)) {
      const parts = Object.entries(s.classes).map(([c, n]) => `${c} ${n}`).join(", ");
      console.log(`${name.padEnd(10)} ${String(s.rows).padStart(6)} rows  (${parts})  ${s.source}`);
    }
  },
};

interface Prepared {
  split: string;
  images: number;
  image_size: number;
  from_cache: boolean;
  skipped: number;
  seconds: number;
}

const prepare: CommandSpec<Prepared[]> = {
  usage: USAGE,
  string: ["data", "split", "labels", "image-size"],
  collect: ["split"],
  boolean: ["quiet", "skip-bad-images"],
  json: true,
  async run(f) {
    const { data, labels, splits } = common(f);
    const size = intFlag("image-size", f["image-size"]);
    if (size !== undefined && (size < 1 || size > MAX_IMAGE_SIZE)) {
      throw new UserError(`--image-size must be an integer in [1, ${MAX_IMAGE_SIZE}], got ${size}`);
    }
    const todo = splits ?? availableSplits(dataDir(data).dir);
    const out: Prepared[] = [];
    for (const split of todo.length ? todo : ["train", "validation"]) {
      const t0 = performance.now();
      const s = await loadSplit({
        data,
        split,
        labels,
        preprocess: size ? { size } : undefined,
        skipBadImages: f["skip-bad-images"] as boolean,
        requireCache: true,
        quiet: f.quiet as boolean,
      });
      out.push({
        split,
        images: s.n,
        image_size: s.size,
        from_cache: s.fromCache,
        skipped: s.skipped,
        seconds: (performance.now() - t0) / 1000,
      });
    }
    return out;
  },
  print(rows) {
    for (const r of rows) {
      console.log(
        `${r.split}: ${r.images} images ${r.image_size}px ${
          r.from_cache ? "already cached" : "decoded and cached"
        } in ${r.seconds.toFixed(1)}s${r.skipped ? ` (${r.skipped} skipped)` : ""}`,
      );
    }
  },
};

if (import.meta.main) {
  await runSubcommands(USAGE, {
    info: () => info as CommandSpec<unknown>,
    prepare: () => prepare as CommandSpec<unknown>,
  });
}
