/**
 * The one place the toolkit imports TensorFlow.js from. Everything in `lib/` imports `tf`
 * from here, so core, layers, gradients and the always-available `cpu` backend load once.
 *
 * Why the `@tensorflow/tfjs` umbrella and not tfjs-core + -layers + -backend-cpu directly (which
 * would skip loading webgl, the converter and tf.data, ≈25 ms of start-up here): Deno loads each
 * package's node bundle, and tfjs-core's bundle registers no gradients and no chained tensor
 * methods (`t.reshape(...)`). The umbrella's bundle is the one that inlines them; tfjs-core's ESM
 * sources that register them use extensionless imports, which Deno's npm resolution refuses.
 * Without them nothing trains.
 * @module
 */
export * from "@tensorflow/tfjs";
