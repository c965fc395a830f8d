/**
 * Pretrained CNN backbones that teachers are built from, behind one small interface: pooled
 * features at a named point, block boundaries to resume from, the head, and which part trains.
 * Both the HF MobileNetV2 port (`hf:`/`hf-dir:` specs, e.g. the hub's ImageNet
 * `google/mobilenet_v2_1.0_224`) and tfjs LayersModels (`tfjs-dir:`) implement it; a tfjs
 * LayersModel that is a MobileNetV2 with folded batch norms opens as the toolkit's MobileNetV2
 * (see `models/unfold_mobilenet_v2.ts`: same function, fused training kernels).
 * @module
 */
import type * as tf from "../tf.ts";
import { join } from "node:path";
import type { Classifier } from "../models/model.ts";
import { parseSpec } from "../models/registry.ts";
import { fetchHFModel } from "../models/hub.ts";
import { openHFWeights } from "../models/hf_checkpoint.ts";
import {
  loadHFMobileNetV2,
  MOBILENET_V2_POINTS,
  MobileNetV2,
  mobileNetV2OptionsFromHF,
} from "../models/mobilenet_v2.ts";
import { loadTfjsLayersDir } from "../models/layers_backbone.ts";
import { mobileNetV2FromLayers } from "../models/unfold_mobilenet_v2.ts";
import { type FlagHint, UserError } from "../core/errors.ts";
import { isJsonObject } from "../core/fs.ts";

/** A classifier whose body can be cut, cached and partly retrained (see the module doc). */
export interface TeacherBackbone extends Classifier {
  /** The point whose pooled output feeds the head. */
  readonly featurePoint: string;
  /** Width of the pooled features. */
  readonly featureSize: number;
  /** Points before the feature point, in order, where the network can be resumed from. */
  boundaries(): string[];
  /** Activations at `opts.to` (default the feature point) from `x`, the output of `from` (null: image). */
  runFrom(from: string | null, x: tf.Tensor, opts?: { training?: boolean; to?: string }): tf.Tensor;
  /** Pooled features at the feature point from `x`, the output of `from`. */
  featuresFrom(from: string | null, x: tf.Tensor, opts?: { training?: boolean }): tf.Tensor2D;
  /** Logits from pooled features. */
  head(features: tf.Tensor2D): tf.Tensor2D;
  /** Train only what follows `from` (null: the head only). */
  setTrainableFrom(from: string | null): void;
  /** Gradient kernels the current backend lacks for training what follows `from`. */
  missingKernels(from: string | null): string[];
  /** Every state variable except the head's. */
  backboneVariables(): Map<string, tf.Variable>;
}

/** The backbone teachers are built from unless `--backbone`/`KD_BACKBONE` says otherwise. */
export const DEFAULT_BACKBONE = "hf:google/mobilenet_v2_1.0_224";

/** What to tell a user whose backbone cannot be had (`--backbone` only where the command has it). */
export const BACKBONE_HINT: FlagHint = {
  flag: "backbone",
  text: "pass --backbone SPEC (or set KD_BACKBONE) naming a local copy, e.g. tfjs-dir:PATH or " +
    "hf-dir:PATH",
  otherwise: "name a local copy instead, e.g. tfjs-dir:PATH or hf-dir:PATH (env KD_BACKBONE)",
};

/**
 * The backbone in effect: the flag, else env `KD_BACKBONE`, else `fallback` (e.g. what an
 * experiment names), else {@linkcode DEFAULT_BACKBONE}.
 */
export function backboneSpec(flag?: string, fallback?: string): string {
  return flag || Deno.env.get("KD_BACKBONE") || fallback || DEFAULT_BACKBONE;
}

/** Options of {@linkcode openBackbone}. */
export interface OpenBackboneOptions {
  numLabels: number;
  labels?: string[];
  /** Point to pool features at: a name of the backbone's, or `block:K` (the end of block K). */
  featuresFrom?: string;
  /** Input side in pixels to run the backbone at (default: its own, e.g. 224). */
  imageSize?: number;
  seed?: number;
  quiet?: boolean;
}

/** An opened backbone and, for hub models, the commit it was read at. */
export interface OpenedBackbone {
  model: TeacherBackbone;
  commit?: string;
  /**
   * Set when a tfjs MobileNetV2 with folded batch norms was converted to the toolkit's
   * MobileNetV2: its batch norms need `calibrateBatchNorm` before they train.
   */
  unfolded?: MobileNetV2;
}

