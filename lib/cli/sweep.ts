/**
 * `deno task sweep [EXPERIMENT] [--profile full|cpu|smoke] [--data DIR] [--backbone SPEC] [--out DIR]
 * [--shard i/n]`:
 * the main job. Runs (this shard of) a distilled-vs-scratch sweep, then merges the results and
 * writes `results.csv`, `results.md` and `report.html` once every run is finished.
 * @module
 */
import { parseArgs } from "@std/cli";
import { runMain } from "./command.ts";
import { initBackend } from "../backend.ts";
import { defaultExperiment, runSweep } from "../sweep/run.ts";
import { finishSweep } from "../report/finish.ts";

if (import.meta.main) {
  await runMain(async () => {
    const f = parseArgs(Deno.args, {
      string: ["profile", "data", "out", "shard", "backend", "backbone"],
      boolean: ["quiet", "png"],
    });
    const experiment = (f._[0] as string | undefined) ?? defaultExperiment();
    // The backend line is folded into the profile line so the first line says both.
    const backend = await initBackend(f.backend as string | undefined, { quiet: true });
    const onGpu = backend.name === "webgpu" || /gpu|cuda/i.test(backend.device);
    const profile = (f.profile as string | undefined) ??
      (onGpu ? "full" : "cpu");
    const why = f.profile ? "--profile" : `auto: ${onGpu ? "GPU" : "no GPU"} backend`;
    console.error(
      `profile: ${profile} (${why}); backend: ${backend.name} on ${backend.device} (${backend.reason})`,
    );
    const { dir, complete } = await runSweep({
      experiment,
      profile,
      data: f.data as string | undefined,
      backbone: f.backbone as string | undefined,
      out: f.out as string | undefined,
      shard: f.shard as string | undefined,
      quiet: f.quiet as boolean,
    });
    if (complete) {
      await finishSweep(dir, { png: f.png as boolean });
    } else {
      console.error(
        `this shard is done; other shards are still running. When all are finished: ` +
          `deno task report ${dir}`,
      );
    }
  });
}
