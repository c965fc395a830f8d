/**
 * The size/speed/accuracy trade-off between a teacher and its student, measured side by side:
 * parameters, weight-file size, multiply-adds per image (counted from the architecture,
 * `lib/models/cost.ts`), CPU latency at batch 1 and throughput at batch 32 on the current
 * backend, browser latency of the tfjs export (from `browser_latency.json`, or measured now in
 * headless Chromium), and validation accuracy (evaluated on `data`, else the run's or the saved
 * teacher's own record). Timings are medians of repeated runs after a warm-up.
 * @module
 */
import * as tf from "../tf.ts";
import { basename, join } from "node:path";
import { UserError } from "../core/errors.ts";
import { exists, readJson } from "../core/fs.ts";
import { findChromium } from "../core/chromium.ts";
import type { Classifier } from "../models/model.ts";
import { createModel, parseSpec } from "../models/registry.ts";
import { readSavedConfig } from "../models/checkpoint.ts";
import { encodeSafetensors } from "../models/safetensors.ts";
import { pickWeightFile, readIndex } from "../models/hf_checkpoint.ts";
import { fetchHFModel } from "../models/hub.ts";
import { modelCost } from "../models/cost.ts";
import { MobileNetV2 } from "../models/mobilenet_v2.ts";
import { resolveSplit } from "../data/resolve.ts";
import { evaluateModel } from "../evaluate.ts";
import { cpuModel } from "../provenance.ts";
import { type ExportSource, resolveExportSource } from "./source.ts";
import { exportModel } from "./export.ts";
import type { BrowserLatency } from "./demo_check.ts";

/** One model's row of the trade-off table (snake_case: it is written as JSON). */
export interface TradeoffRow {
  role: "teacher" | "student";
  name: string;
  spec: string;
  kind: string;
  image_size: number;
  params: number;
  /** Bytes of the model's float32 weight file (`model.safetensors`). */
  file_bytes: number;
  /** Bytes of the tfjs export (model.json + shards), when there is one. */
  web_bytes: number | null;
  /** Multiply-accumulates per image (null: architecture not countable). */
  macs: number | null;
  /** Median CPU latency of one image (ms). */
  latency_ms: number;
  /** Images per second at batch 32. */
  throughput: number;
  /** Median single-image inference time in the browser (ms), and its tfjs backend. */
  browser_ms: number | null;
  browser_backend: string | null;
  val_accuracy: number | null;
  val_n: number | null;
  /** Where the accuracy comes from. */
  accuracy_from: "evaluated" | "run" | "saved model" | null;
}

/** A measured trade-off table. */
export interface TradeoffTable {
  backend: string;
  cpu: string;
  cores: number;
  data: string | null;
  measured_at: string;
  rows: TradeoffRow[];
}

