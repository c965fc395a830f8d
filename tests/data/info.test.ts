import { test } from "../permissions.ts";
import { assertEquals, assertStringIncludes } from "@std/assert";
import { datasetInfo } from "../../lib/data/info.ts";
import { BEANS_DIR } from "./helpers.ts";
import { fullBeansTest } from "../fixture_paths.ts";

// The full splits' counts are the HF dataset card's table.
const FULL = {
  train: { rows: 1034, classes: { angular_leaf_spot: 345, bean_rust: 348, healthy: 341 } },
  validation: { rows: 133, classes: { angular_leaf_spot: 44, bean_rust: 45, healthy: 44 } },
};
// The committed subset (tests/fixtures/README.md).
const EXPECTED = {
  train: { rows: 24, classes: { angular_leaf_spot: 8, bean_rust: 8, healthy: 8 } },
  validation: { rows: 15, classes: { angular_leaf_spot: 4, bean_rust: 5, healthy: 6 } },
};

/** `deno task data info ARGS`, its exit code and output. */
function dataInfo(args: string[]): Promise<Deno.CommandOutput> {
  const cli = new URL("../../lib/cli/data.ts", import.meta.url).pathname;
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", cli, "info", ...args],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
}

fullBeansTest("datasetInfo counts rows and classes of the full beans splits", async (dir) => {
  const info = await datasetInfo({ data: dir });
  for (const [k, v] of Object.entries(FULL)) {
    assertEquals({ rows: info.splits[k].rows, classes: info.splits[k].classes }, v);
  }
});

test("datasetInfo counts rows and classes of the committed beans subset", async () => {
  const info = await datasetInfo({ data: BEANS_DIR });
  assertEquals(Object.keys(info.splits), ["train", "validation"]);
  for (const [k, v] of Object.entries(EXPECTED)) {
    assertEquals({ rows: info.splits[k].rows, classes: info.splits[k].classes }, v);
  }
});

test("`deno task data info --json`: stdout is the counts object", async () => {
  const out = await dataInfo(["--data", BEANS_DIR, "--json"]);
  assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
  const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
  assertEquals(lines.length, 1);
  const splits = JSON.parse(lines[0]).splits;
  for (const [k, v] of Object.entries(EXPECTED)) {
    assertEquals({ rows: splits[k].rows, classes: splits[k].classes }, v);
  }
});

test("`deno task data info --labels` differing from the file's class names: exit 2, one line", async () => {
  const out = await dataInfo(["--data", BEANS_DIR, "--labels", "x,y,z"]);
  assertEquals(out.code, 2);
  const err = new TextDecoder().decode(out.stderr).trim().split("\n");
  assertEquals(err.length, 1, err.join("\n"));
  assertStringIncludes(
    err[0],
    `--labels [x, y, z] differs from the class names [angular_leaf_spot`,
  );
});

test("`deno task data info` on a missing folder: exit 2, one error line", async () => {
  const out = await dataInfo(["--data", "/nonexistent/beans"]);
  assertEquals(out.code, 2);
  const err = new TextDecoder().decode(out.stderr).trim().split("\n");
  assertEquals(err.length, 1);
  assertEquals(err[0].startsWith("error: ") && err[0].includes("/nonexistent/beans"), true, err[0]);
});
