/**
 * Hugging Face `ViTForImageClassification` (and DeiT checkpoints with the same layout) as a
 * functional tfjs model: pre-norm encoder blocks, exact-erf GELU, LayerNorm eps from the config,
 * CLS-token head. Variables carry the HF tensor names; weights are kept in tfjs layouts
 * (linear `[in,out]`, patch projection HWIO). Inputs are NHWC; see {@linkcode nchwToNhwc}.
 * @module
 */
import * as tf from "../tf.ts";
import { type Classifier, type InputSpec, type ModelConfig, REINIT_HEAD_HINT } from "./model.ts";
import { gelu, layerNorm, linear, ParamStore } from "./layers.ts";
import { openHFWeights } from "./hf_checkpoint.ts";
import { assertAllUsed } from "./safetensors.ts";
import { assignAll, loadTorchTensors, type TorchLayout } from "./torch_layout.ts";
import { UserError } from "../core/errors.ts";
import { isJsonObject } from "../core/fs.ts";
import { checkBounds, checkViTParameters, MAX_LABELS, VIT_HF_BOUNDS } from "./config_bounds.ts";
import {
  type EncoderWeights,
  InferenceHandle,
  nativeInferenceActive,
  runEncoder,
} from "../backends/native/inference_graph.ts";

/** Architecture of a ViT/DeiT classifier, derived from an HF `config.json`. */
export interface ViTConfig extends ModelConfig {
  kind: "vit";
  /** Tensor-name prefix: "vit" or "deit". */
  prefix: "vit" | "deit";
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  intermediateSize: number;
  imageSize: number;
  patchSize: number;
  numChannels: number;
  layerNormEps: number;
  qkvBias: boolean;
  initializerRange: number;
  /** DeiT's extra distillation token after the CLS token. */
  distillationToken: boolean;
  /** "cls" = `classifier` on the CLS token; "cls+dist" = DeiT-with-teacher average of two heads. */
  head: "cls" | "cls+dist";
}

function num(hf: Record<string, unknown>, key: string, path: string, fallback?: number): number {
  const v = hf[key] ?? fallback;
  if (typeof v !== "number" || !Number.isFinite(v)) {
    throw new UserError(`${path}: "${key}" must be a number, got ${JSON.stringify(hf[key])}`);
  }
  return v;
}

/** A size or count: a positive integer. */
function count(hf: Record<string, unknown>, key: string, path: string, fallback?: number): number {
  const v = num(hf, key, path, fallback);
  if (!Number.isInteger(v) || v < 1) {
    throw new UserError(`${path}: "${key}" must be a positive integer, got ${JSON.stringify(v)}`);
  }
  return v;
}

/** Translate an HF ViT/DeiT `config.json` object; unknown model types are a UserError. */
export function vitConfigFromHF(hf: Record<string, unknown>, path = "config.json"): ViTConfig {
  const type = hf.model_type;
  if (type !== "vit" && type !== "deit") {
    throw new UserError(
      `${path}: unsupported model_type ${JSON.stringify(type)} (supported: vit, deit)`,
    );
  }
  if ((hf.hidden_act ?? "gelu") !== "gelu") {
    throw new UserError(`${path}: unsupported hidden_act ${JSON.stringify(hf.hidden_act)} (gelu)`);
  }
  checkBounds(path, hf, VIT_HF_BOUNDS);
  const id2label = (hf.id2label ?? {}) as Record<string, string>;
  if (hf.num_labels === undefined && Object.keys(id2label).length > MAX_LABELS) {
    throw new UserError(`${path}: "id2label" has more than ${MAX_LABELS} labels`);
  }
  const numLabels = count(hf, "num_labels", path, Object.keys(id2label).length || undefined);
  const labels = Object.keys(id2label).length === numLabels
    ? Array.from({ length: numLabels }, (_, i) => String(id2label[String(i)] ?? `LABEL_${i}`))
    : undefined;
  const imageSize = count(hf, "image_size", path, 224);
  const patchSize = count(hf, "patch_size", path, 16);
  if (imageSize % patchSize !== 0) {
    throw new UserError(`${path}: image_size ${imageSize} is not a multiple of patch ${patchSize}`);
  }
  const hidden = count(hf, "hidden_size", path);
  const heads = count(hf, "num_attention_heads", path);
  if (hidden % heads !== 0) {
    throw new UserError(`${path}: hidden_size ${hidden} not divisible by ${heads} heads`);
  }
  const archs = (hf.architectures ?? []) as string[];
  const config: ViTConfig = {
    kind: "vit",
    prefix: type,
    numLabels,
    labels,
    hiddenSize: hidden,
    numLayers: count(hf, "num_hidden_layers", path),
    numHeads: heads,
    intermediateSize: count(hf, "intermediate_size", path),
    imageSize,
    patchSize,
    numChannels: count(hf, "num_channels", path, 3),
    layerNormEps: num(hf, "layer_norm_eps", path, 1e-12),
    qkvBias: (hf.qkv_bias ?? true) !== false,
    initializerRange: num(hf, "initializer_range", path, 0.02),
    distillationToken: type === "deit",
    head: archs.some((a) => a.endsWith("WithTeacher")) ? "cls+dist" : "cls",
  };
  checkViTParameters(path, config);
  return config;
}

