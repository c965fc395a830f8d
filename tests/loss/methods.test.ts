/** DKD and DIST against PyTorch references, and their numerical safety. */
import { setting } from "../permissions.ts";
import reference from "../fixtures/kd_methods_reference.json" with { type: "json" };
import * as tf from "../../lib/tf.ts";
import { assert, assertAlmostEquals, assertEquals, assertLess, assertThrows } from "@std/assert";
import {
  distillationLoss,
  kdWarmupWeight,
  methodLoss,
  validateDistillationOptions,
} from "../../lib/loss.ts";
import { dkdLoss } from "../../lib/loss/dkd.ts";
import { distLoss } from "../../lib/loss/dist.ts";
import { initBackend } from "../../lib/backend.ts";
import { UserError } from "../../lib/core/errors.ts";

await initBackend("cpu", { quiet: true });

interface Case {
  method: "dkd" | "dist";
  alpha?: number;
  beta: number;
  gamma?: number;
  temperature?: number;
  tau?: number;
  student_logits: number[][];
  teacher_logits: number[][];
  labels: number[];
  loss: number;
  grad: number[][];
}

/**
 * The committed PyTorch reference, imported as a JSON module so the method math runs under a
 * plain `deno test`; `KD_METHOD_FIXTURES` (colon-separated, read where env access is granted)
 * adds more reference files, each checked and named by its own test.
 */
const fixtures: [string, { cases: Case[] }][] = [
  ["tests/fixtures/kd_methods_reference.json", reference as unknown as { cases: Case[] }],
  ...(setting("KD_METHOD_FIXTURES") ?? "").split(":").filter(Boolean).map((
    file,
  ): [string, { cases: Case[] }] => [file, JSON.parse(Deno.readTextFileSync(file))]),
];

/** Normwise relative error: elementwise relative error is meaningless for entries near 0. */
function gradRelErr(actual: number[][], expected: number[][]): number {
  let diff = 0, scale = 0;
  expected.forEach((row, i) =>
    row.forEach((e, j) => {
      diff = Math.max(diff, Math.abs(actual[i][j] - e));
      scale = Math.max(scale, Math.abs(e));
    })
  );
  return diff / Math.max(scale, 1e-6);
}

/** The case's settings as the trainer passes them (λ = 1: the method term alone). */
function optionsOf(c: Case) {
  return c.method === "dkd"
    ? {
      method: c.method,
      temperature: c.temperature!,
      lambda: 1,
      dkdAlpha: c.alpha,
      dkdBeta: c.beta,
    }
    : { method: c.method, temperature: c.tau!, lambda: 1, distBeta: c.beta, distGamma: c.gamma };
}

for (const [file, { cases }] of fixtures) {
  const methods = [...new Set(cases.map((c) => c.method))].join(", ");
  Deno.test(`method fixture ${file}: ${cases.length} ${methods} cases match PyTorch (loss and gradient, rel err <= 1e-4)`, () => {
    assert(cases.length > 0, `${file} holds no cases`);
    cases.forEach((c, i) => {
      const s = tf.tensor2d(c.student_logits);
      const t = tf.tensor2d(c.teacher_logits);
      const y = Int32Array.from(c.labels);
      const opts = optionsOf(c);
      const where = `case ${i} (${JSON.stringify({ ...opts, lambda: undefined })})`;
      const got = methodLoss(s, t, y, opts).dataSync()[0];
      const rel = Math.abs(got - c.loss) / Math.max(Math.abs(c.loss), 1e-6);
      assertLess(rel, 1e-4, `${where} loss ${got} vs ${c.loss}`);
      // Through distillationLoss with λ = 1, as the trainer computes it: no cross-entropy left.
      const total = (x: tf.Tensor) => distillationLoss(x as tf.Tensor2D, t, y, opts).total;
      const grad = tf.grad(total)(s).arraySync() as number[][];
      const err = gradRelErr(grad, c.grad);
      assertLess(err, 1e-4, `${where} gradient rel err ${err}`);
      tf.dispose([s, t]);
    });
  });
}

