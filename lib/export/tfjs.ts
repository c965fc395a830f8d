/**
 * A MobileNetV2 student as a TensorFlow.js LayersModel for browsers and Deno: Conv2D /
 * DepthwiseConv2D layers with batch norm folded into their kernels and biases (inference only),
 * ReLU6 as the convolutions' fused activation, Add for the residuals, GlobalAveragePooling2D and
 * a Dense head. tfjs "same" padding is TF "SAME" (extra pixel bottom/right), exactly the HF
 * `tf_padding` the student uses, so no explicit ZeroPadding2D is needed. Class names and the
 * preprocessing travel in `model.json`'s `userDefinedMetadata`.
 *
 * Files are written and read with IO handlers of our own: tfjs has no file:// saver or loader in
 * Deno (only tfjs-node has one, and it cannot be installed here).
 * @module
 */
import * as tf from "../tf.ts";
import { join } from "node:path";
import { UserError } from "../core/errors.ts";
import { checkListedPath } from "../core/paths.ts";
import type { InputSpec } from "../models/model.ts";
import {
  type MobileNetV2,
  mobileNetV2Convs,
  type NamedConv,
  walkMobileNetV2,
} from "../models/mobilenet_v2.ts";
import { labelNames, PIL_BILINEAR } from "./hf.ts";
import type { WebModelMetadata } from "./web_metadata.ts";

export type { WebModelMetadata } from "./web_metadata.ts";

/** tfjs-converter's default weight shard size. */
export const SHARD_BYTES = 4 * 1024 * 1024;

/** A layer name from an HF prefix: `mobilenet_v2.layer.3.conv_3x3` → `layer_3_conv_3x3`. */
function layerName(hfName: string): string {
  return hfName.replace(/^mobilenet_v2\./, "").replaceAll(".", "_");
}

/** Kernel and bias of a convolution with its batch norm folded in (float64 arithmetic). */
function foldBatchNorm(c: NamedConv, eps: number): { kernel: tf.Tensor; bias: tf.Tensor } {
  const w = c.weight.dataSync() as Float32Array;
  const shape = c.weight.shape as number[];
  // Kernels are [kh, kw, cin, cout] or, depthwise, [kh, kw, C, 1]: in both the output channel of
  // flat element i is i modulo the channel count.
  const channels = c.depthwise ? shape[2] : shape[3];
  const scale = new Float64Array(channels).fill(1);
  const bias = new Float32Array(channels);
  if (c.bn) {
    const g = c.bn.weight.dataSync(), b = c.bn.bias.dataSync();
    const m = c.bn.runningMean.dataSync(), v = c.bn.runningVar.dataSync();
    for (let i = 0; i < channels; i++) {
      scale[i] = g[i] / Math.sqrt(v[i] + eps);
      bias[i] = b[i] - m[i] * scale[i];
    }
  }
  const out = new Float32Array(w.length);
  for (let i = 0; i < w.length; i++) out[i] = w[i] * scale[i % channels];
  return { kernel: tf.tensor(out, shape), bias: tf.tensor1d(bias) };
}

/** Build the inference LayersModel of `model` (weights copied, BN folded). */
export function buildLayersModel(model: MobileNetV2): tf.LayersModel {
  const g = model.graph();
  if (mobileNetV2Convs(g).some((c) => c.dilation !== 1)) {
    throw new UserError(
      "tfjs export: dilated depthwise convolutions (output_stride < 32) are not supported by " +
        "tfjs-layers",
    );
  }
  const size = model.input.size;
  const input = tf.input({ shape: [size, size, model.config.numChannels as number ?? 3] });
  const weights: [tf.layers.Layer, tf.Tensor[]][] = [];
  const conv = (x: tf.SymbolicTensor, c: NamedConv): tf.SymbolicTensor => {
    const [kh, kw, , cout] = c.weight.shape as number[];
    const common = {
      kernelSize: [kh, kw] as [number, number],
      strides: c.stride,
      padding: "same" as const,
      useBias: true,
      activation: c.relu6 ? "relu6" as const : "linear" as const,
      name: layerName(c.name),
    };
    const layer = c.depthwise
      ? tf.layers.depthwiseConv2d({ ...common, depthMultiplier: 1 })
      : tf.layers.conv2d({ ...common, filters: cout });
    const { kernel, bias } = foldBatchNorm(c, g.eps);
    weights.push([layer, [kernel, bias]]);
    return layer.apply(x) as tf.SymbolicTensor;
  };
  let h = walkMobileNetV2(g, input, conv, (residual, output, b, i) =>
    tf.layers.add({
      name: `${layerName(b.project.name).replace(/_reduce_1x1$/, "")}_add_${i}`,
    }).apply([residual, output]) as tf.SymbolicTensor);
  h = tf.layers.globalAveragePooling2d({ name: "pooler" }).apply(h) as tf.SymbolicTensor;
  const dense = tf.layers.dense({ units: model.config.numLabels, name: "classifier" });
  const logits = dense.apply(h) as tf.SymbolicTensor;
  weights.push([dense, [tf.clone(g.classifier.weight), tf.clone(g.classifier.bias)]]);
  const web = tf.model({ inputs: input, outputs: logits, name: "mobilenet_v2_student" });
  for (const [layer, ws] of weights) {
    layer.setWeights(ws);
    tf.dispose(ws);
  }
  return web;
}

