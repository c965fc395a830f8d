/**
 * Classification metrics on plain arrays (logits `n×C` row-major, integer labels), so they
 * are cheap, backend-independent and testable by hand.
 * @module
 */
import { UserError } from "./core/errors.ts";

/**
 * Everything the trainer, eval command and reports record about one evaluation. Rates are
 * fractions in [0, 1]; per-class arrays are in label order.
 *
 * @example The per-class view of an evaluation
 * ```ts
 * import { type EvalMetrics, evaluateLogits } from "@kd/vision/metrics";
 *
 * const logits = Float32Array.from([2, 0, 0, 0, 2, 0, 0, 2, 0]);
 * const m: EvalMetrics = evaluateLogits(logits, Int32Array.from([0, 1, 2]), 3);
 * console.log(m.n, m.accuracy, m.macroF1, m.recall, m.confusion, m.ece);
 * ```
 */
export interface EvalMetrics {
  /** Number of images evaluated. */
  n: number;
  /** Fraction of images whose largest logit is the true class. */
  accuracy: number;
  /** Unweighted mean of the per-class F1 (classes absent from the split count as 0). */
  macroF1: number;
  /** Per-class precision: right among those predicted as the class (0 when none is). */
  precision: number[];
  /** Per-class recall: right among those of the class (0 when the split has none). */
  recall: number[];
  /** Per-class F1, the harmonic mean of precision and recall (0 where both are 0). */
  f1: number[];
  /** `confusion[true][predicted]` counts. */
  confusion: number[][];
  /** Expected calibration error (15 equal-width confidence bins). */
  ece: number;
}

/**
 * Refuse inputs whose metrics would be silently wrong: labels that are not classes, a logits
 * array that is not `labels × numClasses`, a non-finite logit (a NaN row would count as a
 * prediction of class 0).
 */
function checkInputs(
  labels: ArrayLike<number>,
  numClasses: number,
  logits?: ArrayLike<number>,
  predictions?: ArrayLike<number>,
): void {
  if (!Number.isInteger(numClasses) || numClasses < 1) {
    throw new UserError(
      `metrics: the number of classes must be an integer >= 1, got ${numClasses}`,
    );
  }
  if (logits && logits.length !== labels.length * numClasses) {
    throw new UserError(
      `metrics: ${logits.length} logits for ${labels.length} labels × ${numClasses} classes`,
    );
  }
  if (predictions && predictions.length !== labels.length) {
    throw new UserError(
      `metrics: ${predictions.length} predictions for ${labels.length} labels`,
    );
  }
  for (const [what, values] of [["label", labels], ["prediction", predictions ?? []]] as const) {
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (!Number.isInteger(v) || v < 0 || v >= numClasses) {
        throw new UserError(`metrics: ${what} ${i} is ${v}, not a class in [0, ${numClasses})`);
      }
    }
  }
  if (logits) {
    for (let i = 0; i < logits.length; i++) {
      if (!Number.isFinite(logits[i])) {
        throw new UserError(
          `metrics: the logits of row ${Math.floor(i / numClasses)} hold ${logits[i]} ` +
            `(a model whose output is not a number)`,
        );
      }
    }
  }
}

/**
 * Index of the largest logit in each row.
 *
 * @example Predicted classes from flat logits
 * ```ts
 * import { argmaxRows } from "@kd/vision/metrics";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals([...argmaxRows([0.1, 2, 0, 3, 1, 0], 3)], [1, 0]);
 * ```
 */
export function argmaxRows(logits: ArrayLike<number>, numClasses: number): Int32Array {
  const n = logits.length / numClasses;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let c = 1; c < numClasses; c++) {
      if (logits[i * numClasses + c] > logits[i * numClasses + best]) best = c;
    }
    out[i] = best;
  }
  return out;
}

/** Row-wise softmax (stable), optionally at temperature T. */
export function softmaxRows(logits: ArrayLike<number>, numClasses: number, T = 1): Float64Array {
  const out = new Float64Array(logits.length);
  for (let i = 0; i < logits.length; i += numClasses) {
    let max = -Infinity;
    for (let c = 0; c < numClasses; c++) max = Math.max(max, logits[i + c] / T);
    let sum = 0;
    for (let c = 0; c < numClasses; c++) sum += out[i + c] = Math.exp(logits[i + c] / T - max);
    for (let c = 0; c < numClasses; c++) out[i + c] /= sum;
  }
  return out;
}

/**
 * Confusion matrix `[true][predicted]`.
 *
 * @example Rows are true classes, columns predictions
 * ```ts
 * import { confusionMatrix } from "@kd/vision/metrics";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(confusionMatrix([0, 1, 1], [0, 1, 0], 2), [[1, 0], [1, 1]]);
 * ```
 */
export function confusionMatrix(
  labels: ArrayLike<number>,
  predictions: ArrayLike<number>,
  numClasses: number,
): number[][] {
  checkInputs(labels, numClasses, undefined, predictions);
  const m = Array.from({ length: numClasses }, () => new Array<number>(numClasses).fill(0));
  for (let i = 0; i < labels.length; i++) m[labels[i]][predictions[i]]++;
  return m;
}

/**
 * Fraction of predictions equal to the labels.
 *
 * @example Two of three right
 * ```ts
 * import { accuracy } from "@kd/vision/metrics";
 * import { assertAlmostEquals } from "@std/assert";
 *
 * assertAlmostEquals(accuracy([0, 1, 2], [0, 1, 1]), 2 / 3);
 * ```
 */
export function accuracy(labels: ArrayLike<number>, predictions: ArrayLike<number>): number {
  if (labels.length !== predictions.length) {
    throw new UserError(`metrics: ${predictions.length} predictions for ${labels.length} labels`);
  }
  let hit = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i] === predictions[i]) hit++;
  return labels.length ? hit / labels.length : 0;
}

