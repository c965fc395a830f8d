/**
 * Model specs → models. Specs: `mobilenet_v2`, `mobilenet_v2@WIDTH` (a fresh student),
 * `hf:ORG/NAME` (fetched from the hub), `hf-dir:PATH` (a local HF checkpoint folder),
 * `tfjs-dir:PATH` (a tfjs LayersModel folder: its classifier head, or a new one with `reinitHead`), `dir:PATH` (a model saved by this
 * toolkit, any kind). Saved kinds map to builders in {@linkcode KINDS}, the one place a new
 * architecture registers.
 * @module
 */
import { type Classifier, type InputSpec, type ModelConfig, REINIT_HEAD_HINT } from "./model.ts";
import {
  loadHFMobileNetV2,
  MobileNetV2,
  type MobileNetV2Options,
  mobileNetV2OptionsFromHF,
} from "./mobilenet_v2.ts";
import { loadHFViT, ViT, type ViTConfig } from "./vit.ts";
import { type BackboneConfig, LayersBackbone, loadTfjsLayersDir } from "./layers_backbone.ts";
import { loadStateInto, readSavedConfig } from "./checkpoint.ts";
import { fetchHFModel } from "./hub.ts";
import { openHFWeights } from "./hf_checkpoint.ts";
import { ensureBackend } from "../backend.ts";
import { UserError } from "../core/errors.ts";
import { isJsonObject } from "../core/fs.ts";
import { MOBILENET_V2_HF_BOUNDS } from "./config_bounds.ts";

/**
 * Options for {@linkcode createModel}.
 *
 * @example The tiny MobileNetV2 checkpoint with a freshly initialised two-class head
 * ```ts
 * import { createModel, type CreateOptions } from "@kd/vision/models";
 *
 * const opts: CreateOptions = {
 *   numLabels: 2,
 *   labels: ["diseased", "healthy"],
 *   reinitHead: true,
 *   seed: 0,
 *   quiet: true,
 * };
 * const model = await createModel("hf-dir:tests/fixtures/mobilenet_v2_tiny", opts);
 * console.log(model.config.numLabels, model.config.labels); // 2 [ "diseased", "healthy" ]
 * model.dispose();
 * ```
 */
export interface CreateOptions {
  /**
   * Label count of the dataset the model is for: required for fresh students and `tfjs-dir:`,
   * checked against loaded models (see `reinitHead`).
   */
  numLabels?: number;
  /** Class names in label order, saved in the config of a new or re-initialised head. */
  labels?: string[];
  /** Input side for fresh students (default 224). */
  imageSize?: number;
  /** Replace a pretrained head whose label count differs (warns loudly). */
  reinitHead?: boolean;
  /** Seed of the initialisation of new weights (a fresh student, a new head); default random. */
  seed?: number;
  /** Print nothing (e.g. no download progress for `hf:` specs). */
  quiet?: boolean;
  /** Extra MobileNetV2 options for fresh students (e.g. bnMomentum, classifierDropoutProb). */
  student?: Partial<MobileNetV2Options>;
}

/** How to rebuild a saved model of one kind from its `config.json` (weights assigned after). */
type Builder = (config: ModelConfig, input: InputSpec) => Promise<Classifier> | Classifier;

/** Saved-model kinds and their builders: register new architectures here. */
export const KINDS: Record<string, Builder> = {
  mobilenet_v2: (c) => new MobileNetV2(c as unknown as MobileNetV2Options),
  vit: (c, input) => new ViT(c as ViTConfig, input),
  layers_backbone: (c, input) => LayersBackbone.build(c as BackboneConfig, input),
};

/** The spec forms, for error messages and `--help`. */
export const SPEC_FORMS = [
  "mobilenet_v2",
  "mobilenet_v2@WIDTH (e.g. mobilenet_v2@0.5)",
  "hf:ORG/NAME[@REVISION]",
  "hf-dir:PATH",
  "tfjs-dir:PATH",
  "dir:PATH",
];

