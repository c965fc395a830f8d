/**
 * Checks on notebook files: committed notebooks carry no outputs, and executed copies hold the
 * rich outputs they promise (a plotly figure as offline HTML, a PNG image) and no errors.
 * @module
 */

/** The parts of an `.ipynb` document these checks read. */
export interface NotebookDoc {
  cells: {
    cell_type: string;
    source: string | string[];
    outputs?: {
      output_type: string;
      data?: Record<string, unknown>;
      ename?: string;
      evalue?: string;
    }[];
    execution_count?: number | null;
  }[];
  metadata?: { kernelspec?: { name?: string } };
}

/** What an executed notebook must contain. */
export interface OutputRequirements {
  /** A `text/html` output drawing a plotly figure, and plotly.js itself inlined in some output. */
  plotly?: boolean;
  /** An `image/png` output. */
  png?: boolean;
}

/** Summary of an executed notebook's outputs. */
export interface OutputSummary {
  outputs: number;
  plotlyFigures: number;
  plotlyInlined: boolean;
  pngs: number;
  errors: string[];
}

const text = (
  v: unknown,
): string => (Array.isArray(v) ? v.join("") : typeof v === "string" ? v : "");

/** Count the rich outputs and errors of an executed notebook. */
export function summarizeOutputs(nb: NotebookDoc): OutputSummary {
  const s: OutputSummary = {
    outputs: 0,
    plotlyFigures: 0,
    plotlyInlined: false,
    pngs: 0,
    errors: [],
  };
  nb.cells.forEach((cell, i) => {
    for (const o of cell.outputs ?? []) {
      s.outputs++;
      if (o.output_type === "error") s.errors.push(`cell ${i + 1}: ${o.ename}: ${o.evalue}`);
      const html = text(o.data?.["text/html"]);
      if (html.includes("Plotly.newPlot(")) s.plotlyFigures++;
      // The marker plotly's bundle ends with: the library itself is in the page, not a CDN link.
      if (html.includes("window.Plotly = Plotly")) s.plotlyInlined = true;
      if (typeof o.data?.["image/png"] === "string" || Array.isArray(o.data?.["image/png"])) {
        s.pngs++;
      }
    }
  });
  return s;
}

/** Problems with an executed notebook (empty when it meets `req`). */
export function checkExecuted(nb: NotebookDoc, req: OutputRequirements): string[] {
  const s = summarizeOutputs(nb);
  const problems = [...s.errors];
  if (req.plotly && !s.plotlyFigures) problems.push("no text/html output with a plotly figure");
  if (req.plotly && !s.plotlyInlined) problems.push("plotly.js is not inlined in any output");
  if (req.png && !s.pngs) problems.push("no image/png output");
  return problems;
}

/** Problems with a notebook as committed: it must use the Deno kernel and hold no outputs. */
export function checkCommitted(nb: NotebookDoc): string[] {
  const problems: string[] = [];
  if (nb.metadata?.kernelspec?.name !== "deno") {
    problems.push(`kernelspec is "${nb.metadata?.kernelspec?.name}", expected "deno"`);
  }
  nb.cells.forEach((c, i) => {
    if (c.cell_type !== "code") return;
    if (c.outputs?.length) {
      problems.push(`cell ${i + 1} has stored outputs (clear them before committing)`);
    }
    if (c.execution_count != null) problems.push(`cell ${i + 1} has an execution count`);
  });
  return problems;
}

/** Relative module paths imported by the code cells (e.g. `../lib/train.ts`). */
export function relativeImports(nb: NotebookDoc): string[] {
  const out = new Set<string>();
  for (const c of nb.cells) {
    if (c.cell_type !== "code") continue;
    for (const m of text(c.source).matchAll(/from\s+"(\.{1,2}\/[^"]+)"/g)) out.add(m[1]);
  }
  return [...out];
}
