import { ALL_GRANTED, test } from "../permissions.ts";
import { assert, assertEquals } from "@std/assert";
import { join } from "node:path";
import { checkCommitted, type NotebookDoc } from "../../lib/notebook/check.ts";
import { REQUIREMENTS } from "../../lib/notebook/execute.ts";

const DIR = new URL("../../notebooks/", import.meta.url).pathname;
// Listing the folder needs read access; a plain `deno test` reports one ignored test per check.
const files = ALL_GRANTED
  ? [...Deno.readDirSync(DIR)].filter((e) => e.name.endsWith(".ipynb")).map((e) => e.name).sort()
  : ["*.ipynb"];

function load(name: string): NotebookDoc {
  return JSON.parse(Deno.readTextFileSync(join(DIR, name)));
}

test("the three notebooks exist, and 01 and 02 have output requirements", () => {
  assertEquals(files, [
    "01-beans-data.ipynb",
    "02-distill-one-run.ipynb",
    "03-sweep-analysis.ipynb",
  ]);
  assert(REQUIREMENTS["01-"].plotly && REQUIREMENTS["01-"].png);
  assert(REQUIREMENTS["02-"].plotly && REQUIREMENTS["02-"].png);
});

for (const name of files) {
  test(`${name} is committed without outputs, on the deno kernel`, () => {
    assertEquals(checkCommitted(load(name)), []);
  });

  test(`${name}: every name it imports from the toolkit is exported there`, async () => {
    const source = load(name).cells.filter((c) => c.cell_type === "code")
      .map((c) => (Array.isArray(c.source) ? c.source.join("") : c.source)).join("\n");
    const imports = [...source.matchAll(/import\s*\{([^}]*)\}\s*from\s*"(@kd\/vision[^"]*)"/g)];
    assert(imports.length > 0, `${name} imports nothing from @kd/vision`);
    for (const [, list, specifier] of imports) {
      const mod = await import(specifier);
      const names = list.split(",").map((s) => s.trim()).filter((s) => s && !s.startsWith("type "))
        .map((s) => s.split(/\s+as\s+/)[0]);
      for (const n of names) assert(n in mod, `${name}: ${specifier} does not export ${n}`);
    }
  });
}
