/**
 * The browser demo's page logic (bundled for the page by the demo server): load the exported
 * tfjs model, prepare an image exactly as the toolkit does (the same PIL-bilinear resize and
 * normalisation modules, not a canvas resize), classify it, and draw the class probabilities
 * and the inference time. `window.kdDemo` exposes the same steps to the headless test.
 * @module
 */
import type * as TF from "@tensorflow/tfjs";
import { resizeBilinearPIL } from "../../data/pil_resize.ts";
import { normalizeInto } from "../../data/normalize.ts";
import type { WebModelMetadata } from "../web_metadata.ts";

declare const tf: typeof TF & { wasm: { setWasmPaths(prefix: string): void } };

/** One classification, as the page shows it and the test reads it. */
export interface Prediction {
  /** Index of the most probable class. */
  label: number;
  className: string;
  probabilities: number[];
  logits: number[];
  /** Milliseconds of model inference (predict + reading the result back). */
  inferenceMs: number;
  /** Milliseconds of decoding, resizing and normalising. */
  preprocessMs: number;
}

/** A bundled sample image (`/samples/samples.json`). */
interface Sample {
  file: string;
  label: number;
  class_name: string;
  row: number;
  image_file_path: string;
}

const $ = (id: string) => document.getElementById(id)!;

let model: TF.LayersModel;
let meta: WebModelMetadata;

/** Backend from `?backend=` (webgl, wasm, cpu), else the first of webgl, wasm that starts. */
async function startBackend(): Promise<string> {
  tf.wasm.setWasmPaths("/vendor/");
  const wanted = new URLSearchParams(location.search).get("backend");
  for (const name of wanted ? [wanted] : ["webgl", "wasm"]) {
    try {
      if (await tf.setBackend(name)) {
        await tf.ready();
        return name;
      }
    } catch { /* try the next one */ }
  }
  throw new Error(`no tfjs backend started (asked for ${wanted ?? "webgl or wasm"})`);
}

/** Decoded RGB pixels of an encoded image, without colour conversion or premultiplication. */
async function decodeRGB(blob: Blob): Promise<{ data: Uint8Array; width: number; height: number }> {
  const bitmap = await createImageBitmap(blob, {
    colorSpaceConversion: "none",
    premultiplyAlpha: "none",
  });
  const canvas = document.createElement("canvas");
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  const ctx = canvas.getContext("2d", { willReadFrequently: true })!;
  ctx.drawImage(bitmap, 0, 0);
  const rgba = ctx.getImageData(0, 0, bitmap.width, bitmap.height).data;
  const rgb = new Uint8Array(bitmap.width * bitmap.height * 3);
  for (let i = 0, j = 0; i < rgba.length; i += 4, j += 3) {
    rgb[j] = rgba[i];
    rgb[j + 1] = rgba[i + 1];
    rgb[j + 2] = rgba[i + 2];
  }
  bitmap.close();
  return { data: rgb, width: canvas.width, height: canvas.height };
}

/** Decoded and PIL-bilinear-resized RGB pixels (HWC uint8) of one image. */
async function resized(blob: Blob): Promise<Uint8Array> {
  const p = meta.preprocessing;
  const img = await decodeRGB(blob);
  return resizeBilinearPIL(img.data, img.width, img.height, p.size, p.size, 3);
}

/** NHWC float32 input of one image, prepared like the toolkit's `toTensor`. */
async function prepare(blob: Blob): Promise<Float32Array> {
  const p = meta.preprocessing;
  const pixels = await resized(blob);
  const out = new Float32Array(p.size * p.size * 3);
  normalizeInto(pixels, out, 0, p);
  return out;
}

async function infer(input: Float32Array): Promise<{ logits: number[]; ms: number }> {
  const s = meta.preprocessing.size;
  const t0 = performance.now();
  const y = tf.tidy(() => model.predict(tf.tensor4d(input, [1, s, s, 3])) as TF.Tensor);
  const logits = Array.from(await y.data());
  const ms = performance.now() - t0;
  y.dispose();
  return { logits, ms };
}