interface LayerParams {
  lnBefore: [tf.Variable, tf.Variable];
  lnAfter: [tf.Variable, tf.Variable];
  q: [tf.Variable, tf.Variable?];
  k: [tf.Variable, tf.Variable?];
  v: [tf.Variable, tf.Variable?];
  o: [tf.Variable, tf.Variable];
  fc1: [tf.Variable, tf.Variable];
  fc2: [tf.Variable, tf.Variable];
}

/** The ViT/DeiT classifier (see the module doc). */
export class ViT implements Classifier {
  readonly config: ViTConfig;
  readonly input: InputSpec;
  #store: ParamStore;
  #layouts = new Map<string, TorchLayout>();
  #p: Record<string, tf.Variable> = {};
  #layers: LayerParams[] = [];
  #heads: [tf.Variable, tf.Variable][] = [];
  #inference?: InferenceHandle<EncoderWeights>;

  /** Build with HF-style random init (normal(0, initializer_range), zero biases, LN 1/0). */
  constructor(config: ViTConfig, input?: InputSpec, seed?: number) {
    this.config = config;
    this.input = input ??
      { size: config.imageSize, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] };
    this.#store = new ParamStore(seed);
    const c = config, P = c.prefix, H = c.hiddenSize, std = c.initializerRange;
    const n = (c.imageSize / c.patchSize) ** 2 + 1 + (c.distillationToken ? 1 : 0);
    const add = (name: string, shape: number[], layout: TorchLayout, init: "n" | 0 | 1) => {
      this.#layouts.set(name, layout);
      return init === "n"
        ? this.#store.normal(name, shape, std)
        : this.#store.fill(name, shape, init);
    };
    const lin = (name: string, i: number, o: number, bias = true): [tf.Variable, tf.Variable] => [
      add(`${name}.weight`, [i, o], "linear", "n"),
      bias ? add(`${name}.bias`, [o], "same", 0) : undefined as unknown as tf.Variable,
    ];
    const ln = (name: string): [tf.Variable, tf.Variable] => [
      add(`${name}.weight`, [H], "same", 1),
      add(`${name}.bias`, [H], "same", 0),
    ];
    this.#p.cls = add(`${P}.embeddings.cls_token`, [1, 1, H], "same", "n");
    if (c.distillationToken) {
      this.#p.dist = add(`${P}.embeddings.distillation_token`, [1, 1, H], "same", "n");
    }
    this.#p.pos = add(`${P}.embeddings.position_embeddings`, [1, n, H], "same", "n");
    const pe = `${P}.embeddings.patch_embeddings.projection`;
    this.#p.patchW = add(`${pe}.weight`, [c.patchSize, c.patchSize, c.numChannels, H], "conv", "n");
    this.#p.patchB = add(`${pe}.bias`, [H], "same", 0);
    for (let i = 0; i < c.numLayers; i++) {
      const L = `${P}.encoder.layer.${i}`;
      this.#layers.push({
        lnBefore: ln(`${L}.layernorm_before`),
        lnAfter: ln(`${L}.layernorm_after`),
        q: lin(`${L}.attention.attention.query`, H, H, c.qkvBias),
        k: lin(`${L}.attention.attention.key`, H, H, c.qkvBias),
        v: lin(`${L}.attention.attention.value`, H, H, c.qkvBias),
        o: lin(`${L}.attention.output.dense`, H, H),
        fc1: lin(`${L}.intermediate.dense`, H, c.intermediateSize),
        fc2: lin(`${L}.output.dense`, c.intermediateSize, H),
      });
    }
    [this.#p.lnW, this.#p.lnB] = ln(`${P}.layernorm`);
    if (c.head === "cls") this.#heads.push(lin("classifier", H, c.numLabels));
    else {
      this.#heads.push(lin("cls_classifier", H, c.numLabels));
      this.#heads.push(lin("distillation_classifier", H, c.numLabels));
    }
  }

  /** PyTorch layout of each variable, for loading HF checkpoints. */
  torchLayouts(): Map<string, TorchLayout> {
    return new Map(this.#layouts);
  }

  /** Names of the classification-head variables (re-initialised by `reinitHead`). */
  headNames(): string[] {
    return [...this.#layouts.keys()].filter((k) => k.includes("classifier."));
  }

  trainableVariables(): Map<string, tf.Variable> {
    return new Map(this.#store.trainable);
  }

  stateVariables(): Map<string, tf.Variable> {
    return new Map(this.#store.state);
  }

  apply(x: tf.Tensor4D, _opts: { training?: boolean } = {}): tf.Tensor2D {
    const c = this.config, H = c.hiddenSize, nh = c.numHeads, dh = H / nh;
    if (x.shape[1] !== c.imageSize || x.shape[2] !== c.imageSize || x.shape[3] !== c.numChannels) {
      throw new UserError(
        `vit: input [${x.shape}] does not match [batch, ${c.imageSize}, ${c.imageSize}, ${c.numChannels}] (NHWC)`,
      );
    }
    if (nativeInferenceActive() && x.dtype === "float32") {
      this.#inference ??= new InferenceHandle(
        () => this.#encoderWeights(),
        () => [...this.#store.state.values()].map((v) => v.dataId),
      );
      return runEncoder(this.#inference, x);
    }
    return tf.tidy(() => {
      const B = x.shape[0];
      const patches = tf.add(
        tf.conv2d(x, this.#p.patchW as tf.Tensor4D, c.patchSize, "valid"),
        this.#p.patchB,
      );
      const tokens: tf.Tensor[] = [tf.tile(this.#p.cls, [B, 1, 1])];
      if (this.#p.dist) tokens.push(tf.tile(this.#p.dist, [B, 1, 1]));
      tokens.push(tf.reshape(patches, [B, -1, H]));
      let h: tf.Tensor = tf.add(tf.concat(tokens, 1), this.#p.pos);
      const T = h.shape[1]!;
      const heads = (t: tf.Tensor) => tf.transpose(tf.reshape(t, [B, T, nh, dh]), [0, 2, 1, 3]);
      for (const L of this.#layers) {
        const a = layerNorm(h, L.lnBefore[0], L.lnBefore[1], c.layerNormEps);
        const q = heads(linear(a, L.q[0], L.q[1])) as tf.Tensor4D;
        const k = heads(linear(a, L.k[0], L.k[1])) as tf.Tensor4D;
        const v = heads(linear(a, L.v[0], L.v[1])) as tf.Tensor4D;
        const scores = tf.div(tf.matMul(q, k, false, true), Math.sqrt(dh));
        const ctx = tf.matMul(tf.softmax(scores), v);
        const merged = tf.reshape(tf.transpose(ctx, [0, 2, 1, 3]), [B, T, H]);
        h = tf.add(linear(merged, L.o[0], L.o[1]), h);
        const m = layerNorm(h, L.lnAfter[0], L.lnAfter[1], c.layerNormEps);
        h = tf.add(linear(gelu(linear(m, L.fc1[0], L.fc1[1])), L.fc2[0], L.fc2[1]), h);
      }
      h = layerNorm(h, this.#p.lnW, this.#p.lnB, c.layerNormEps);
      const tok = (i: number) => tf.reshape(tf.slice(h, [0, i, 0], [B, 1, H]), [B, H]);
      if (this.#heads.length === 1) {
        return linear(tok(0), this.#heads[0][0], this.#heads[0][1]) as tf.Tensor2D;
      }
      const a = linear(tok(0), this.#heads[0][0], this.#heads[0][1]);
      const d = linear(tok(1), this.#heads[1][0], this.#heads[1][1]);
      return tf.div(tf.add(a, d), 2) as tf.Tensor2D;
    });
  }

  /** The weights as the native encoder takes them (Q, K, V concatenated per layer). */
  #encoderWeights(): EncoderWeights {
    const c = this.config, H = c.hiddenSize;
    const v = (t?: tf.Variable) => t ? t.dataSync() as Float32Array : null;
    const pair = (p: [tf.Variable, tf.Variable?], n: number): [Float32Array, Float32Array] => [
      v(p[0])!,
      v(p[1]) ?? new Float32Array(n),
    ];
    const layers = this.#layers.map((L) => {
      const qkvW = new Float32Array(H * 3 * H), qkvB = new Float32Array(3 * H);
      [L.q, L.k, L.v].forEach((p, i) => {
        const [w, b] = pair(p, H);
        for (let r = 0; r < H; r++) qkvW.set(w.subarray(r * H, (r + 1) * H), r * 3 * H + i * H);
        qkvB.set(b, i * H);
      });
      return {
        ln1: pair(L.lnBefore, H),
        qkv: [qkvW, qkvB] as [Float32Array, Float32Array],
        out: pair(L.o, H),
        ln2: pair(L.lnAfter, H),
        fc1: pair(L.fc1, c.intermediateSize),
        fc2: pair(L.fc2, H),
      };
    });
    return {
      hidden: H,
      heads: c.numHeads,
      intermediate: c.intermediateSize,
      eps: c.layerNormEps,
      patchSize: c.patchSize,
      channels: c.numChannels,
      patch: [v(this.#p.patchW)!, v(this.#p.patchB)!],
      prefix: [this.#p.cls, ...(this.#p.dist ? [this.#p.dist] : [])].map((t) => v(t)!),
      position: v(this.#p.pos)!,
      layers,
      norm: [v(this.#p.lnW)!, v(this.#p.lnB)!],
      classifiers: this.#heads.map((h) => pair(h, c.numLabels)),
    };
  }

  dispose(): void {
    this.#inference?.dispose();
    this.#store.dispose();
  }
}

/** NCHW (as HF `pixel_values`) → NHWC. */
export function nchwToNhwc(x: tf.Tensor4D): tf.Tensor4D {
  return tf.transpose(x, [0, 2, 3, 1]);
}

/** Options for {@linkcode loadHFViT}. */
export interface LoadViTOptions {
  /** Labels the caller's dataset has; a different count is an error unless `reinitHead`. */
  numLabels?: number;
  labels?: string[];
  /** Replace a mismatched head with a freshly initialised one (warns loudly). */
  reinitHead?: boolean;
  seed?: number;
  quiet?: boolean;
}

async function readJson(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new UserError(`${path}: cannot read (${(e as Error).message})`);
  }
  try {
    const v = JSON.parse(text);
    if (!isJsonObject(v)) throw new Error("not an object");
    return v;
  } catch (e) {
    throw new UserError(`${path}: invalid JSON (${(e as Error).message})`);
  }
}

/** Input spec from an HF `preprocessor_config.json` when present, else size from the config and 0.5/0.5. */
async function inputSpec(dir: string, size: number): Promise<InputSpec> {
  const path = `${dir}/preprocessor_config.json`;
  try {
    await Deno.stat(path);
  } catch {
    return { size, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] };
  }
  const p = await readJson(path);
  const s = p.size as number | { height?: number; shortest_edge?: number } | undefined;
  const side = typeof s === "number" ? s : s?.height ?? s?.shortest_edge ?? size;
  const trio = (v: unknown, d: number): [number, number, number] =>
    Array.isArray(v) && v.length === 3 ? v as [number, number, number] : [d, d, d];
  return { size: side, mean: trio(p.image_mean, 0.5), std: trio(p.image_std, 0.5) };
}

/**
 * Load an HF ViT/DeiT image classifier from a directory holding `config.json` and its weights
 * (any form `openHFWeights` reads). All tensors are checked before any is assigned, so a bad
 * checkpoint never yields a partial model.
 */
export async function loadHFViT(dir: string, opts: LoadViTOptions = {}): Promise<ViT> {
  const hf = await readJson(`${dir}/config.json`);
  const cfg = vitConfigFromHF(hf, `${dir}/config.json`);
  const file = await openHFWeights(dir);
  let reinit = false;
  if (opts.numLabels !== undefined && opts.numLabels !== cfg.numLabels) {
    if (!opts.reinitHead) {
      throw new UserError(
        `${dir}: the checkpoint has ${cfg.numLabels} labels but the dataset has ${opts.numLabels}`,
        { hint: REINIT_HEAD_HINT },
      );
    }
    console.error(
      `WARNING: ${dir}: classifier head has ${cfg.numLabels} labels, the dataset ${opts.numLabels}: ` +
        `the head is RE-INITIALISED at random (--reinit-head); the model needs fine-tuning`,
    );
    cfg.numLabels = opts.numLabels;
    cfg.labels = opts.labels;
    reinit = true;
  }
  const model = new ViT(cfg, await inputSpec(dir, cfg.imageSize), opts.seed);
  try {
    const layouts = model.torchLayouts();
    if (reinit) { for (const n of model.headNames()) layouts.delete(n); }
    // A re-initialised head leaves the checkpoint's head unused; anything else unused means the
    // config describes another model than the weights (e.g. fewer layers).
    const head = new Set(model.headNames());
    assertAllUsed(file, model.torchLayouts().keys(), (k) => reinit && head.has(k));
    const values = loadTorchTensors(file, model.stateVariables(), layouts);
    assignAll(model.stateVariables(), values);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}
