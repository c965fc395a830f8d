import { assertAlmostEquals, assertEquals, assertThrows } from "@std/assert";
import { UserError } from "../lib/core/errors.ts";
import {
  accuracy,
  argmaxRows,
  confusionMatrix,
  evaluateLogits,
  expectedCalibrationError,
  macroF1,
  meanKlToTeacher,
  perClassScores,
  topOneAgreement,
} from "../lib/metrics.ts";

// Hand-computed case: 3 classes, 6 samples.
// labels      0 0 1 1 2 2
// predictions 0 1 1 1 2 0
const labels = [0, 0, 1, 1, 2, 2];
const predictions = [0, 1, 1, 1, 2, 0];

Deno.test("confusion matrix counts [true][predicted]", () => {
  assertEquals(confusionMatrix(labels, predictions, 3), [[1, 1, 0], [0, 2, 0], [1, 0, 1]]);
});

Deno.test("accuracy, per-class precision/recall/F1 and macro-F1 by hand", () => {
  assertAlmostEquals(accuracy(labels, predictions), 4 / 6, 1e-12);
  const cm = confusionMatrix(labels, predictions, 3);
  const { precision, recall, f1 } = perClassScores(cm);
  // class 0: tp 1, predicted 2, actual 2; class 1: tp 2, predicted 3, actual 2; class 2: tp 1, predicted 1, actual 2
  const expP = [1 / 2, 2 / 3, 1], expR = [1 / 2, 1, 1 / 2];
  const expF = [0.5, 0.8, 2 / 3];
  expP.forEach((v, i) => assertAlmostEquals(precision[i], v, 1e-12));
  expR.forEach((v, i) => assertAlmostEquals(recall[i], v, 1e-12));
  expF.forEach((v, i) => assertAlmostEquals(f1[i], v, 1e-12));
  assertAlmostEquals(macroF1(cm), (0.5 + 0.8 + 2 / 3) / 3, 1e-12);
});

Deno.test("a class never predicted nor present has zero scores, not NaN", () => {
  const { precision, recall, f1 } = perClassScores(confusionMatrix([0, 0], [0, 0], 2));
  assertEquals([precision[1], recall[1], f1[1]], [0, 0, 0]);
});

Deno.test("argmax, agreement and KL to teacher", () => {
  const student = [2, 1, 0, 0, 3, 1];
  const teacher = [5, 0, 0, 1, 0, 4];
  assertEquals([...argmaxRows(student, 3)], [0, 1]);
  assertAlmostEquals(topOneAgreement(student, teacher, 3), 0.5, 1e-12);
  assertAlmostEquals(meanKlToTeacher(teacher, teacher, 3), 0, 1e-12);
  // Two classes, one sample: KL([0.5,0.5] ‖ softmax([ln 3, 0]) = [0.75, 0.25]).
  const kl = 0.5 * Math.log(0.5 / 0.75) + 0.5 * Math.log(0.5 / 0.25);
  assertAlmostEquals(meanKlToTeacher([Math.log(3), 0], [0, 0], 2), kl, 1e-12);
});

Deno.test("expected calibration error by hand", () => {
  // Two classes. Sample A: p = 0.75 for class 0, correct. Sample B: p = 0.75 for class 0, wrong.
  // One bin holds both: |accuracy 0.5 − confidence 0.75| = 0.25.
  const l = Math.log(3);
  assertAlmostEquals(expectedCalibrationError([l, 0, l, 0], [0, 1], 2), 0.25, 1e-12);
  // Perfectly confident and right: ECE ~ 0.
  assertAlmostEquals(expectedCalibrationError([50, 0, 0, 50], [0, 1], 2), 0, 1e-12);
  // Different bins: A conf 0.75 right (|1-0.75|·½), B conf 0.9 wrong (|0-0.9|·½) → 0.575.
  const l9 = Math.log(9);
  assertAlmostEquals(expectedCalibrationError([l, 0, l9, 0], [0, 1], 2), 0.575, 1e-12);
});

Deno.test("evaluateLogits bundles everything", () => {
  const logits = [3, 0, 0, 0, 3, 0, 0, 0, 3, 3, 0, 0];
  const m = evaluateLogits(logits, [0, 1, 2, 2], 3);
  assertEquals(m.n, 4);
  assertAlmostEquals(m.accuracy, 0.75, 1e-12);
  assertEquals(m.confusion, [[1, 0, 0], [0, 1, 0], [1, 0, 1]]);
});

Deno.test("metrics refuse inputs whose numbers would be silently wrong", () => {
  const bad: [() => unknown, string][] = [
    // A NaN row used to count as a prediction of class 0.
    [() => evaluateLogits([NaN, 0, 0, 0, 2, 0], [0, 1], 3), "row 0 hold NaN"],
    [() => evaluateLogits([1, 0, 0, Infinity, 0, 0], [0, 1], 3), "row 1 hold Infinity"],
    [() => expectedCalibrationError([NaN, 0, 0], [0], 3), "row 0 hold NaN"],
    [() => evaluateLogits([1, 0, 0], [0, 1], 3), "3 logits for 2 labels × 3 classes"],
    [() => evaluateLogits([1, 0, 0, 1, 0, 0], [0, 3], 3), "label 1 is 3"],
    [() => evaluateLogits([1, 0, 0], [0], 0), "classes must be an integer >= 1"],
    [() => accuracy([0, 1, 2], [0]), "1 predictions for 3 labels"],
    [() => confusionMatrix([0, 5], [0, 1], 3), "label 1 is 5"],
    [() => confusionMatrix([0, 1], [0, -1], 3), "prediction 1 is -1"],
    [() => confusionMatrix([0, NaN], [0, 1], 3), "label 1 is NaN"],
  ];
  for (const [call, message] of bad) assertThrows(call, UserError, message);
});