function softmax(z: number[]): number[] {
  const m = Math.max(...z);
  const e = z.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

/** Classify one encoded image. */
async function classifyBlob(blob: Blob): Promise<Prediction> {
  const t0 = performance.now();
  const input = await prepare(blob);
  const preprocessMs = performance.now() - t0;
  const { logits, ms } = await infer(input);
  const probabilities = softmax(logits);
  const label = probabilities.indexOf(Math.max(...probabilities));
  return {
    label,
    className: meta.class_names[label],
    probabilities,
    logits,
    inferenceMs: ms,
    preprocessMs,
  };
}

function show(blob: Blob, p: Prediction): void {
  const preview = $("preview") as HTMLImageElement;
  if (preview.src.startsWith("blob:")) URL.revokeObjectURL(preview.src);
  preview.src = URL.createObjectURL(blob);
  $("verdict").textContent = `${p.className.replaceAll("_", " ")} (${
    (100 * p.probabilities[p.label]).toFixed(1)
  }%)`;
  $("bars").innerHTML = meta.class_names.map((c, i) => {
    const pct = (100 * p.probabilities[i]).toFixed(1);
    return `<div class="bar${i === p.label ? " top" : ""}"><div class="label"><span>${
      c.replaceAll("_", " ")
    }</span><span>${pct}%</span></div><div class="track"><div class="fill" style="width:${pct}%">` +
      `</div></div></div>`;
  }).join("");
  $("timing").textContent = `inference ${p.inferenceMs.toFixed(1)} ms, preprocessing ${
    p.preprocessMs.toFixed(1)
  } ms (${tf.getBackend()})`;
}

/** Classify and display an image given by URL (a bundled sample or any same-origin image). */
async function classifyUrl(url: string): Promise<Prediction> {
  const blob = await (await fetch(url)).blob();
  const p = await classifyBlob(blob);
  show(blob, p);
  return p;
}

/** The resized pixels of an image given by URL (the test compares them with the toolkit's). */
async function pixelsOf(url: string): Promise<number[]> {
  return Array.from(await resized(await (await fetch(url)).blob()));
}

/** Median inference time (ms) over `runs` predictions of one prepared image, after warm-up. */
async function benchmark(url: string, runs = 30): Promise<{ medianMs: number; runs: number }> {
  const input = await prepare(await (await fetch(url)).blob());
  for (let i = 0; i < 3; i++) await infer(input);
  const times: number[] = [];
  for (let i = 0; i < runs; i++) times.push((await infer(input)).ms);
  times.sort((a, b) => a - b);
  const mid = Math.floor(times.length / 2);
  const medianMs = times.length % 2 ? times[mid] : (times[mid - 1] + times[mid]) / 2;
  return { medianMs, runs };
}

async function main(): Promise<{ backend: string; samples: Sample[] }> {
  const backend = await startBackend();
  $("backend").textContent = backend;
  model = await tf.loadLayersModel("/model/model.json");
  meta = model.getUserDefinedMetadata() as unknown as WebModelMetadata;
  if (!meta?.class_names || !meta.preprocessing) {
    throw new Error("model.json has no kd-vision metadata (class names, preprocessing)");
  }
  $("size").textContent = String(meta.preprocessing.size);
  const samples = await (await fetch("/samples/samples.json")).json() as Sample[];
  $("samples").innerHTML = samples.map((s, i) =>
    `<button data-i="${i}"><img src="/samples/${s.file}" alt="${s.class_name}">${
      s.class_name.replaceAll("_", " ")
    }</button>`
  ).join("");
  for (const b of $("samples").querySelectorAll("button")) {
    b.addEventListener("click", () => classifyUrl(`/samples/${samples[Number(b.dataset.i)].file}`));
  }
  const drop = $("drop"), file = $("file") as HTMLInputElement;
  const take = async (f?: File | null) => {
    if (f) show(f, await classifyBlob(f));
  };
  drop.addEventListener("click", () => file.click());
  file.addEventListener("change", () => take(file.files?.[0]));
  drop.addEventListener("dragover", (e) => {
    e.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    take(e.dataTransfer?.files?.[0]);
  });
  // Warm-up (shader compilation / wasm start) so the first shown time is representative.
  await infer(new Float32Array(meta.preprocessing.size ** 2 * 3));
  $("verdict").textContent = "Pick a sample or drop an image.";
  return { backend, samples };
}

const ready = main().catch((e) => {
  $("status").textContent = `error: ${(e as Error).message}`;
  $("status").className = "error";
  throw e;
});

(globalThis as unknown as { kdDemo: unknown }).kdDemo = {
  ready,
  classifyUrl,
  pixelsOf,
  benchmark,
};
