import { test } from "../permissions.ts";
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { Buffer } from "node:buffer";
import {
  display,
  displaySettings,
  encodeBase64,
  inJupyter,
  LiveDisplay,
  type MimeBundle,
  settleMs,
  showFigure,
  tableBundle,
  useJupyterApi,
} from "../../lib/notebook/display.ts";
import { classBalanceFigure } from "../../lib/report/figures.ts";

type Call = { bundle: MimeBundle; opts: Record<string, unknown> };

/** Run `fn` with a fake `Deno.jupyter` that records display calls. */
async function withFakeJupyter(fn: (calls: Call[]) => Promise<void>) {
  const calls: Call[] = [];
  useJupyterApi({
    display: (bundle, opts) => {
      calls.push({ bundle: bundle as MimeBundle, opts: { ...opts } });
      return Promise.resolve();
    },
  });
  displaySettings.settle = false;
  try {
    await fn(calls);
  } finally {
    useJupyterApi(undefined);
    displaySettings.settle = true;
  }
}

async function captureConsole(fn: () => Promise<void>): Promise<string[]> {
  const lines: string[] = [];
  const orig = console.log;
  console.log = (...a: unknown[]) => void lines.push(a.join(" "));
  try {
    await fn();
  } finally {
    console.log = orig;
  }
  return lines;
}

const fig = classBalanceFigure([{ name: "train", classNames: ["a", "b"], counts: [3, 4] }]);

test("outside a kernel, displays fall back to plain text", async () => {
  // Outside `deno jupyter` the real detection must say "no kernel" (its getter throws).
  assertEquals(inJupyter(), false);
  {
    const lines = await captureConsole(async () => {
      await display({ "text/html": "<b>x</b>", "text/plain": "x" });
      await showFigure(fig);
      await display({ "image/png": "AAAA" });
    });
    assertEquals(lines, ["x", "[plotly figure: Images per class]", "[image/png output not shown]"]);
  }
});

test("in a kernel, showFigure loads plotly.js once, then sends small figure outputs", async () => {
  await withFakeJupyter(async (calls) => {
    await showFigure(fig, { png: false });
    await showFigure(fig, { png: false });
    const htmls = calls.map((c) => String(c.bundle["text/html"]));
    // First output carries plotly.js itself; figures only reference window.Plotly.
    assertEquals(htmls.filter((h) => h.includes("window.Plotly = Plotly")).length, 1);
    assertStringIncludes(htmls[0], "window.Plotly = Plotly");
    const figures = htmls.filter((h) => h.includes("Plotly.newPlot("));
    assertEquals(figures.length, 2);
    for (const h of figures) assert(h.length < 10_000, `figure output is ${h.length} chars`);
    assert(calls.every((c) => c.opts.raw === true));
  });
});

Deno.test("LiveDisplay shows once, then updates the same display id", async () => {
  await withFakeJupyter(async (calls) => {
    const live = new LiveDisplay();
    // Fired without awaiting, as from a synchronous onEpoch callback.
    const pending = [live.update({ "text/plain": "1" }), live.update({ "text/plain": "2" })];
    await Promise.all(pending);
    await live.update({ "text/plain": "3" });
    assertEquals(calls.map((c) => c.opts.update), [false, true, true]);
    const ids = new Set(calls.map((c) => c.opts.display_id));
    assertEquals(ids.size, 1);
    assert(typeof [...ids][0] === "string");
  });
});

Deno.test("tableBundle escapes HTML and aligns the text version", () => {
  const t = tableBundle(["name", "n"], [["<b>&", 1], ["x", 22]]);
  assertStringIncludes(String(t["text/html"]), "<td>&lt;b&gt;&amp;</td>");
  assertEquals(String(t["text/plain"]).split("\n"), ["name  n ", "<b>&  1 ", "x     22"]);
});

Deno.test("encodeBase64 matches Buffer for a subarray view", () => {
  const bytes = new Uint8Array(300).map((_, i) => (i * 7) % 256);
  const view = bytes.subarray(5, 250);
  assertEquals(encodeBase64(view), Buffer.from(Array.from(view)).toString("base64"));
});

Deno.test("settleMs grows with size and is capped", () => {
  assert(settleMs(1_000_000) > settleMs(1000));
  assertEquals(settleMs(1e9), 4000);
});