/** Per-class precision, recall and F1 from a confusion matrix (0 where undefined, like sklearn). */
export function perClassScores(confusion: number[][]): {
  precision: number[];
  recall: number[];
  f1: number[];
} {
  const k = confusion.length;
  const precision: number[] = [], recall: number[] = [], f1: number[] = [];
  for (let c = 0; c < k; c++) {
    const tp = confusion[c][c];
    let predicted = 0, actual = 0;
    for (let j = 0; j < k; j++) {
      predicted += confusion[j][c];
      actual += confusion[c][j];
    }
    const p = predicted ? tp / predicted : 0;
    const r = actual ? tp / actual : 0;
    precision.push(p);
    recall.push(r);
    f1.push(p + r > 0 ? (2 * p * r) / (p + r) : 0);
  }
  return { precision, recall, f1 };
}

/**
 * Unweighted mean of per-class F1.
 *
 * @example Unweighted mean of the per-class F1 scores
 * ```ts
 * import { confusionMatrix, macroF1 } from "@kd/vision/metrics";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(macroF1(confusionMatrix([0, 1], [0, 1], 2)), 1);
 * ```
 */
export function macroF1(confusion: number[][]): number {
  const { f1 } = perClassScores(confusion);
  return f1.reduce((a, b) => a + b, 0) / f1.length;
}

/**
 * Expected calibration error: Σ_bins (|bin|/n)·|accuracy(bin) − mean confidence(bin)|.
 *
 * @example A confident, always-right model is calibrated
 * ```ts
 * import { expectedCalibrationError } from "@kd/vision/metrics";
 * import { assertAlmostEquals } from "@std/assert";
 *
 * const logits = [20, 0, 0, 0, 20, 0]; // two images, three classes
 * assertAlmostEquals(expectedCalibrationError(logits, [0, 1], 3), 0, 1e-6);
 * ```
 */
export function expectedCalibrationError(
  logits: ArrayLike<number>,
  labels: ArrayLike<number>,
  numClasses: number,
  bins = 15,
): number {
  checkInputs(labels, numClasses, logits);
  const probs = softmaxRows(logits, numClasses);
  const n = labels.length;
  const count = new Float64Array(bins),
    conf = new Float64Array(bins),
    hits = new Float64Array(bins);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let c = 1; c < numClasses; c++) {
      if (probs[i * numClasses + c] > probs[i * numClasses + best]) best = c;
    }
    const p = probs[i * numClasses + best];
    // Bins are (lo, hi]; confidence is never 0, so index p·bins rounded up, minus one.
    const b = Math.min(bins - 1, Math.max(0, Math.ceil(p * bins) - 1));
    count[b]++;
    conf[b] += p;
    if (best === labels[i]) hits[b]++;
  }
  let ece = 0;
  for (let b = 0; b < bins; b++) {
    if (count[b]) ece += (count[b] / n) * Math.abs(hits[b] / count[b] - conf[b] / count[b]);
  }
  return ece;
}

/** Fraction of samples where student and teacher predict the same class. */
export function topOneAgreement(
  studentLogits: ArrayLike<number>,
  teacherLogits: ArrayLike<number>,
  numClasses: number,
): number {
  return accuracy(argmaxRows(teacherLogits, numClasses), argmaxRows(studentLogits, numClasses));
}

/** Mean over samples of KL(softmax(teacher/T) ‖ softmax(student/T)), in nats. */
export function meanKlToTeacher(
  studentLogits: ArrayLike<number>,
  teacherLogits: ArrayLike<number>,
  numClasses: number,
  T = 1,
): number {
  const p = softmaxRows(teacherLogits, numClasses, T);
  const q = softmaxRows(studentLogits, numClasses, T);
  const n = p.length / numClasses;
  let kl = 0;
  for (let i = 0; i < p.length; i++) {
    if (p[i] > 0) kl += p[i] * (Math.log(p[i]) - Math.log(Math.max(q[i], 1e-300)));
  }
  return n ? kl / n : 0;
}

/**
 * All of {@linkcode EvalMetrics} from logits and labels.
 *
 * @example Every validation metric from logits and labels
 * ```ts
 * import { evaluateLogits } from "@kd/vision/metrics";
 * import { assertEquals } from "@std/assert";
 *
 * const m = evaluateLogits(Float32Array.from([2, 0, 0, 0, 2, 0]), Int32Array.from([0, 0]), 3);
 * assertEquals(m.accuracy, 0.5);
 * assertEquals(m.confusion[0], [1, 1, 0]);
 * ```
 */
export function evaluateLogits(
  logits: ArrayLike<number>,
  labels: ArrayLike<number>,
  numClasses: number,
): EvalMetrics {
  checkInputs(labels, numClasses, logits);
  const predictions = argmaxRows(logits, numClasses);
  const confusion = confusionMatrix(labels, predictions, numClasses);
  const scores = perClassScores(confusion);
  return {
    n: labels.length,
    accuracy: accuracy(labels, predictions),
    macroF1: scores.f1.reduce((a, b) => a + b, 0) / numClasses,
    ...scores,
    confusion,
    ece: expectedCalibrationError(logits, labels, numClasses),
  };
}

/** The metrics as the toolkit's JSON files hold them (snake_case; per-class F1 left out). */
export function metricsJson(m: EvalMetrics): {
  n: number;
  accuracy: number;
  macro_f1: number;
  ece: number;
  precision: number[];
  recall: number[];
  confusion: number[][];
} {
  return {
    n: m.n,
    accuracy: m.accuracy,
    macro_f1: m.macroF1,
    ece: m.ece,
    precision: m.precision,
    recall: m.recall,
    confusion: m.confusion,
  };
}
