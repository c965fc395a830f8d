/** The export pipeline never touches a folder the user did not name as --out. */
import { ALL_GRANTED, test } from "../permissions.ts";
import { assertEquals, assertRejects, assertStringIncludes } from "@std/assert";
import { join } from "node:path";
import { initBackend } from "../../lib/backend.ts";
import { exportModel } from "../../lib/export/export.ts";
import { UserError } from "../../lib/core/errors.ts";
import { saveRandomStudent } from "../helpers.ts";
import { runCommand } from "../commands.ts";
import { MNV2_FIXTURE } from "./helpers.ts";

if (ALL_GRANTED) await initBackend(undefined, { quiet: true });

async function entries(dir: string): Promise<string[]> {
  return (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort();
}

/** Every file under `dir` with its content, to show a folder is untouched. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (d: string, rel: string) => {
    for await (const e of Deno.readDir(d)) {
      const p = join(d, e.name), r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isSymlink) out[r] = `-> ${await Deno.readLink(p)}`;
      else if (e.isDirectory) await walk(p, r);
      else {
        const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(p));
        out[r] = btoa(String.fromCharCode(...new Uint8Array(digest)));
      }
    }
  };
  await walk(dir, "");
  return out;
}

test("export --out DIR keeps a user's DIR.old, with and without --force", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "kd-export-old-" });
  try {
    const out = join(tmp, "out");
    for (const name of ["out.old", ".out.tmp", ".export-keep"]) {
      await Deno.mkdir(join(tmp, name));
      await Deno.writeTextFile(join(tmp, name, "mine.txt"), `user data in ${name}`);
    }
    const model = `hf-dir:${MNV2_FIXTURE}`;
    await exportModel({ model, format: "hf", out, quiet: true });
    // A second export replaces --out (the swap path) and a third does it once more.
    await exportModel({ model, format: "tfjs", out, force: true, quiet: true });
    await exportModel({ model, format: "hf", out, force: true, quiet: true });
    assertEquals(await entries(tmp), [".export-keep", ".out.tmp", "out", "out.old"]);
    for (const name of ["out.old", ".out.tmp", ".export-keep"]) {
      assertEquals(await Deno.readTextFile(join(tmp, name, "mine.txt")), `user data in ${name}`);
    }
    assertEquals((await entries(out)).includes("model.safetensors"), true);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

test("export refuses an --out that is, is inside or contains the source run", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "kd-export-self-" });
  try {
    // A finished run's records: config.json with `train`, best/, final.json, metrics.
    const run = join(tmp, "runs", "a");
    await saveRandomStudent(run, "best");
    await Deno.writeTextFile(join(run, "config.json"), JSON.stringify({ train: { seed: 0 } }));
    await Deno.writeTextFile(
      join(run, "final.json"),
      JSON.stringify({ best_epoch: 1, validation: { n: 12, accuracy: 0.5, macro_f1: 0.4 } }),
    );
    await Deno.writeTextFile(join(run, "metrics.jsonl"), '{"epoch":1,"step":2}\n');
    await Deno.symlink(run, join(tmp, "link"));
    const before = await snapshot(tmp);
    const cases: [string, string, string][] = [
      [run, run, "is the source"],
      [`dir:${run}/best`, join(run, "best"), "is inside the source"],
      [run, join(tmp, "runs", ".", "a"), "is the source"],
      [run, join(tmp, "link"), "is the source"],
      [run, join(run, "export"), "is inside the source"],
      [run, join(run, "best", "x", "y"), "is inside the source"],
      [`dir:${run}/best`, join(run, "export"), "is inside the source"],
      [run, join(tmp, "runs"), "contains the source"],
      [join(tmp, "link"), tmp, "contains the source"],
    ];
    for (const [model, out, why] of cases) {
      for (const format of ["hf", "tfjs"] as const) {
        await assertRejects(
          () => exportModel({ model, format, out, force: true, quiet: true }),
          UserError,
          why,
        );
      }
    }
    assertEquals(await snapshot(tmp), before);

    // The command: one line, exit 2, nothing written.
    const { code, lines } = await runCommand(
      "export",
      ["--model", run, "--format", "hf", "--out", run, "--force"],
    );
    assertEquals([code, lines.length], [2, 1], lines.join("\n"));
    assertStringIncludes(lines[0], `error: --out ${run} is the source`);
    assertEquals(await snapshot(tmp), before);

    // A sibling folder is fine.
    await exportModel({ model: run, format: "tfjs", out: join(tmp, "runs", "a-hf"), quiet: true });
    assertEquals(await entries(join(tmp, "runs")), ["a", "a-hf"]);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
