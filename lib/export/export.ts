/**
 * The export pipeline behind `deno task export`: resolve `--model` (a registry spec or a run),
 * load it, check it can be exported, write the folder for the chosen format into a temporary
 * folder beside `--out`, and move it into place only when complete, so a failure leaves neither
 * a half-written export nor a damaged previous one.
 * @module
 */
import { basename, dirname, join, resolve } from "node:path";
import { UserError } from "../core/errors.ts";
import { makeStagingDir, replaceDir } from "../core/fs.ts";
import { checkOut, overlap } from "../core/paths.ts";
import { createModel, parseSpec, specFolder } from "../models/registry.ts";
import { fetchHFModel } from "../models/hub.ts";
import { openHFWeights } from "../models/hf_checkpoint.ts";
import { assertDtype } from "../models/safetensors.ts";
import { MobileNetV2 } from "../models/mobilenet_v2.ts";
import { modelCost } from "../models/cost.ts";
import { type ExportSource, resolveExportSource } from "./source.ts";
import {
  type BatchesTracked,
  hfConfigJson,
  hfPreprocessorJson,
  hfSafetensors,
  labelNames,
} from "./hf.ts";
import { modelCard } from "./model_card.ts";
import { webMetadata, writeWebModel } from "./tfjs.ts";

/**
 * Export formats.
 *
 * @example The formats exportModel writes
 * ```ts
 * import { EXPORT_FORMATS } from "@kd/vision/export";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals([...EXPORT_FORMATS], ["hf", "tfjs"]);
 * ```
 */
export const EXPORT_FORMATS = ["hf", "tfjs"] as const;

/**
 * One of {@linkcode EXPORT_FORMATS}: `hf` (a folder transformers and the hub load:
 * `config.json`, `model.safetensors`, `preprocessor_config.json`, a model card) or `tfjs` (a
 * TensorFlow.js web model: `model.json` and weight shards).
 *
 * @example Export one model in every format
 * ```ts
 * import { EXPORT_FORMATS, type ExportFormat, exportModel } from "@kd/vision/export";
 *
 * const dir = await Deno.makeTempDir();
 * for (const format of EXPORT_FORMATS satisfies readonly ExportFormat[]) {
 *   const r = await exportModel({
 *     model: "hf-dir:tests/fixtures/mobilenet_v2_tiny",
 *     format,
 *     out: `${dir}/${format}`,
 *     quiet: true,
 *   });
 *   console.log(format, r.files.map((f) => f.name));
 * }
 * ```
 */
export type ExportFormat = typeof EXPORT_FORMATS[number];

/**
 * Options of {@linkcode exportModel}.
 *
 * @example A folder meant for a hub repository, replacing an earlier export
 * ```ts
 * import { exportModel, type ExportOptions } from "@kd/vision/export";
 *
 * const opts: ExportOptions = {
 *   model: "hf-dir:tests/fixtures/mobilenet_v2_tiny",
 *   format: "hf",
 *   out: await Deno.makeTempDir(),
 *   force: true,
 *   repoId: "my-org/beans-mobilenet-v2-distilled",
 *   quiet: true,
 * };
 * await exportModel(opts);
 * console.log(await Deno.readTextFile(`${opts.out}/README.md`));
 * ```
 */
export interface ExportOptions {
  /** Registry spec or run directory. */
  model: string;
  /** What to write (see {@linkcode ExportFormat}). */
  format: ExportFormat;
  /** Folder to write; it is replaced only once the export is complete. */
  out: string;
  /** Replace a non-empty `out`. */
  force?: boolean;
  /** Hub repo the folder is meant for (used in the model card's usage snippet). */
  repoId?: string | null;
  /** Print nothing (no summary line). */
  quiet?: boolean;
}

/**
 * What an export wrote (snake_case: it is printed by `--json`).
 *
 * @example The size and cost of the exported model
 * ```ts
 * import { exportModel, type ExportResult } from "@kd/vision/export";
 *
 * const r: ExportResult = await exportModel({
 *   model: "hf-dir:tests/fixtures/mobilenet_v2_tiny",
 *   format: "tfjs",
 *   out: await Deno.makeTempDir(),
 *   force: true,
 *   quiet: true,
 * });
 * const bytes = r.files.reduce((sum, f) => sum + f.bytes, 0);
 * console.log(`${r.params} parameters, ${r.macs} MACs at ${r.image_size} px, ${bytes} bytes`);
 * ```
 */
export interface ExportResult {
  /** The format written. */
  format: ExportFormat;
  /** The folder written. */
  out: string;
  /** The `model` option as given (spec or run directory). */
  source: string;
  /** The run folder the model came from, when known. */
  run: string | null;
  /** Every file written, by name within `out`, with its size in bytes, sorted by name. */
  files: { name: string; bytes: number }[];
  /** Learnable parameters (batch-norm running statistics excluded). */
  params: number;
  /** Multiply-accumulates per image, or null for an architecture that cannot be counted. */
  macs: number | null;
  /** Class names in label order. */
  class_names: string[];
  /** Input side in pixels the model expects. */
  image_size: number;
}

/** The folders a source is read from: its run, else the folder its spec names (if any). */
function sourceFolders(source: ExportSource): string[] {
  const dirs: string[] = [];
  if (source.run) dirs.push(source.run.dir);
  const folder = specFolder(source.modelSpec);
  if (folder) dirs.push(folder);
  return dirs;
}

/**
 * Refuse an `--out` that is the source, lies inside it or contains it: `--force` would replace
 * the folder the model (and its run's records) is read from with the export.
 */
