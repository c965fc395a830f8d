/**
 * The one place the toolkit imports TensorFlow.js from. Everything in `lib/` imports `tf`
 * from here, so core, layers, gradients and the always-available `cpu` backend load once.
 * @module
 */
export * from "@tensorflow/tfjs";
