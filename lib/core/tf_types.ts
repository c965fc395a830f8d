/**
 * TensorFlow.js's tensor types under the names the public signatures use (`Classifier`, the
 * losses). They are TensorFlow.js's own types, documented at https://js.tensorflow.org/api/latest/.
 *
 * Why aliases rather than `tf.Tensor2D` in the signatures: `deno doc --lint` counts a type
 * declared in an npm package as one of this package's private types (npm packages resolve to
 * `file:` paths, and the exemption of denoland/deno#27364 covers only non-`file:` modules), and
 * re-exporting TensorFlow.js's `Tensor` from the entry points would publish tfjs-core's internals
 * (`Rank`, `TensorInfo`, `DataId`, `TensorBuffer`, …) as part of this API. `@internal` is deno
 * doc's mechanism for a type documented elsewhere: the signatures keep TensorFlow.js's names and
 * the lint accepts them.
 * @module
 */
import type * as tf from "../tf.ts";

/** @internal TensorFlow.js's `tf.Scalar`: a rank-0 tensor. */
export type Scalar = tf.Scalar;
/** @internal TensorFlow.js's `tf.Tensor1D`. */
export type Tensor1D = tf.Tensor1D;
/** @internal TensorFlow.js's `tf.Tensor2D`. */
export type Tensor2D = tf.Tensor2D;
/** @internal TensorFlow.js's `tf.Tensor4D`. */
export type Tensor4D = tf.Tensor4D;
/** @internal TensorFlow.js's `tf.Variable`: a mutable tensor that optimizers update. */
export type Variable = tf.Variable;
