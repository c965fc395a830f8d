/**
 * The demo, driven headlessly: serve a tfjs export, open the page in headless Chromium, classify
 * the bundled sample leaves through the page's own code path, time inference, and optionally
 * screenshot the result. Used by `deno task demo --headless`, the demo test and the README
 * screenshot; its latency record (`browser_latency.json`) feeds the trade-off table.
 * @module
 */
import { join } from "node:path";
import { writeJsonAtomic } from "../core/fs.ts";
import { startDemoServer } from "./demo_server.ts";
import { withHeadlessPage } from "./browser.ts";
import { preprocessImage } from "../data/preprocess.ts";

/** A sample as `demo/samples/samples.json` lists it. */
export interface DemoSample {
  file: string;
  label: number;
  class_name: string;
  split: string;
  row: number;
  image_file_path: string;
}

/** The bundled sample leaves (validation images, one per class). */
export async function demoSamples(): Promise<{ dir: string; samples: DemoSample[] }> {
  const dir = new URL("./demo/samples/", import.meta.url).pathname;
  return { dir, samples: JSON.parse(await Deno.readTextFile(join(dir, "samples.json"))) };
}

/** One sample classified in the browser. */
export interface BrowserPrediction {
  file: string;
  row: number;
  true_label: number;
  predicted: number;
  class_name: string;
  probabilities: number[];
  logits: number[];
  inference_ms: number;
  /** Bytes of the page's resized image that differ from the toolkit's (sharp decode + PIL resize). */
  pixel_mismatches: number;
}

/** `browser_latency.json`: median single-image inference time in the page. */
export interface BrowserLatency {
  backend: string;
  median_ms: number;
  runs: number;
  image_size: number;
  user_agent: string;
  measured_at: string;
}

/** What a headless demo run found. */
export interface DemoCheck {
  url: string;
  backend: string;
  predictions: BrowserPrediction[];
  latency: BrowserLatency;
  /** Console lines and exceptions of the page. */
  page_log: string[];
}

/** Options of {@linkcode runDemoHeadless}. */
export interface DemoCheckOptions {
  /** A tfjs export folder. */
  modelDir: string;
  /** tfjs backend in the page: `wasm` (default; works everywhere) or `webgl`. */
  webBackend?: string;
  /** Timed predictions for the latency (default 30). */
  runs?: number;
  /** Write a PNG of the page (showing the last sample's result) here. */
  screenshot?: string;
  /** Write `browser_latency.json` here. */
  latencyOut?: string;
  port?: number;
}

/** Run the demo page headlessly (see the module doc). */
export async function runDemoHeadless(opts: DemoCheckOptions): Promise<DemoCheck> {
  const { dir, samples } = await demoSamples();
  const server = await startDemoServer({ modelDir: opts.modelDir, port: opts.port });
  const backend = opts.webBackend ?? "wasm";
  const url = `${server.url}?backend=${encodeURIComponent(backend)}`;
  try {
    return await withHeadlessPage(url, async (page) => {
      const started = Date.now();
      while (!(await page.evaluate<boolean>("typeof kdDemo === 'object'"))) {
        if (Date.now() - started > 30_000) {
          throw new Error(`the demo page did not start: ${page.log.join(" | ")}`);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      let ready: { backend: string };
      try {
        ready = await page.evaluate("kdDemo.ready");
      } catch (e) {
        throw new Error(`${(e as Error).message} (page log: ${page.log.join(" | ")})`);
      }
      const size = await page.evaluate<number>(
        "fetch('/model/model.json').then(r => r.json()).then(j => j.userDefinedMetadata.preprocessing.size)",
      );
      const predictions: BrowserPrediction[] = [];
      for (const s of samples) {
        const url = JSON.stringify(`/samples/${s.file}`);
        const pagePixels = await page.evaluate<number[]>(`kdDemo.pixelsOf(${url})`);
        const ours = await preprocessImage(await Deno.readFile(join(dir, s.file)), size);
        let mismatches = Math.abs(ours.length - pagePixels.length);
        for (let i = 0; i < Math.min(ours.length, pagePixels.length); i++) {
          if (ours[i] !== pagePixels[i]) mismatches++;
        }
        const p = await page.evaluate<{
          label: number;
          className: string;
          probabilities: number[];
          logits: number[];
          inferenceMs: number;
        }>(`kdDemo.classifyUrl(${url})`);
        predictions.push({
          file: s.file,
          row: s.row,
          true_label: s.label,
          predicted: p.label,
          class_name: p.className,
          probabilities: p.probabilities,
          logits: p.logits,
          inference_ms: p.inferenceMs,
          pixel_mismatches: mismatches,
        });
      }
      const bench = await page.evaluate<{ medianMs: number; runs: number }>(
        `kdDemo.benchmark(${JSON.stringify(`/samples/${samples[0].file}`)}, ${opts.runs ?? 30})`,
      );
      const latency: BrowserLatency = {
        backend: ready.backend,
        median_ms: bench.medianMs,
        runs: bench.runs,
        image_size: size,
        user_agent: page.userAgent,
        measured_at: new Date().toISOString(),
      };
      if (opts.screenshot) {
        // Show a sample whose result is on screen for the picture.
        await page.evaluate(`kdDemo.classifyUrl(${JSON.stringify(`/samples/${samples[1].file}`)})`);
        await Deno.writeFile(opts.screenshot, await page.screenshot());
      }
      if (opts.latencyOut) await writeJsonAtomic(opts.latencyOut, latency);
      return { url: server.url, backend: ready.backend, predictions, latency, page_log: page.log };
    }, { width: 900, height: 580 });
  } finally {
    await server.close();
  }
}