function unknownSpec(spec: string, why = "unknown model spec"): UserError {
  return new UserError(`${why} "${spec}"; valid forms: ${SPEC_FORMS.join(", ")}`);
}

function checkLabels(model: Classifier, spec: string, opts: CreateOptions): Classifier {
  if (opts.numLabels !== undefined && model.config.numLabels !== opts.numLabels) {
    model.dispose();
    throw new UserError(
      `${spec}: the model has ${model.config.numLabels} labels but the dataset has ${opts.numLabels}`,
    );
  }
  return model;
}

/**
 * Load a model saved with `saveModel` (any registered kind).
 *
 * @example Load a trained run's best model
 * ```ts
 * import { loadModel, predictLogits } from "@kd/vision/models";
 * import { loadSplit } from "@kd/vision/data";
 * import { presetRecipe, train } from "@kd/vision/train";
 *
 * const out = await Deno.makeTempDir();
 * const data = "tests/fixtures/beans";
 * await train({ ...presetRecipe("smoke"), epochs: 1, student: "mobilenet_v2@0.35", teacher: null, data, trainSplit: "train", valSplit: "validation", seed: 0 }, { out, quiet: true });
 * const model = await loadModel(`${out}/best`);
 * const val = await loadSplit({ data, split: "validation", preprocess: model.input, quiet: true });
 * console.log((await predictLogits(model, val, { quiet: true })).length); // 15 images × 3 classes
 * model.dispose();
 * ```
 */
