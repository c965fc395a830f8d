/**
 * The public API is what the entry points (`deno.json` `exports`) export: each of those symbols
 * documents itself with an `@example` (which `deno task test:doc` runs), and the README's
 * library script is run there too.
 */
import { assert, assertEquals } from "@std/assert";
import { test } from "./permissions.ts";
import denoJson from "../deno.json" with { type: "json" };

const ROOT = new URL("../", import.meta.url).pathname;
const config = denoJson as unknown as {
  name: string;
  version: string;
  exports: Record<string, string>;
};
const entries = Object.values(config.exports as Record<string, string>);

interface DocNode {
  name: string;
  declarations: { jsDoc?: { tags?: { kind: string }[] } }[];
}

/** Each entry point's exported symbols, from `deno doc --json`. */
async function exportedSymbols(): Promise<Map<string, DocNode[]>> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["doc", "--json", ...entries],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert(out.success, new TextDecoder().decode(out.stderr));
  const doc = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    nodes: Record<string, { symbols: DocNode[] }>;
  };
  return new Map(
    Object.entries(doc.nodes).map(([url, m]) => [url.slice(`file://${ROOT}`.length), m.symbols]),
  );
}

Deno.test("the package has a name, a version and an entry point per area", () => {
  assert(/^@[a-z0-9-]+\/[a-z0-9-]+$/.test(config.name), config.name);
  assert(/^\d+\.\d+\.\d+/.test(config.version), config.version);
  assertEquals(Object.keys(config.exports).sort(), [
    ".",
    "./data",
    "./export",
    "./hub",
    "./loss",
    "./metrics",
    "./models",
    "./notebook",
    "./report",
    "./sweep",
    "./train",
  ]);
});

// `export *` leaves a symbol's JSDoc on the area's entry point only, so a symbol counts as
// documented when any entry point that exports it carries its example.
test("every symbol an entry point exports has an @example", async () => {
  const symbols = await exportedSymbols();
  assertEquals(symbols.size, entries.length);
  const all = new Set<string>(), documented = new Set<string>();
  for (const nodes of symbols.values()) {
    for (const n of nodes) {
      all.add(n.name);
      if (n.declarations.some((d) => d.jsDoc?.tags?.some((t) => t.kind === "example"))) {
        documented.add(n.name);
      }
    }
  }
  assertEquals([...all].filter((n) => !documented.has(n)).sort(), []);
});

test("the root entry point exports every area's API", async () => {
  const root = await import("@kd/vision");
  for (const [key, path] of Object.entries(config.exports as Record<string, string>)) {
    if (key === ".") continue;
    const area = await import(`@kd/vision/${key.slice(2)}`);
    const absent = Object.keys(area).filter((k) => !(k in root));
    assertEquals(absent, [], `${path}: not re-exported by ${config.exports["."]}`);
  }
});

test("a script's first call may be createModel or evaluateModel: no backend set-up needed", async () => {
  // A fresh process each: the backend is process state, and this suite has one already.
  const calls = {
    createModel: `await createModel("hf-dir:tests/fixtures/mobilenet_v2_tiny", { quiet: true })
      .then((m) => m.apply(tf.zeros([1, m.input.size, m.input.size, 3])).shape)`,
    evaluateModel: `(await evaluateModel({ model: "hf-dir:tests/fixtures/mobilenet_v2_tiny",
      data: "tests/fixtures/beans", split: "validation", quiet: true })).metrics.n`,
  };
  for (const [name, expr] of Object.entries(calls)) {
    const script = `import * as tf from "@tensorflow/tfjs";\n` +
      `import { createModel, evaluateModel } from "@kd/vision";\nconsole.log(JSON.stringify(${expr}));`;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["eval", "--ext=ts", script],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const err = new TextDecoder().decode(out.stderr);
    assert(out.success, `${name}: ${err}`);
    assert(new TextDecoder().decode(out.stdout).trim().length > 0, name);
  }
});