Deno.test("DKD and DIST are finite with finite gradients for logits of ±1e3", () => {
  for (let seed = 0; seed < 6; seed++) {
    const s = tf.mul(tf.randomNormal([5, 4], 0, 1, "float32", seed), 1000) as tf.Tensor2D;
    const t = tf.mul(tf.randomNormal([5, 4], 0, 1, "float32", seed + 50), 1000) as tf.Tensor2D;
    const y = Int32Array.from([0, 1, 2, 3, 0]);
    for (const T of [1, 4]) {
      const fns = [
        (x: tf.Tensor) => dkdLoss(x as tf.Tensor2D, t, y, { temperature: T, alpha: 1, beta: 8 }),
        (x: tf.Tensor) => distLoss(x as tf.Tensor2D, t, { temperature: T, beta: 1, gamma: 1 }),
      ];
      for (const fn of fns) {
        const v = fn(s).dataSync()[0];
        assert(Number.isFinite(v) && v >= -1e-4, `seed ${seed} T ${T}: loss ${v}`);
        const g = tf.grad(fn)(s).dataSync();
        assert(g.every(Number.isFinite), `seed ${seed} T ${T}: non-finite gradient`);
      }
    }
  }
});

Deno.test("DKD and DIST are 0 when the student is the teacher; one image still has a finite DIST gradient", () => {
  const z = tf.randomNormal([6, 5], 0, 2, "float32", 3) as tf.Tensor2D;
  const y = Int32Array.from([0, 1, 2, 3, 4, 0]);
  assertAlmostEquals(
    dkdLoss(z, z, y, { temperature: 4, alpha: 1, beta: 8 }).dataSync()[0],
    0,
    1e-4,
  );
  assertAlmostEquals(distLoss(z, z, { temperature: 1, beta: 1, gamma: 1 }).dataSync()[0], 0, 1e-4);
  // A one-image batch has constant class columns: the intra term's gradient must be 0, not NaN.
  const one = tf.tensor2d([[1, 2, 3]]);
  const g = tf.grad((x: tf.Tensor) =>
    distLoss(x as tf.Tensor2D, tf.tensor2d([[3, 1, 0]]), { temperature: 1, beta: 1, gamma: 1 })
  )(one).dataSync();
  assert(g.every(Number.isFinite), `gradient ${g}`);
});

Deno.test("DKD's α weighs only the target-class term, β only the non-target one", () => {
  const s = tf.randomNormal([4, 3], 0, 1, "float32", 5) as tf.Tensor2D;
  const t = tf.randomNormal([4, 3], 0, 1, "float32", 6) as tf.Tensor2D;
  const y = Int32Array.from([0, 1, 2, 1]);
  const at = (alpha: number, beta: number) =>
    dkdLoss(s, t, y, { temperature: 2, alpha, beta }).dataSync()[0];
  const tckd = at(1, 0), nckd = at(0, 1);
  assert(tckd > 0 && nckd > 0);
  assertAlmostEquals(at(2, 3), 2 * tckd + 3 * nckd, 1e-4);
});

Deno.test("DKD warm-up weight grows linearly to 1; other methods are never warmed up", () => {
  const dkd = { temperature: 4, lambda: 1, method: "dkd" as const, dkdWarmup: 4 };
  assertEquals([1, 2, 4, 9].map((e) => kdWarmupWeight(dkd, e)), [0.25, 0.5, 1, 1]);
  assertEquals(kdWarmupWeight({ ...dkd, dkdWarmup: 0 }, 1), 1);
  assertEquals(kdWarmupWeight({ temperature: 4, lambda: 1, method: "dist" }, 1), 1);
  const s = tf.tensor2d([[1, 0, 0]]), t = tf.tensor2d([[0, 1, 0]]);
  const y = Int32Array.from([2]);
  const full = distillationLoss(s, t, y, dkd).total.dataSync()[0];
  const half = distillationLoss(s, t, y, dkd, 0.5).total.dataSync()[0];
  assertAlmostEquals(half, full / 2, 1e-5);
});

Deno.test("method settings out of range name their flag; DKD refuses soft labels", () => {
  const base = { temperature: 4, lambda: 0.5 };
  assertThrows(
    () => validateDistillationOptions({ ...base, method: "fitnet" as "kd" }),
    UserError,
    "--method",
  );
  assertThrows(
    () => validateDistillationOptions({ ...base, dkdBeta: -1 }),
    UserError,
    "--dkd-beta",
  );
  assertThrows(
    () => validateDistillationOptions({ ...base, distGamma: NaN }),
    UserError,
    "--dist-gamma",
  );
  assertThrows(
    () => validateDistillationOptions({ ...base, dkdWarmup: 1.5 }),
    UserError,
    "--dkd-warmup",
  );
  const soft = tf.tensor2d([[0.3, 0.7, 0]]);
  assertThrows(
    () =>
      methodLoss(tf.tensor2d([[1, 2, 3]]), tf.tensor2d([[1, 2, 3]]), soft, {
        ...base,
        method: "dkd",
      }),
    UserError,
    "mixup",
  );
});