export async function loadModel(dir: string): Promise<Classifier> {
  // A script's first call may be this one: without a backend, tfjs's first op throws.
  await ensureBackend();
  const saved = await readSavedConfig(dir);
  const build = KINDS[saved.config.kind];
  if (!build) {
    throw new UserError(
      `${dir}/config.json: unknown model kind "${saved.config.kind}" (known: ${
        Object.keys(KINDS).join(", ")
      })`,
    );
  }
  const model = await build(saved.config, saved.input);
  try {
    await loadStateInto(model, dir);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}

async function hfDir(dir: string, spec: string, opts: CreateOptions): Promise<Classifier> {
  let hf: Record<string, unknown>;
  try {
    hf = JSON.parse(await Deno.readTextFile(`${dir}/config.json`));
  } catch (e) {
    throw new UserError(`${spec}: cannot read ${dir}/config.json (${(e as Error).message})`);
  }
  if (!isJsonObject(hf)) {
    throw new UserError(`${spec}: ${dir}/config.json is not a JSON object`);
  }
  if (hf.model_type === "mobilenet_v2") {
    const o = mobileNetV2OptionsFromHF(hf, `${dir}/config.json`);
    const reinit = opts.numLabels !== undefined && opts.numLabels !== o.numLabels;
    if (reinit && !opts.reinitHead) return checkLabels(new MobileNetV2(o), spec, opts);
    const model = new MobileNetV2({
      ...o,
      ...(reinit ? { numLabels: opts.numLabels!, labels: opts.labels } : {}),
      seed: opts.seed,
    });
    try {
      loadHFMobileNetV2(model, await openHFWeights(dir), {
        skip: reinit ? (n) => n.startsWith("classifier.") : undefined,
      });
    } catch (e) {
      model.dispose();
      throw e;
    }
    return model;
  }
  return loadHFViT(dir, {
    numLabels: opts.numLabels,
    labels: opts.labels,
    reinitHead: opts.reinitHead,
    seed: opts.seed,
    quiet: opts.quiet,
  });
}

/** A parsed model spec. */
export type ParsedSpec =
  | { kind: "mobilenet_v2"; width: number }
  | { kind: "hf" | "hf-dir" | "tfjs-dir" | "dir"; target: string };

/** Parse a model spec without loading anything; unknown forms throw a UserError listing the valid ones. */
export function parseSpec(spec: string): ParsedSpec {
  const m = /^mobilenet_v2(?:@(.+))?$/.exec(spec);
  if (m) {
    const width = m[1] === undefined ? 1.0 : Number(m[1]);
    // The same bound as a config's depth_multiplier (see config_bounds.ts).
    const max = MOBILENET_V2_HF_BOUNDS.depth_multiplier.max;
    if (!(width > 0) || !(width <= max)) throw unknownSpec(spec, `bad width (0 < W <= ${max}) in`);
    return { kind: "mobilenet_v2", width };
  }
  const colon = spec.indexOf(":");
  const scheme = colon > 0 ? spec.slice(0, colon) : "";
  const target = spec.slice(colon + 1);
  if (!target || !["hf", "hf-dir", "tfjs-dir", "dir"].includes(scheme)) throw unknownSpec(spec);
  return { kind: scheme as "hf" | "hf-dir" | "tfjs-dir" | "dir", target };
}

/**
 * The local folder a spec reads its model from (`dir:`, `hf-dir:`, `tfjs-dir:`), else null (a
 * fresh student, or `hf:` from the hub cache): what an output folder must keep clear of.
 */
export function specFolder(spec: string): string | null {
  const p = parseSpec(spec);
  return p.kind === "dir" || p.kind === "hf-dir" || p.kind === "tfjs-dir" ? p.target : null;
}

/**
 * Make sure the files a spec needs are here (a hub model is fetched into the Hugging Face cache;
 * other specs need nothing), so a missing one fails before any work.
 */
export async function ensureModelFiles(
  spec: string,
  opts: { quiet?: boolean } = {},
): Promise<void> {
  const p = parseSpec(spec);
  if (p.kind === "hf") await fetchHFModel(p.target, { quiet: opts.quiet });
}

/**
 * Build or load the model a spec names (see the module doc).
 *
 * @example A fresh student, and the tiny ViT fixture as a teacher
 * ```ts
 * import { createModel } from "@kd/vision/models";
 * import { assertEquals } from "@std/assert";
 *
 * const student = await createModel("mobilenet_v2@0.35", { numLabels: 3, imageSize: 32 });
 * const teacher = await createModel("hf-dir:tests/fixtures/vit_tiny", { numLabels: 3 });
 * assertEquals([student.config.numLabels, teacher.input.size], [3, 32]);
 * student.dispose();
 * teacher.dispose();
 * ```
 */
export async function createModel(spec: string, opts: CreateOptions = {}): Promise<Classifier> {
  await ensureBackend();
  const p = parseSpec(spec);
  if (p.kind === "mobilenet_v2") {
    if (opts.numLabels === undefined) {
      throw new UserError(`${spec}: the number of labels is needed`);
    }
    return new MobileNetV2({
      ...opts.student,
      numLabels: opts.numLabels,
      labels: opts.labels,
      depthMultiplier: p.width,
      imageSize: opts.imageSize ?? opts.student?.imageSize,
      seed: opts.seed,
    });
  }
  const rest = p.target;
  switch (p.kind) {
    case "hf":
      return hfDir((await fetchHFModel(rest, { quiet: opts.quiet })).dir, spec, opts);
    case "hf-dir":
      return hfDir(rest, spec, opts);
    case "tfjs-dir": {
      // A classifier keeps its head; a new one only when asked (--reinit-head), as for hf-dir.
      const model = await loadTfjsLayersDir(rest, {
        numLabels: opts.numLabels,
        labels: opts.labels,
        seed: opts.seed,
        head: opts.reinitHead ? "new" : "load",
      });
      if (opts.numLabels !== undefined && model.config.numLabels !== opts.numLabels) {
        model.dispose();
        throw new UserError(
          `${spec}: the model's head has ${model.config.numLabels} labels but the dataset has ` +
            `${opts.numLabels}`,
          { hint: REINIT_HEAD_HINT },
        );
      }
      return model;
    }
    case "dir":
      return checkLabels(await loadModel(rest), spec, opts);
  }
}