function mobileNetPoint(featuresFrom: string | undefined): string | undefined {
  if (featuresFrom === undefined) return undefined;
  const m = /^block:(\d+)$/.exec(featuresFrom);
  if (!m) return featuresFrom;
  const k = Number(m[1]);
  if (k < 1 || k > MOBILENET_V2_POINTS.length) {
    throw new UserError(
      `--features-from ${featuresFrom}: MobileNetV2 has blocks 1 to ${MOBILENET_V2_POINTS.length}`,
    );
  }
  return MOBILENET_V2_POINTS[k - 1];
}

async function hfMobileNet(
  dir: string,
  spec: string,
  opts: OpenBackboneOptions,
): Promise<TeacherBackbone> {
  const path = join(dir, "config.json");
  let hf: Record<string, unknown>;
  try {
    hf = JSON.parse(await Deno.readTextFile(path));
  } catch (e) {
    throw new UserError(`${spec}: cannot read ${path} (${(e as Error).message})`);
  }
  if (!isJsonObject(hf)) {
    throw new UserError(`${spec}: ${path} is not a JSON object`);
  }
  if (hf.model_type !== "mobilenet_v2") {
    throw new UserError(
      `${spec}: model_type ${JSON.stringify(hf.model_type)} cannot be a teacher backbone ` +
        `(supported: mobilenet_v2 via hf:/hf-dir:, tfjs LayersModels via tfjs-dir:)`,
    );
  }
  const cutAfter = mobileNetPoint(opts.featuresFrom);
  const model = new MobileNetV2({
    ...mobileNetV2OptionsFromHF(hf, path),
    ...(opts.imageSize ? { imageSize: opts.imageSize } : {}),
    numLabels: opts.numLabels,
    labels: opts.labels,
    cutAfter,
    // PyTorch's default for the (optional) tail fine-tuning; HF's 0.997 keeps ≈ the last batch.
    bnMomentum: 0.1,
    seed: opts.seed,
  });
  try {
    loadHFMobileNetV2(model, await openHFWeights(dir), {
      skip: (n) => n.startsWith("classifier."),
    });
  } catch (e) {
    model.dispose();
    throw e;
  }
  model.setTrainableFrom(null);
  return model;
}

/** Open the backbone `spec` (`hf:`, `hf-dir:` or `tfjs-dir:`) with a fresh `numLabels` head. */
export async function openBackbone(
  spec: string,
  opts: OpenBackboneOptions,
): Promise<OpenedBackbone> {
  const p = parseSpec(spec);
  switch (p.kind) {
    case "hf": {
      const hub = await fetchHFModel(p.target, { quiet: opts.quiet, hint: BACKBONE_HINT });
      return { model: await hfMobileNet(hub.dir, spec, opts), commit: hub.commit };
    }
    case "hf-dir":
      return { model: await hfMobileNet(p.target, spec, opts) };
    case "tfjs-dir": {
      if (opts.imageSize && opts.featuresFrom !== undefined) {
        // A LayersModel's input size is part of its graph; only the unfolded MobileNetV2 resizes.
        throw new UserError(
          `--image-size with --features-from: a tfjs backbone cut at a layer keeps its own ` +
            `input size (${spec})`,
        );
      }
      const layers = await loadTfjsLayersDir(p.target, {
        numLabels: opts.numLabels,
        labels: opts.labels,
        featureLayer: opts.featuresFrom,
        seed: opts.seed,
        source: spec,
      });
      // Cut earlier (--features-from), it stays a LayersModel: the cut points are its layers'.
      const unfolded = opts.featuresFrom === undefined
        ? mobileNetV2FromLayers(layers, { seed: opts.seed, imageSize: opts.imageSize })
        : null;
      if (!unfolded) {
        if (opts.imageSize && opts.imageSize !== layers.input.size) {
          layers.dispose();
          throw new UserError(
            `--image-size ${opts.imageSize}: ${spec} is not a MobileNetV2 the toolkit can ` +
              `convert, and a tfjs LayersModel keeps its own input size (${layers.input.size} px)`,
          );
        }
        return { model: layers };
      }
      layers.dispose();
      unfolded.setTrainableFrom(null);
      return { model: unfolded, unfolded };
    }
    default:
      throw new UserError(
        `backbone "${spec}": teachers are built from hf:ORG/NAME[@REV], hf-dir:PATH ` +
          `(a MobileNetV2 checkpoint) or tfjs-dir:PATH (a tfjs LayersModel)`,
      );
  }
}
