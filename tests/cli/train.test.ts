/** `deno task train` flags: the method and its weights, and their refusals. */
import { assertEquals, assertThrows } from "@std/assert";
import { parseArgs } from "@std/cli";
import { configFromFlags, trainCommand } from "../../lib/cli/train.ts";
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
  for (const f of ["method", "dkd-alpha", "dkd-beta", "dkd-warmup", "dist-beta", "dist-gamma"]) {
    if (!trainCommand.usage.includes(`--${f}`)) throw new Error(`--help lacks --${f}`);
  }
});
