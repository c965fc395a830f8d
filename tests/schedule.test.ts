import { assertAlmostEquals, assertThrows } from "@std/assert";
import { learningRate, parseSchedule } from "../lib/schedule.ts";

Deno.test("linear decays from lr to 0 after warm-up, like HF get_linear_schedule_with_warmup", () => {
  const o = { name: "linear" as const, lr: 1, totalSteps: 110, warmupSteps: 10 };
  assertAlmostEquals(learningRate(0, o), 0, 1e-12);
  assertAlmostEquals(learningRate(5, o), 0.5, 1e-12);
  assertAlmostEquals(learningRate(10, o), 1, 1e-12);
  assertAlmostEquals(learningRate(60, o), 0.5, 1e-12);
  assertAlmostEquals(learningRate(110, o), 0, 1e-12);
});

Deno.test("cosine reaches half at mid-point and constant stays put", () => {
  assertAlmostEquals(learningRate(50, { name: "cosine", lr: 2, totalSteps: 100 }), 1, 1e-12);
  assertAlmostEquals(learningRate(99, { name: "constant", lr: 2, totalSteps: 100 }), 2, 1e-12);
});

Deno.test("unknown schedule names the flag", () => {
  assertThrows(() => parseSchedule("step"), Error, "--schedule");
});
