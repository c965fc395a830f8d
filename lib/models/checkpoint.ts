/**
 * The one save format for every model: a directory with `config.json` (`{config, input}`) and
 * `model.safetensors` (every state variable by name, tfjs layouts), written atomically.
 * @module
 */
import { createHash } from "node:crypto";
import * as tf from "../tf.ts";
import type { Classifier, InputSpec, ModelConfig } from "./model.ts";
import {
  assertAllUsed,
  assertDtype,
  assertFinite,
  dtypesFor,
  encodeSafetensors,
  getRaw,
  readSafetensors,
} from "./safetensors.ts";
import { UserError } from "../core/errors.ts";
import { makeStagingDir, replaceDir } from "../core/fs.ts";
import { MAX_IMAGE_SIZE } from "../data/preprocess.ts";
import {
  checkBounds,
  checkViTParameters,
  MAX_LABELS,
  MOBILENET_V2_SAVED_BOUNDS,
  VIT_SAVED_BOUNDS,
} from "./config_bounds.ts";

/** What `config.json` of a saved model holds. */
export interface SavedConfig {
  config: ModelConfig;
  input: InputSpec;
  /** Free-form provenance (how it was trained, scores); ignored when loading. */
  info?: Record<string, unknown>;
}

/** Write `model` to `dir` (replaced atomically: temp dir beside it, then rename). */
export async function saveModel(
  model: Classifier,
  dir: string,
  info?: Record<string, unknown>,
): Promise<void> {
  const parent = dir.replace(/\/+$/, "").split("/").slice(0, -1).join("/") || ".";
  await Deno.mkdir(parent, { recursive: true });
  const tmp = await makeStagingDir(parent, ".saving-", ".tmp");
  try {
    const saved: SavedConfig = { config: model.config, input: model.input, info };
    await Deno.writeTextFile(`${tmp}/config.json`, JSON.stringify(saved, null, 2) + "\n");
    await Deno.writeFile(
      `${tmp}/model.safetensors`,
      encodeSafetensors(model.stateVariables(), { format: "kd-toolkit", kind: model.config.kind }),
    );
    await replaceDir(tmp, dir);
  } catch (e) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw e;
  }
}

/** Read `config.json` of a saved model directory. */
export async function readSavedConfig(dir: string): Promise<SavedConfig> {
  const path = `${dir}/config.json`;
  let saved: SavedConfig;
  try {
    saved = JSON.parse(await Deno.readTextFile(path));
  } catch (e) {
    throw new UserError(`${path}: cannot read saved model config (${(e as Error).message})`);
  }
  if (typeof saved?.config?.kind !== "string" || typeof saved?.input?.size !== "number") {
    throw new UserError(`${path}: not a saved model config (needs config.kind and input.size)`);
  }
  // Every size is bounded before anything is built from it (see config_bounds.ts).
  checkBounds(path, saved.input as unknown as Record<string, unknown>, {
    size: { min: 1, max: MAX_IMAGE_SIZE, integer: true },
  });
  const config = saved.config as unknown as Record<string, unknown>;
  checkBounds(path, config, { numLabels: { min: 1, max: MAX_LABELS, integer: true } });
  if (saved.config.kind === "mobilenet_v2") checkBounds(path, config, MOBILENET_V2_SAVED_BOUNDS);
  if (saved.config.kind === "vit") {
    checkBounds(path, config, VIT_SAVED_BOUNDS);
    checkViTParameters(path, config as unknown as Parameters<typeof checkViTParameters>[1]);
  }
  return saved;
}

/**
 * Assign every state variable of `model` from `dir/model.safetensors`; all tensors are checked
 * (presence, shape, element type, finite values, none left unused) before any is assigned.
 */
export async function loadStateInto(model: Classifier, dir: string): Promise<void> {
  const file = await readSafetensors(`${dir}/model.safetensors`);
  assertAllUsed(file, model.stateVariables().keys());
  const values: [tf.Variable, tf.Tensor][] = [];
  try {
    for (const [name, v] of model.stateVariables()) {
      const raw = getRaw(file, name, v.shape);
      assertDtype(raw, dtypesFor(v.dtype), `${dir}/model.safetensors: tensor "${name}"`);
      const data = raw.data instanceof Float32Array
        ? raw.data
        : Float32Array.from(raw.data, Number);
      assertFinite(data, `${dir}/model.safetensors: tensor "${name}"`);
      values.push([v, tf.tensor(data, raw.shape, v.dtype)]);
    }
  } catch (e) {
    tf.dispose(values.map((p) => p[1]));
    throw e;
  }
  for (const [v, t] of values) {
    v.assign(t);
    t.dispose();
  }
}

/**
 * sha256 (hex) over the state tensors in name order: names, shapes and float32 bytes. Pass a
 * variable map instead of a model to hash a subset (e.g. a backbone without its head).
 */
export async function weightsChecksum(
  model: Classifier | Map<string, tf.Variable>,
): Promise<string> {
  const map = model instanceof Map ? model : model.stateVariables();
  const vars = [...map.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1));
  const hash = createHash("sha256");
  for (const [name, v] of vars) {
    hash.update(`${name}:${v.shape.join("x")}:${v.dtype};`);
    const d = await v.data();
    hash.update(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
  }
  return hash.digest("hex");
}