/** Options of {@linkcode measureModel}. */
export interface MeasureOptions {
  role: "teacher" | "student";
  name?: string;
  /** Dataset folder: evaluate validation accuracy on it. */
  data?: string;
  /** A tfjs export of this model: its size and `browser_latency.json` are reported. */
  web?: string;
  /** Measure browser latency now (tfjs export + headless Chromium) when nothing is recorded. */
  browser?: boolean;
  /** Minimum timed runs (default 10 at batch 1, 3 at batch 32) and seconds per measurement. */
  minRuns?: number;
  minSeconds?: number;
  quiet?: boolean;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Median seconds of `model` on a random batch, after a warm-up run. */
export async function timeForward(
  model: Classifier,
  batch: number,
  opts: { minRuns?: number; minSeconds?: number } = {},
): Promise<number> {
  const s = model.input.size;
  const x = tf.randomNormal([batch, s, s, 3], 0, 1, "float32", 7) as tf.Tensor4D;
  const once = async () => {
    const t0 = performance.now();
    const y = tf.tidy(() => model.apply(x, { training: false }));
    await y.data();
    y.dispose();
    return (performance.now() - t0) / 1000;
  };
  try {
    await once();
    const times: number[] = [];
    const start = performance.now();
    const minRuns = opts.minRuns ?? (batch === 1 ? 10 : 3);
    const minSeconds = opts.minSeconds ?? 1;
    while (times.length < minRuns || (performance.now() - start) / 1000 < minSeconds) {
      times.push(await once());
      if (times.length >= 200) break;
    }
    return median(times);
  } finally {
    x.dispose();
  }
}

async function folderBytes(dir: string): Promise<number> {
  let n = 0;
  for await (const e of Deno.readDir(dir)) {
    if (e.isFile && e.name !== "browser_latency.json") {
      n += (await Deno.stat(join(dir, e.name))).size;
    }
  }
  return n;
}

/** Bytes of the model's weight files on disk, or of its safetensors encoding when it has none. */
async function weightFileBytes(spec: string, model: Classifier): Promise<number> {
  const p = parseSpec(spec);
  const dir = p.kind === "dir" || p.kind === "hf-dir"
    ? p.target
    : p.kind === "hf"
    ? (await fetchHFModel(p.target, { quiet: true })).dir
    : null;
  if (dir) {
    const names = (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name);
    const file = pickWeightFile(names);
    if (file && !file.endsWith(".index.json")) return (await Deno.stat(join(dir, file))).size;
    if (file) {
      let n = 0;
      for (const s of (await readIndex(join(dir, file))).shards) {
        n += (await Deno.stat(join(dir, s))).size;
      }
      return n;
    }
  }
  return encodeSafetensors(model.stateVariables()).length;
}

/** `value` when it is a `browser_latency.json` (a positive median, in ms). */
function checkLatency(value: unknown, path: string): BrowserLatency {
  const ms = (value as { median_ms?: unknown } | null)?.median_ms;
  if (typeof ms !== "number" || !(ms > 0) || !Number.isFinite(ms)) {
    throw new UserError(
      `${path}: not a browser latency record (needs "median_ms" > 0; deno task demo --headless ` +
        "writes one)",
    );
  }
  return value as BrowserLatency;
}

/** Validation accuracy recorded with the model: its run's `final.json` or a teacher's save info. */
async function recordedAccuracy(
  source: ExportSource,
): Promise<{ acc: number; n: number; from: "run" | "saved model" } | null> {
  const v = source.run?.final?.validation;
  if (v) return { acc: v.accuracy, n: v.n, from: "run" };
  const p = parseSpec(source.modelSpec);
  if (p.kind !== "dir") return null;
  // Teachers record `val_accuracy`/`val_images`; earlier ones `validation.{accuracy,images}`.
  const info = (await readSavedConfig(p.target)).info as
    | {
      val_accuracy?: number;
      val_images?: number;
      validation?: { accuracy?: number; images?: number };
    }
    | undefined;
  const acc = info?.val_accuracy ?? info?.validation?.accuracy;
  const n = info?.val_images ?? info?.validation?.images ?? 0;
  return typeof acc === "number" ? { acc, n, from: "saved model" } : null;
}

async function browserLatency(
  model: Classifier,
  spec: string,
  opts: MeasureOptions,
): Promise<{ latency: BrowserLatency | null; webBytes: number | null }> {
  if (opts.web) {
    const path = join(opts.web, "browser_latency.json");
    return {
      latency: (await exists(path)) ? checkLatency(await readJson<unknown>(path), path) : null,
      webBytes: await folderBytes(opts.web),
    };
  }
  if (!opts.browser || !(model instanceof MobileNetV2) || !findChromium()) {
    return { latency: null, webBytes: null };
  }
  const tmp = await Deno.makeTempDir({ prefix: "kd-tradeoff-" });
  try {
    const dir = join(tmp, "tfjs");
    await exportModel({ model: spec, format: "tfjs", out: dir, quiet: true });
    const { runDemoHeadless } = await import("./demo_check.ts");
    const check = await runDemoHeadless({ modelDir: dir });
    return { latency: check.latency, webBytes: await folderBytes(dir) };
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

/** Measure one model (see the module doc). */
export async function measureModel(spec: string, opts: MeasureOptions): Promise<TradeoffRow> {
  const log = (m: string) => opts.quiet || console.error(m);
  const source = await resolveExportSource(spec);
  let numLabels: number | undefined, labels: string[] | undefined;
  if (opts.data) {
    const index = await resolveSplit({ data: opts.data, split: "validation", quiet: true });
    numLabels = index.classNames.length;
    labels = index.classNames;
  }
  const model = await createModel(source.modelSpec, { numLabels, labels, quiet: true });
  try {
    const name = opts.name ??
      (source.run
        ? basename(source.run.dir)
        : basename(source.modelSpec.replace(/^[a-z-]+:/, "").replace(/\/+$/, "")));
    log(`${opts.role} ${name}: timing batch 1 and batch 32 at ${model.input.size} px`);
    const cost = await modelCost(model);
    const b1 = await timeForward(model, 1, opts);
    const b32 = await timeForward(model, 32, {
      minRuns: Math.max(3, Math.ceil((opts.minRuns ?? 10) / 4)),
      minSeconds: opts.minSeconds,
    });
    let acc: { acc: number; n: number; from: TradeoffRow["accuracy_from"] } | null = null;
    if (opts.data) {
      // The eval pipeline itself (classes aligned by name), on a second copy of the model.
      const e = await evaluateModel({
        model: source.modelSpec,
        data: opts.data,
        split: "validation",
        quiet: true,
      });
      acc = { acc: e.metrics.accuracy, n: e.metrics.n, from: "evaluated" };
    } else acc = await recordedAccuracy(source);
    const web = await browserLatency(model, source.modelSpec, opts);
    return {
      role: opts.role,
      name,
      spec,
      kind: model.config.kind,
      image_size: model.input.size,
      params: cost.params,
      file_bytes: await weightFileBytes(source.modelSpec, model),
      web_bytes: web.webBytes,
      macs: cost.macs,
      latency_ms: b1 * 1000,
      throughput: 32 / b32,
      browser_ms: web.latency?.median_ms ?? null,
      browser_backend: web.latency?.backend ?? null,
      val_accuracy: acc?.acc ?? null,
      val_n: acc?.n ?? null,
      accuracy_from: acc?.from ?? null,
    };
  } finally {
    model.dispose();
  }
}

/** Options of {@linkcode measureTradeoff}. */
export interface TradeoffOptions {
  teachers: string[];
  students: string[];
  data?: string;
  /** tfjs exports of the students, in the same order (null where there is none). */
  web?: (string | null)[];
  browser?: boolean;
  minRuns?: number;
  minSeconds?: number;
  quiet?: boolean;
}

/** Measure teachers and students side by side on the current backend. */
export async function measureTradeoff(opts: TradeoffOptions): Promise<TradeoffTable> {
  const rows: TradeoffRow[] = [];
  const common = {
    data: opts.data,
    minRuns: opts.minRuns,
    minSeconds: opts.minSeconds,
    quiet: opts.quiet,
  };
  for (const t of opts.teachers) rows.push(await measureModel(t, { ...common, role: "teacher" }));
  for (const [i, s] of opts.students.entries()) {
    rows.push(
      await measureModel(s, {
        ...common,
        role: "student",
        web: opts.web?.[i] ?? undefined,
        browser: opts.browser,
      }),
    );
  }
  return {
    backend: tf.getBackend(),
    cpu: cpuModel(),
    cores: navigator.hardwareConcurrency,
    data: opts.data ?? null,
    measured_at: new Date().toISOString(),
    rows,
  };
}

const mb = (b: number) => (b / 1e6).toFixed(2);

/** Column headers and display cells of a trade-off table. */
export function tradeoffCells(t: TradeoffTable): { header: string[]; rows: string[][] } {
  const header = [
    "model",
    "role",
    "input",
    "parameters",
    "weights (MB)",
    "web export (MB)",
    "MMACs / image",
    `CPU latency, batch 1 (ms, ${t.backend})`,
    "CPU throughput, batch 32 (img/s)",
    "browser latency (ms)",
    "validation accuracy",
  ];
  const rows = t.rows.map((r) => [
    r.name,
    r.role,
    `${r.image_size} px`,
    r.params.toLocaleString("en-US"),
    mb(r.file_bytes),
    r.web_bytes === null ? "–" : mb(r.web_bytes),
    r.macs === null ? "–" : (r.macs / 1e6).toFixed(1),
    r.latency_ms.toFixed(1),
    r.throughput.toFixed(1),
    r.browser_ms === null ? "–" : `${r.browser_ms.toFixed(1)} (${r.browser_backend})`,
    r.val_accuracy === null
      ? "–"
      : `${(r.val_accuracy * 100).toFixed(1)}%${r.val_n ? ` (n=${r.val_n})` : ""}`,
  ]);
  return { header, rows };
}

/** The table as Markdown, with one line on where and how it was measured. */
export function tradeoffMarkdown(t: TradeoffTable): string {
  const { header, rows } = tradeoffCells(t);
  return [
    `| ${header.join(" | ")} |`,
    `|${header.map(() => "---").join("|")}|`,
    ...rows.map((r) => `| ${r.join(" | ")} |`),
    "",
    `Measured ${t.measured_at} on ${t.cpu} (${t.cores} cores), backend ${t.backend}; ` +
    `accuracy ${t.data ? `evaluated on ${t.data} (validation)` : "from the runs' own records"}.`,
  ].join("\n");
}
