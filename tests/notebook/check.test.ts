import { assertEquals } from "@std/assert";
import {
  checkCommitted,
  checkExecuted,
  type NotebookDoc,
  relativeImports,
  summarizeOutputs,
} from "../../lib/notebook/check.ts";

const code = (outputs: NonNullable<NotebookDoc["cells"][0]["outputs"]>, source = "") => ({
  cell_type: "code",
  source,
  outputs,
  execution_count: 1,
});

const plotlyLoader = {
  output_type: "display_data",
  data: { "text/html": ["<script>", "window.Plotly = Plotly;</script>"] },
};
const figure = {
  output_type: "display_data",
  data: { "text/html": '<div></div><script>Plotly.newPlot("a")</script>' },
};
const png = { output_type: "display_data", data: { "image/png": "iVBOR" } };

Deno.test("checkExecuted accepts a notebook with inlined plotly, a figure and a PNG", () => {
  const nb: NotebookDoc = { cells: [code([plotlyLoader, figure]), code([png])] };
  assertEquals(checkExecuted(nb, { plotly: true, png: true }), []);
  assertEquals(summarizeOutputs(nb), {
    outputs: 3,
    plotlyFigures: 1,
    plotlyInlined: true,
    pngs: 1,
    errors: [],
  });
});

Deno.test("checkExecuted names each missing output kind and every error", () => {
  const err = { output_type: "error", ename: "TypeError", evalue: "x is undefined" };
  const nb: NotebookDoc = { cells: [code([figure]), code([err])] };
  assertEquals(checkExecuted(nb, { plotly: true, png: true }), [
    "cell 2: TypeError: x is undefined",
    "plotly.js is not inlined in any output",
    "no image/png output",
  ]);
  assertEquals(checkExecuted({ cells: [code([])] }, {}), []);
});

Deno.test("checkCommitted refuses stored outputs and other kernels", () => {
  const nb: NotebookDoc = {
    cells: [code([png]), { cell_type: "markdown", source: "# t" }],
    metadata: { kernelspec: { name: "python3" } },
  };
  assertEquals(checkCommitted(nb), [
    'kernelspec is "python3", expected "deno"',
    "cell 1 has stored outputs (clear them before committing)",
    "cell 1 has an execution count",
  ]);
});

Deno.test("relativeImports lists the local modules a notebook imports", () => {
  const nb: NotebookDoc = {
    cells: [
      code(
        [],
        'import { a } from "../lib/a.ts";\nimport b from "npm:b";\nimport {\n  c,\n} from "./c.ts";',
      ),
    ],
  };
  assertEquals(relativeImports(nb), ["../lib/a.ts", "./c.ts"]);
});
