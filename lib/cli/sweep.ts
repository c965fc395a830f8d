/**
 * `deno task sweep [EXPERIMENT] [--profile NAME] [--data DIR] [--backbone SPEC] [--out DIR]
 * [--shard i/n]`: the main job. Runs a distilled-vs-scratch sweep (screen, confirm, test), then
 * merges the results and writes `results.csv`, `results.md` and `report.html`.
 * @module
 */
import { type CommandSpec, runCommand } from "./command.ts";
import { intFlag } from "./flags.ts";
import { initBackend } from "../backend.ts";
import { defaultExperiment, runSweep } from "../sweep/run.ts";
import { finishSweep } from "../report/finish.ts";
import type { SweepResults } from "../sweep/types.ts";

const USAGE = `usage: deno task sweep [EXPERIMENT] [--profile NAME] [--data DIR] [--backbone SPEC]
  [--teachers NAME,...] [--out DIR] [--shard i/n] [--jobs N] [--backend NAME] [--png] [--quiet]
  [--json]

  Three stages: SCREEN trains the profile's grid (teachers x T x lambda) on a few seeds and
  picks, per teacher, the configuration with the best mean validation accuracy; CONFIRM trains
  that pick and scratch on fresh seeds; TEST evaluates every confirm run's best checkpoint on
  the test split (when the data has one), once, at the end.

  EXPERIMENT: a file or a name matched against experiments/*.ts (default: the newest dated
  experiments/*-sweep.ts). --profile: one of the experiment's profiles (default: full on a GPU
  backend, cpu otherwise). --out: the sweep directory (default runs/sweeps/<name>-<profile>);
  finished runs in it are kept, interrupted ones resume, and a second sweep on the same
  folder shares the work (a lock per run). --shard i/n (or Slurm's array variables) starts
  with every n-th run, then helps with the rest. --jobs N: train N runs at once, each in its
  own process with 1/N of the cores (default 1); on 2 cores, --jobs 2 trains the cpu profile's
  runs 1.35-1.75x sooner (BENCHMARKS.md). Fewer threads sum in another order, which training
  amplifies: runs differ from --jobs 1's as another seed's would, and resume exactly only
  under the same --jobs.
  --data DIR (env KD_DATA): beans from a folder instead of the Hugging Face cache.
  --backbone SPEC (env KD_BACKBONE): the backbone every built teacher comes from (default
  hf:google/mobilenet_v2_1.0_224), e.g. tfjs-dir:PATH or hf-dir:PATH offline.
  --teachers NAME,...: only these of the profile's teachers (e.g. offline without the guide's
  ViT, whose weights only the hub has).
  --json prints {dir, complete, results} on stdout.`;

/** The `--json` result of a sweep invocation. */
export interface SweepOutcome {
  dir: string;
  complete: boolean;
  results: SweepResults | null;
}

/** `deno task sweep`. */
export const sweepCommand: CommandSpec<SweepOutcome> = {
  usage: USAGE,
  string: ["profile", "data", "out", "shard", "backend", "backbone", "teachers", "jobs"],
  boolean: ["quiet", "png"],
  positionals: [0, 1],
  json: true,
  async run(f) {
    const experiment = (f._[0] as string | undefined) ?? defaultExperiment();
    // The backend line is folded into the profile line so the first line says both.
    const backend = await initBackend(f.backend as string | undefined, { quiet: true });
    const onGpu = backend.name === "webgpu" || /gpu|cuda/i.test(backend.device);
    const profile = (f.profile as string | undefined) ?? (onGpu ? "full" : "cpu");
    const why = f.profile ? "--profile" : `auto: ${onGpu ? "GPU" : "no GPU"} backend`;
    console.error(
      `profile: ${profile} (${why}); backend: ${backend.name} on ${backend.device} (${backend.reason})`,
    );
    const { dir, complete } = await runSweep({
      experiment,
      profile,
      data: f.data as string | undefined,
      backbone: f.backbone as string | undefined,
      teachers: f.teachers ? String(f.teachers).split(",").map((t) => t.trim()) : undefined,
      out: f.out as string | undefined,
      shard: f.shard as string | undefined,
      jobs: intFlag("jobs", f.jobs),
      quiet: f.quiet as boolean,
    });
    if (!complete) return { dir, complete, results: null };
    return { dir, complete, results: await finishSweep(dir, { png: f.png as boolean }) };
  },
};

if (import.meta.main) await runCommand(sweepCommand);
