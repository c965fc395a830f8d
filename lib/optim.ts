/**
 * Optimizers whose state lives in named variables, so checkpoints hold it and a resumed run
 * continues bit-for-bit. AdamW follows PyTorch/HF (decoupled weight decay, bias correction).
 * @module
 */
import * as tf from "./tf.ts";
import { adamUpdate, sumOfSquares } from "./backends/native/ops.ts";
import { UserError } from "./core/errors.ts";

/**
 * Optimizer names accepted by `--optimizer`.
 *
 * @example The optimizers a recipe can name
 * ```ts
 * import { OPTIMIZERS } from "@kd/vision/train";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals([...OPTIMIZERS], ["adamw", "adam", "sgd"]);
 * ```
 */
export const OPTIMIZERS = ["adamw", "adam", "sgd"] as const;
/**
 * One of {@linkcode OPTIMIZERS}.
 *
 * @example Check a name before using it in a recipe
 * ```ts
 * import { type OptimizerName, OPTIMIZERS } from "@kd/vision/train";
 *
 * const name = "sgd";
 * if ((OPTIMIZERS as readonly string[]).includes(name)) {
 *   const optimizer: { name: OptimizerName } = { name: name as OptimizerName };
 *   console.log(optimizer);
 * }
 * ```
 */
export type OptimizerName = typeof OPTIMIZERS[number];

/**
 * Optimizer settings.
 *
 * @example SGD with momentum instead of the preset's AdamW
 * ```ts
 * import { type OptimizerOptions, presetRecipe } from "@kd/vision/train";
 *
 * const optimizer: OptimizerOptions = { name: "sgd", momentum: 0.9, weightDecay: 5e-4 };
 * const recipe = { ...presetRecipe("smoke"), optimizer, lr: 0.05 };
 * console.log(recipe.optimizer);
 * ```
 */
export interface OptimizerOptions {
  /** Which optimizer. */
  name: OptimizerName;
  /**
   * Weight decay (default 0): decoupled from the gradient for `adamw` (as PyTorch), an L2 term
   * added to the gradient for `adam` and `sgd`.
   */
  weightDecay?: number;
  /** Adam's decay of the first-moment average (default 0.9). */
  beta1?: number;
  /** Adam's decay of the second-moment average (default 0.999). */
  beta2?: number;
  /** Adam's term added to the denominator for stability (default 1e-8). */
  eps?: number;
  /** SGD momentum. */
  momentum?: number;
}

/** An optimizer bound to a set of named variables. */
export interface Optimizer {
  /**
   * Apply one update with learning rate `lr`; gradients are keyed by variable name and used
   * multiplied by `gradScale` (default 1: gradient clipping's factor, applied inside the update
   * instead of as a pass of its own).
   */
  step(grads: Record<string, tf.Tensor>, lr: number, gradScale?: number): void;
  /** State variables (moments, step counter) by name, for checkpoints. */
  state(): Map<string, tf.Variable>;
  dispose(): void;
}

/** Parse and validate an optimizer name. */
export function parseOptimizer(name: string): OptimizerName {
  if (!(OPTIMIZERS as readonly string[]).includes(name)) {
    throw new UserError(`--optimizer must be one of ${OPTIMIZERS.join(", ")}, got "${name}"`);
  }
  return name as OptimizerName;
}

/** Build an optimizer for `params` (names must match the gradient keys). */
export function createOptimizer(
  params: Map<string, tf.Variable>,
  opts: OptimizerOptions,
): Optimizer {
  const state = new Map<string, tf.Variable>();
  const slot = (kind: string, name: string, v: tf.Variable) => {
    const key = `optimizer/${kind}/${name}`;
    let s = state.get(key);
    if (!s) {
      s = tf.variable(tf.zerosLike(v), false, `${key}#${crypto.randomUUID()}`);
      state.set(key, s);
    }
    return s;
  };
  const stepVar = tf.variable(tf.scalar(0), false, `optimizer/step#${crypto.randomUUID()}`);
  state.set("optimizer/step", stepVar);
  // Create every slot up front so state() is complete before the first step (for resume).
  for (const [name, v] of params) {
    if (opts.name === "sgd") {
      if (opts.momentum) slot("momentum", name, v);
    } else {
      slot("m", name, v);
      slot("v", name, v);
    }
  }
  const wd = opts.weightDecay ?? 0;
  const b1 = opts.beta1 ?? 0.9, b2 = opts.beta2 ?? 0.999, eps = opts.eps ?? 1e-8;

  return {
    step(grads, lr, gradScale = 1) {
      const t = stepVar.dataSync()[0] + 1;
      tf.tidy(() => {
        for (const [name, p] of params) {
          let g = grads[name];
          if (!g) continue;
          if (opts.name === "sgd") {
            if (gradScale !== 1) g = tf.mul(g, gradScale);
            if (wd) g = tf.add(g, tf.mul(p, wd));
            if (opts.momentum) {
              const buf = slot("momentum", name, p);
              buf.assign(t === 1 ? g : tf.add(tf.mul(buf, opts.momentum), g));
              g = buf;
            }
            p.assign(tf.sub(p, tf.mul(g, lr)));
            continue;
          }
          const m = slot("m", name, p), v = slot("v", name, p);
          // One fused pass on the native backend; the same composed ops elsewhere.
          const r = adamUpdate(p, g, m, v, {
            lr,
            beta1: b1,
            beta2: b2,
            eps,
            weightDecay: wd,
            decoupled: opts.name === "adamw",
            step: t,
            gradScale,
          });
          m.assign(r.m);
          v.assign(r.v);
          p.assign(r.param);
        }
        stepVar.assign(tf.scalar(t));
      });
    },
    state: () => state,
    dispose() {
      for (const v of state.values()) v.dispose();
    },
  };
}

/**
 * The factor that brings the gradients' global L2 norm to at most `maxNorm` (1 when it already
 * is, or `maxNorm` ≤ 0), and the norm before clipping. An optimizer applies the factor inside its
 * update (`step(grads, lr, scale)`), so clipping costs no pass over the gradients of its own.
 */
export async function globalNormClip(
  grads: Record<string, tf.Tensor>,
  maxNorm: number,
): Promise<{ norm: number; scale: number }> {
  const norm = Math.sqrt(await sumOfSquares(Object.values(grads)));
  return { norm, scale: maxNorm > 0 && norm > maxNorm ? maxNorm / (norm + 1e-6) : 1 };
}

/** Scale gradients so their global L2 norm is at most `maxNorm`; returns the norm before clipping. */
export async function clipByGlobalNorm(
  grads: Record<string, tf.Tensor>,
  maxNorm: number,
): Promise<number> {
  const { norm, scale } = await globalNormClip(grads, maxNorm);
  if (scale !== 1) {
    for (const k of Object.keys(grads)) {
      const old = grads[k];
      grads[k] = tf.mul(old, scale);
      old.dispose();
    }
  }
  return norm;
}
