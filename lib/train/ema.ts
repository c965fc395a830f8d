/**
 * An exponential moving average of the student's weights (and BN running statistics), evaluated
 * and saved in place of the raw weights. On a small dataset a from-scratch student's validation
 * accuracy swings by several points from one epoch (and one seed) to the next; the average over
 * the last few hundred steps is a flatter, less seed-dependent model (the `ModelEma` of
 * pytorch-image-models). Warm-up as there: the decay is min(decay, (1 + step) / (10 + step)), so
 * early averages are not dominated by the random initialisation.
 * @module
 */
import * as tf from "../tf.ts";
import type { Classifier } from "../models/model.ts";

/** The averaged weights of one student, by its state variables' names. */
export class WeightEma {
  readonly #model: Classifier;
  readonly #decay: number;
  readonly #shadow = new Map<string, tf.Variable>();

  /** Start the average at the model's current weights; `decay` in (0, 1). */
  constructor(model: Classifier, decay: number) {
    this.#model = model;
    this.#decay = decay;
    for (const [name, v] of model.stateVariables()) {
      this.#shadow.set(name, tf.variable(v.clone(), false, `ema/${name}`));
    }
  }

  /** Fold the current weights in after optimizer step `step` (0-based). */
  update(step: number): void {
    const d = Math.min(this.#decay, (1 + step) / (10 + step));
    const vars = this.#model.stateVariables();
    tf.tidy(() => {
      for (const [name, s] of this.#shadow) {
        const v = vars.get(name)!;
        s.assign(tf.add(tf.mul(s, d), tf.mul(v, 1 - d)));
      }
    });
  }

  /** Exchange the model's weights and the averages (call again to undo). */
  swap(): void {
    const vars = this.#model.stateVariables();
    for (const [name, s] of this.#shadow) {
      const v = vars.get(name)!;
      const raw = v.clone();
      v.assign(s);
      s.assign(raw);
      raw.dispose();
    }
  }

  /** Run `fn` with the averaged weights in the model, then put the raw weights back. */
  async withAverage<T>(fn: () => Promise<T>): Promise<T> {
    this.swap();
    try {
      return await fn();
    } finally {
      this.swap();
    }
  }

  /** The averages, keyed `ema/<name>`, for the checkpoint (restored by assignment). */
  state(): Map<string, tf.Variable> {
    return new Map([...this.#shadow].map(([name, s]) => [`ema/${name}`, s]));
  }

  /** Release the averages. */
  dispose(): void {
    for (const s of this.#shadow.values()) s.dispose();
    this.#shadow.clear();
  }
}
