/**
 * `deno task fetch beans|SPEC [--split NAME]... [--out DIR]`: put beans (`AI-Lab-Makerere/beans`)
 * or a hub model (`hf:ORG/NAME[@REV]`) into the Hugging Face cache, the one Python uses too
 * (`HF_HUB_CACHE`/`HF_HOME`; `HF_ENDPOINT` for a mirror, `HF_TOKEN` for private repos).
 * `--out DIR` also copies the files there, for a machine without network: beans as
 * `DIR/<split>.parquet` (use `--data DIR`), a model as a checkpoint folder (use `hf-dir:DIR`).
 * @module
 */
import { basename, join } from "node:path";
import { UserError } from "../core/errors.ts";
import { runCommand } from "./command.ts";
import { copyFilesTo } from "../net/copy_files.ts";
import { BEANS_REPO, BEANS_SPLITS, beansRef, beansSplitFiles } from "../net/beans.ts";
import { resolvedRepos } from "../net/hub.ts";
import { parseSpec } from "../models/registry.ts";
import { fetchHFModel } from "../models/hub.ts";

const USAGE =
  `usage: deno task fetch beans|hf:ORG/NAME[@REV] [--split NAME]... [--out DIR [--force]]
                        [--quiet] [--json]

Downloads into the Hugging Face cache (what is there already is not downloaded again):
  beans               ${BEANS_REPO}, splits train, validation, test (or --split ...)
  hf:ORG/NAME[@REV]   a model's config, preprocessor config and weights
  --out DIR           also copy the files to DIR (beans: DIR/<split>.parquet, use --data DIR;
                      a model: a checkpoint folder, use hf-dir:DIR)
  --force             replace files in --out whose contents differ (same ones are kept)
  --quiet             no download progress`;

const FETCH_HINT = "fetch downloads: unset HF_HUB_OFFLINE, and check HF_ENDPOINT";

/** What was fetched. */
interface Fetched {
  repo: string;
  commit: string | null;
  files: string[];
}

if (import.meta.main) {
  await runCommand<Fetched>({
    usage: USAGE,
    string: ["split", "out"],
    collect: ["split"],
    boolean: ["quiet", "force"],
    positionals: [1, 1],
    json: true,
    async run(f) {
      const target = String(f._[0]);
      const quiet = Boolean(f.quiet);
      const out = f.out as string | undefined;
      if (target === "beans") {
        const splits = (f.split as string[] | undefined)?.length
          ? f.split as string[]
          : [...BEANS_SPLITS];
        const files: [string, string][] = [];
        for (const split of splits) {
          const shards = await beansSplitFiles(split, { quiet, hint: FETCH_HINT });
          shards.forEach((p) =>
            files.push([p, shards.length === 1 ? `${split}.parquet` : join("data", basename(p))])
          );
        }
        const commit = resolvedRepos().find((r) => r.repo === beansRef().repo)?.commit ?? null;
        return {
          repo: `datasets/${BEANS_REPO}`,
          commit,
          files: out ? await copyFilesTo(files, out, Boolean(f.force)) : files.map((x) => x[0]),
        };
      }
      if ((f.split as string[] | undefined)?.length) {
        throw new UserError("--split applies to beans only");
      }
      // Checked before parseSpec, whose error lists every model spec form (dir:, hf-dir:, …).
      const p = target.startsWith("hf:") ? parseSpec(target) : undefined;
      if (p?.kind !== "hf") {
        throw new UserError(
          `unknown fetch target "${target}"; expected beans or hf:ORG/NAME[@REV]`,
        );
      }
      const model = await fetchHFModel(p.target, { quiet, hint: FETCH_HINT });
      // Only what was fetched and verified: anything else in the snapshot folder is not ours.
      const files = [...model.files].sort().map((n) => [join(model.dir, n), n] as [string, string]);
      return {
        repo: p.target,
        commit: model.commit,
        files: out ? await copyFilesTo(files, out, Boolean(f.force)) : files.map((x) => x[0]),
      };
    },
    print(r) {
      for (const file of r.files) console.log(file);
      if (r.commit) console.error(`${r.repo} at commit ${r.commit}`);
    },
  });
}
