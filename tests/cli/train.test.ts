/** `deno task train` flags: the method and its weights, and their refusals. */
import { assertEquals, assertThrows } from "@std/assert";
import { parseArgs } from "@std/cli";
import { configFromFlags, trainCommand } from "../../lib/cli/train.ts";
import { validateConfig } from "../../lib/train/config.ts";
import { UserError } from "../../lib/core/errors.ts";

const flags = (...args: string[]) => parseArgs(args, { string: trainCommand.string });

Deno.test("--method and only its own weights are recorded, with defaults", () => {
  const kd = configFromFlags(flags("--teacher", "dir:/t"));
  assertEquals([kd.method, kd.dkdAlpha, kd.distBeta], ["kd", undefined, undefined]);
  const dkd = configFromFlags(flags("--teacher", "dir:/t", "--method", "dkd", "--dkd-beta", "2"));
  assertEquals([dkd.method, dkd.dkdAlpha, dkd.dkdBeta, dkd.dkdWarmup], ["dkd", 1, 2, 0]);
  assertEquals(dkd.distGamma, undefined);
  const dist = configFromFlags(
    flags("--teacher", "dir:/t", "--method", "dist", "--dist-gamma", "2", "--lambda", "1"),
  );
  assertEquals([dist.method, dist.distBeta, dist.distGamma, dist.lambda], ["dist", 1, 2, 1]);
  // Scratch records no method at all: there is no distillation term.
  const scratch = configFromFlags(flags());
  assertEquals([scratch.method, scratch.dkdAlpha], [undefined, undefined]);
});

Deno.test("method flags that cannot apply name the flag", () => {
  const cases: [string[], string][] = [
    [["--teacher", "dir:/t", "--method", "fitnet"], "--method"],
    [["--teacher", "dir:/t", "--dkd-alpha", "2"], "--dkd-alpha needs --method dkd"],
    [
      ["--teacher", "dir:/t", "--method", "dkd", "--dist-beta", "2"],
      "--dist-beta needs --method dist",
    ],
    [["--teacher", "dir:/t", "--method", "dkd", "--dkd-warmup", "1.5"], "--dkd-warmup"],
    [["--teacher", "dir:/t", "--method", "dist", "--dist-gamma", "x"], "--dist-gamma"],
    [["--method", "dkd"], "--method needs --teacher"],
  ];
  for (const [args, msg] of cases) {
    assertThrows(() => configFromFlags(flags(...args)), UserError, msg);
  }
});

Deno.test("--help lists every method flag", () => {
  const all = [
    "method",
    "dkd-alpha",
    "dkd-beta",
    "dkd-warmup",
    "dist-beta",
    "dist-gamma",
    "teacher-views",
  ];
  for (const f of all) {
    if (!trainCommand.usage.includes(`--${f}`)) throw new Error(`--help lacks --${f}`);
  }
});

Deno.test("--teacher-views: mixup needs the online teacher; views need crop or flip", () => {
  const run = (...args: string[]) => validateConfig(configFromFlags(flags(...args)));
  const t = ["--teacher", "dir:/t", "--teacher-views", "4"];
  assertThrows(
    () => run(...t, "--augment", "crop,mixup=0.2"),
    UserError,
    "mixup needs the online teacher",
  );
  assertThrows(() => run(...t), UserError, "crop and/or flip");
  assertThrows(
    () => run("--teacher", "dir:/t", "--teacher-views", "x"),
    UserError,
    "--teacher-views",
  );
  assertEquals(configFromFlags(flags(...t, "--augment", "flip")).teacherViews, 4);
});