export async function checkOutApart(out: string, source: ExportSource): Promise<void> {
  for (const dir of sourceFolders(source)) {
    const how = await overlap(out, dir);
    if (how) {
      throw new UserError(
        `--out ${out} ${how} the source ${dir}; exporting there would replace what it is made ` +
          "from, so choose a folder outside it",
      );
    }
  }
}

/** The folder of an HF checkpoint spec (`hf-dir:` or a cached `hf:`), else null. */
async function sourceCheckpoint(modelSpec: string): Promise<string | null> {
  const p = parseSpec(modelSpec);
  if (p.kind === "hf-dir") return p.target;
  if (p.kind === "hf") return (await fetchHFModel(p.target, { quiet: true })).dir;
  return null;
}

/**
 * `num_batches_tracked` per BN layer: carried over from an HF source checkpoint (value and shape),
 * else the number of optimizer steps behind the run's best model (0 when unknown), as a scalar.
 */
async function batchesTracked(source: ExportSource): Promise<(prefix: string) => BatchesTracked> {
  const fallback: BatchesTracked = { value: BigInt(source.run?.bestStep ?? 0), shape: [] };
  const dir = await sourceCheckpoint(source.modelSpec);
  if (!dir) return () => fallback;
  const store = await openHFWeights(dir);
  const carried = new Map<string, BatchesTracked>();
  for (const name of store.names()) {
    const m = /^(.*)\.num_batches_tracked$/.exec(name);
    if (!m) continue;
    const raw = store.get(name);
    assertDtype(raw, ["I64"], `${store.path}: tensor "${name}"`);
    if (raw.data.length !== 1) continue;
    carried.set(m[1], { value: BigInt(raw.data[0]), shape: raw.shape });
  }
  return (prefix) => carried.get(prefix) ?? fallback;
}

function architecture(model: MobileNetV2): string {
  const c = model.config as { depthMultiplier?: number };
  return `MobileNetV2 (width ×${c.depthMultiplier ?? 1}, ${model.input.size} px)`;
}

/**
 * Export a model (see the module doc); bad input throws a UserError before anything is written.
 *
 * @example The tiny MobileNetV2 fixture as a TensorFlow.js web model
 * ```ts
 * import { exportModel } from "@kd/vision/export";
 * import { assertEquals } from "@std/assert";
 *
 * const out = await Deno.makeTempDir();
 * const r = await exportModel({
 *   model: "hf-dir:tests/fixtures/mobilenet_v2_tiny",
 *   format: "tfjs",
 *   out,
 *   force: true,
 *   quiet: true,
 * });
 * assertEquals(r.class_names.length, 3);
 * ```
 */
export async function exportModel(opts: ExportOptions): Promise<ExportResult> {
  if (!(EXPORT_FORMATS as readonly string[]).includes(opts.format)) {
    throw new UserError(
      `--format must be one of ${EXPORT_FORMATS.join(", ")}, got "${opts.format}"`,
    );
  }
  const source = await resolveExportSource(opts.model);
  await checkOutApart(opts.out, source);
  await checkOut(opts.out, opts.force);
  const log = (m: string) => opts.quiet || console.error(m);
  const model = await createModel(source.modelSpec, { quiet: opts.quiet });
  try {
    if (!(model instanceof MobileNetV2)) {
      throw new UserError(
        `${opts.model}: only MobileNetV2 students can be exported as ${opts.format} for now ` +
          `(this model is a ${model.config.kind})`,
      );
    }
    const cut = (model.config as { cutAfter?: string }).cutAfter;
    if (cut !== undefined && opts.format === "hf") {
      throw new UserError(
        `${opts.model}: a MobileNetV2 cut after ${cut} has no transformers equivalent; only ` +
          "full networks can be exported as hf",
      );
    }
    const cost = await modelCost(model);
    const parent = dirname(resolve(opts.out));
    await Deno.mkdir(parent, { recursive: true });
    // A unique hidden sibling: no folder of the user's can be in the way or be replaced.
    const tmp = await makeStagingDir(parent, `.${basename(resolve(opts.out))}.tmp-`);
    try {
      if (opts.format === "hf") {
        const weights = hfSafetensors(model, await batchesTracked(source));
        await Deno.writeFile(join(tmp, "model.safetensors"), weights);
        await Deno.writeTextFile(join(tmp, "config.json"), hfConfigJson(model));
        await Deno.writeTextFile(
          join(tmp, "preprocessor_config.json"),
          hfPreprocessorJson(model.input),
        );
        const card = modelCard(source, {
          architecture: architecture(model),
          classNames: labelNames(model),
          input: model.input,
          params: cost.params,
          macs: cost.macs,
          weightsBytes: weights.length,
        }, { repoId: opts.repoId });
        await Deno.writeTextFile(join(tmp, "README.md"), card);
      } else {
        await writeWebModel(model, tmp, webMetadata(model, source.spec));
      }
      const files: { name: string; bytes: number }[] = [];
      for await (const e of Deno.readDir(tmp)) {
        if (e.isFile) {
          files.push({ name: e.name, bytes: (await Deno.stat(join(tmp, e.name))).size });
        }
      }
      files.sort((a, b) => (a.name < b.name ? -1 : 1));
      await replaceDir(tmp, opts.out);
      log(`exported ${opts.model} as ${opts.format} to ${opts.out} (${files.length} files)`);
      return {
        format: opts.format,
        out: opts.out,
        source: opts.model,
        run: source.run?.dir ?? null,
        files,
        params: cost.params,
        macs: cost.macs,
        class_names: labelNames(model),
        image_size: model.input.size,
      };
    } catch (e) {
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
      throw e;
    }
  } finally {
    model.dispose();
  }
}
