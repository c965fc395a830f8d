/**
 * Frozen-backbone activations for a whole split, computed once in batches (progress on stderr)
 * and cached on disk, keyed by the backbone weights checksum, the split's data checksum, the
 * preprocessing and the layer, so probes and fine-tuning runs never recompute them.
 * @module
 */
import * as tf from "../tf.ts";
import type { TeacherBackbone } from "./backbone.ts";
import { weightsChecksum } from "../models/checkpoint.ts";
import { encodeSafetensors, getRaw, readSafetensors } from "../models/safetensors.ts";
import { type ImageSplit, toTensor } from "../data/dataset.ts";
import { cacheDir, cacheKey } from "../data/image_cache.ts";
import { Progress } from "../progress.ts";

/** Activations of every image of a split at one layer, as a flat float32 array. */
export interface SplitFeatures {
  /** `[n, ...]`: `[n, C]` when pooled, else the layer's NHWC activation shape. */
  shape: number[];
  data: Float32Array;
  labels: Int32Array;
  fromCache: boolean;
}

/** Options for {@linkcode splitFeatures}. */
export interface FeatureOptions {
  /** Layer to read: a block boundary (NHWC activations) or the feature layer (pooled). */
  layer: string;
  batchSize?: number;
  /** Cache folder (default `<cacheDir>/features`); `false` disables the disk cache. */
  cache?: string | false;
  quiet?: boolean;
}

/** Cache key of the backbone part of a model (its head excluded). */
export async function backboneChecksum(model: TeacherBackbone): Promise<string> {
  return await weightsChecksum(model.backboneVariables());
}

/** Activations of `split` at `opts.layer` (pooled when it is the feature layer), cached on disk. */
export async function splitFeatures(
  model: TeacherBackbone,
  split: ImageSplit,
  opts: FeatureOptions,
): Promise<SplitFeatures> {
  const pooled = opts.layer === model.featurePoint;
  const key = cacheKey({
    v: 2,
    kind: model.config.kind,
    weights: await backboneChecksum(model),
    data: split.checksum,
    split: split.name,
    n: split.n,
    input: model.input,
    layer: opts.layer,
    pooled,
  });
  const dir = opts.cache === false ? undefined : opts.cache ?? `${cacheDir()}/features`;
  const file = dir && `${dir}/${split.name}-${opts.layer}-${key}.safetensors`;
  if (file) {
    try {
      const f = await readSafetensors(file);
      const raw = getRaw(f, "features");
      if (raw.shape[0] === split.n) {
        return {
          shape: raw.shape,
          data: raw.data as Float32Array,
          labels: split.labels,
          fromCache: true,
        };
      }
    } catch { /* absent or unreadable: recompute */ }
  }
  const bs = opts.batchSize ?? 32;
  const progress = new Progress(`features ${split.name}@${opts.layer}`, split.n, {
    quiet: opts.quiet,
  });
  let data: Float32Array | undefined;
  let shape: number[] = [];
  for (let s = 0; s < split.n; s += bs) {
    const idx = Int32Array.from({ length: Math.min(bs, split.n - s) }, (_, i) => s + i);
    const out = tf.tidy(() => {
      const x = toTensor(split, idx, model.input);
      return pooled ? model.featuresFrom(null, x) : model.runFrom(null, x, { to: opts.layer });
    });
    const v = await out.data() as Float32Array;
    if (!data) {
      shape = [split.n, ...out.shape.slice(1)];
      data = new Float32Array(split.n * (v.length / idx.length));
    }
    data.set(v, s * (v.length / idx.length));
    out.dispose();
    progress.tick(idx.length);
  }
  progress.finish();
  if (file && dir && data) {
    try {
      await Deno.mkdir(dir, { recursive: true });
      const tmp = `${file}.tmp-${crypto.randomUUID().slice(0, 8)}`;
      await Deno.writeFile(tmp, encodeSafetensors({ features: { shape, data } }));
      await Deno.rename(tmp, file);
    } catch (e) {
      if (!opts.quiet) {
        console.error(`warning: cannot cache features at ${file}: ${(e as Error).message}`);
      }
    }
  }
  return { shape, data: data ?? new Float32Array(0), labels: split.labels, fromCache: false };
}
