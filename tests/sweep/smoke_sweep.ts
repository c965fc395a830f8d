/** Shared by the experiment tests: an experiment's smoke profile end to end, offline. */
import { assert } from "@std/assert";
import { join } from "node:path";
import { TEST_DATA } from "../helpers.ts";
import { FIXTURES } from "../fixture_paths.ts";
import { initBackend } from "../../lib/backend.ts";
import { runSweep } from "../../lib/sweep/run.ts";
import { writeSweepReport } from "../../lib/report/finish.ts";

/**
 * Runs `experiment`'s smoke profile as `deno task sweep EXPERIMENT --profile smoke` would offline
 * (the tiny MobileNetV2 fixture as the teachers' backbone, a private teacher cache), checks that it
 * completed, writes its results and report, then hands `check` the sweep folder and the progress
 * lines; the folder is removed afterwards. `teachers` names a subset (hub-only teachers have no
 * fixture here; `tests/fresh_clone.test.ts` runs them against a loopback hub).
 */
export async function withSmokeSweep(
  experiment: string,
  check: (out: string, lines: string[]) => Promise<void>,
  teachers?: string[],
): Promise<void> {
  await initBackend(undefined, { quiet: true });
  const tmp = await Deno.makeTempDir({ prefix: "kd-smoke-sweep-" });
  Deno.env.set("KD_CACHE_DIR", join(tmp, "cache"));
  try {
    const out = join(tmp, "sweep");
    const lines: string[] = [];
    const r = await runSweep({
      experiment,
      profile: "smoke",
      data: TEST_DATA,
      backbone: `hf-dir:${FIXTURES}/mobilenet_v2_tiny`,
      out,
      teachers,
      quiet: true,
      log: (l) => lines.push(l),
    });
    assert(r.complete, `${experiment}: the smoke sweep did not complete`);
    await writeSweepReport(out, { quiet: true });
    await check(out, lines);
  } finally {
    Deno.env.delete("KD_CACHE_DIR");
    await Deno.remove(tmp, { recursive: true });
  }
}
