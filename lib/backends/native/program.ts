/**
 * Compiled inference programs and the one runner that caches them. A {@linkcode Program} is a
 * model compiled for one input shape: a list of oneDNN primitives built once with their
 * activation buffers bound, JS steps between them where a primitive does not pay, and loaders
 * that fill the primitives' weight buffers (in the layouts they chose) from the model's weights.
 * {@linkcode compiledKernel} turns a compiler (CNN graph, ViT encoder) into the tfjs kernel that
 * runs an {@linkcode InferenceHandle}: weights rebuilt when their version changes, one program
 * per input shape (the last {@linkcode MAX_SHAPES} kept).
 * @module
 */
import type * as tf from "../../tf.ts";
import { D, Executable, type Md, type OpSpec, type PostOp, streamWait } from "./dnnl.ts";
import { countCompiledRun, type InferenceHandle } from "./inference_graph.ts";
import { type NativeKernel, output, valuesOf } from "./kernels.ts";

/** Marks an argument bound to the program's input on every run. */
export const INPUT = "input";

/** Buffers (or the input) of a primitive's arguments, by argument id. */
export type Bindings = Record<number, ArrayBufferView | typeof INPUT>;

type JsStep<W> = (x: Float32Array, w: W) => void;

/** A model compiled for one input shape (see the module doc). */
export class Program<W> {
  outputShape: number[] = [];
  #steps: (Executable | JsStep<W>)[] = [];
  #execs: Executable[] = [];
  #inputs: [Executable, number][] = [];
  #loaders: ((w: W) => void)[] = [];
  #loaded: W | null = null;
  #result: (w: W) => Float32Array = () => new Float32Array(0);
  #scratch = new Uint8Array(0);
  /** What the primitives' memory objects point at (bound data is not otherwise referenced). */
  #keep: ArrayBufferView[] = [];

  /** Append the primitive `spec` (with `post` fused) with its arguments bound to `bind`. */
  op(spec: OpSpec, bind: Bindings, post: PostOp[] = []): Executable {
    const e = new Executable(spec, { post, userScratchpad: true });
    this.#execs.push(e);
    this.#steps.push(e);
    for (const [arg, data] of Object.entries(bind)) {
      if (data === INPUT) this.#inputs.push([e, Number(arg)]);
      else {
        e.bind(Number(arg), data);
        this.#keep.push(data);
      }
    }
    return e;
  }

  /**
   * Give argument `arg` of `e` its own buffer, filled on each weight load with `pick(w)`
   * (given in layout `user`; null: zeros).
   */
  param(e: Executable, arg: number, pick: (w: W) => Float32Array | null, user?: Md): void {
    const load = e.own(arg, user);
    this.#loaders.push((w) => load(pick(w)));
  }

  /** Append a JS step (it runs after the primitives before it have finished). */
  js(step: JsStep<W>): void {
    this.#steps.push(step);
  }

  /** Close the program: its output's shape and how to read it; shares one scratchpad. */
  finish(outputShape: number[], result: (w: W) => Float32Array): this {
    this.outputShape = outputShape;
    this.#result = result;
    this.#scratch = new Uint8Array(Math.max(64, ...this.#execs.map((e) => e.scratchBytes)));
    for (const e of this.#execs) if (e.scratchBytes) e.bind(D.arg.scratchpad, this.#scratch);
    return this;
  }

  /** Fill the weight buffers from `w` unless they already hold it. */
  load(w: W): void {
    if (this.#loaded === w) return;
    for (const l of this.#loaders) l(w);
    this.#loaded = w;
  }

  /** Run on `x` (the compiled shape) with the loaded weights; returns a fresh output array. */
  run(x: Float32Array): Float32Array {
    const w = this.#loaded;
    if (w === null) throw new Error("compiled program: no weights loaded");
    for (const [e, arg] of this.#inputs) e.bind(arg, x);
    for (const step of this.#steps) {
      if (step instanceof Executable) step.run();
      else {
        streamWait();
        step(x, w);
      }
    }
    streamWait();
    return this.#result(w);
  }

  /** Free every primitive and memory object. */
  destroy(): void {
    for (const e of this.#execs) e.destroy();
    this.#execs = this.#steps = [];
    this.#keep = [];
  }
}

/** Compiles a model's weights for one input shape. */
export type Compiler<W> = (w: W, shape: number[]) => Program<W>;

/** How many input shapes a runner keeps compiled (e.g. full and last partial batch, and one more). */
export const MAX_SHAPES = 3;

/**
 * Compiled programs by input shape, the most recently used {@linkcode MAX_SHAPES} kept (the rest
 * destroyed): the one shape cache of the inference and training graphs.
 */
export class ShapeCache<P extends { destroy(): void }> {
  #compiled = new Map<string, P>();

  /** The program for `shape`, compiled by `make` unless cached. */
  get(shape: readonly number[], make: () => P): P {
    const key = shape.join("x");
    let p = this.#compiled.get(key);
    if (p) this.#compiled.delete(key); // re-inserted below as the most recent
    else {
      p = make();
      if (this.#compiled.size >= MAX_SHAPES) {
        const [oldest, old] = this.#compiled.entries().next().value!;
        old.destroy();
        this.#compiled.delete(oldest);
      }
    }
    this.#compiled.set(key, p);
    return p;
  }

  /** Destroy every program. */
  clear(): void {
    for (const p of this.#compiled.values()) p.destroy();
    this.#compiled.clear();
  }
}

/** The compiled programs of one model (see the module doc). */
export class CompiledRunner<W> {
  #weights: W | null = null;
  #seen: readonly unknown[] = [];
  #compiled = new ShapeCache<Program<W>>();

  constructor(readonly handle: InferenceHandle<W>, readonly compile: Compiler<W>) {}

  /** Run on an NHWC batch; returns the output values and shape. */
  run(x: Float32Array, shape: number[]): { values: Float32Array; shape: number[] } {
    const v = this.handle.version();
    if (!this.#weights || v.length !== this.#seen.length || v.some((a, i) => a !== this.#seen[i])) {
      this.#weights = this.handle.build();
      this.#seen = v;
    }
    const weights = this.#weights;
    const p = this.#compiled.get(shape, () => this.compile(weights, shape));
    p.load(weights);
    return { values: p.run(x), shape: p.outputShape };
  }

  /** Free every compiled program. */
  dispose(): void {
    this.#compiled.clear();
    this.#weights = null;
  }
}

/** The kernel `name` running an {@linkcode InferenceHandle}'s model compiled by `compile`. */
export function compiledKernel<W>(name: string, compile: Compiler<W>): NativeKernel {
  return {
    name,
    fn: (args) => {
      const { x } = args.inputs as { x: tf.TensorInfo };
      const handle = (args.attrs as unknown as { handle: InferenceHandle<W> }).handle;
      let runner = handle.state;
      if (!(runner instanceof CompiledRunner && runner.compile === compile)) {
        handle.state?.dispose();
        handle.state = runner = new CompiledRunner(handle, compile);
      }
      const r = (runner as CompiledRunner<W>).run(valuesOf(args.backend, x), x.shape);
      countCompiledRun();
      return output(args.backend, r.shape, r.values);
    },
  };
}