/** The `userDefinedMetadata` of an export of `model`. */
export function webMetadata(
  model: { config: { numLabels: number; labels?: string[] }; input: InputSpec },
  source: string,
): WebModelMetadata {
  return {
    class_names: labelNames(model),
    preprocessing: {
      size: model.input.size,
      resample: "pil_bilinear",
      resample_pil_code: PIL_BILINEAR,
      rescale_factor: 1 / 255,
      mean: [...model.input.mean],
      std: [...model.input.std],
      layout: "NHWC",
    },
    source,
    output: "logits",
    exported_at: new Date().toISOString(),
  };
}

function concat(data: tf.io.WeightData): Uint8Array {
  const parts = Array.isArray(data) ? data : [data];
  const total = parts.reduce((a, b) => a + b.byteLength, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(new Uint8Array(p), at);
    at += p.byteLength;
  }
  return out;
}

/**
 * An IO handler that writes `model.json` and `group1-shardKofN.bin` files (4 MiB shards, as
 * tfjs-converter does) into `dir`, which must exist.
 */
export function fileSaveHandler(dir: string, shardBytes = SHARD_BYTES): tf.io.IOHandler {
  return tf.io.withSaveHandler(async (artifacts) => {
    const bytes = concat(artifacts.weightData ?? new ArrayBuffer(0));
    const n = Math.max(1, Math.ceil(bytes.length / shardBytes));
    const paths = Array.from({ length: n }, (_, i) => `group1-shard${i + 1}of${n}.bin`);
    for (const [i, p] of paths.entries()) {
      await Deno.writeFile(join(dir, p), bytes.subarray(i * shardBytes, (i + 1) * shardBytes));
    }
    const modelJson = {
      format: artifacts.format ?? "layers-model",
      generatedBy: artifacts.generatedBy,
      convertedBy: "kd-vision export",
      modelTopology: artifacts.modelTopology,
      weightsManifest: [{ paths, weights: artifacts.weightSpecs ?? [] }],
      userDefinedMetadata: artifacts.userDefinedMetadata,
    };
    await Deno.writeTextFile(join(dir, "model.json"), JSON.stringify(modelJson) + "\n");
    return {
      modelArtifactsInfo: {
        dateSaved: new Date(),
        modelTopologyType: "JSON",
        weightDataBytes: bytes.length,
      },
    };
  });
}

/** An IO handler that reads a `model.json` + weight files folder (for `tf.loadLayersModel`). */
export function fileLoadHandler(dir: string): tf.io.IOHandler {
  return {
    load: async () => {
      const path = join(dir, "model.json");
      let json: tf.io.ModelJSON;
      try {
        json = JSON.parse(await Deno.readTextFile(path));
      } catch (e) {
        throw new UserError(`${path}: cannot read a tfjs model.json (${(e as Error).message})`);
      }
      if (!json?.modelTopology || !Array.isArray(json.weightsManifest)) {
        throw new UserError(`${path}: not a tfjs model (needs modelTopology and weightsManifest)`);
      }
      return tf.io.getModelArtifactsForJSON(json, async (manifest) => {
        const specs: tf.io.WeightsManifestEntry[] = [];
        const buffers: Uint8Array[] = [];
        for (const group of manifest) {
          // Every weights file must lie in the model's folder: model.json may come from anywhere.
          if (!Array.isArray(group?.paths)) {
            throw new UserError(`${path}: a weightsManifest entry has no "paths" list`);
          }
          const paths = group.paths.map((p) => checkListedPath(path, "weights path", p));
          specs.push(...group.weights);
          for (const p of paths) {
            try {
              buffers.push(await Deno.readFile(join(dir, p)));
            } catch (e) {
              throw new UserError(`${join(dir, p)}: cannot read weights (${(e as Error).message})`);
            }
          }
        }
        const all = concat(buffers.map((b) => b.slice().buffer as ArrayBuffer));
        return [specs, all.buffer as ArrayBuffer];
      });
    },
  };
}

/** Load an exported web model from a folder (Deno; browsers use `tf.loadLayersModel(url)`). */
export function loadWebModel(dir: string): Promise<tf.LayersModel> {
  return tf.loadLayersModel(fileLoadHandler(dir));
}

/** Write `model` as a tfjs LayersModel into the existing folder `dir`; returns the files written. */
export async function writeWebModel(
  model: MobileNetV2,
  dir: string,
  metadata: WebModelMetadata,
): Promise<string[]> {
  const web = buildLayersModel(model);
  try {
    web.setUserDefinedMetadata(metadata as unknown as Record<string, unknown>);
    await web.save(fileSaveHandler(dir));
  } finally {
    web.dispose();
  }
  const files: string[] = [];
  for await (const e of Deno.readDir(dir)) if (e.isFile) files.push(e.name);
  return files.sort();
}
