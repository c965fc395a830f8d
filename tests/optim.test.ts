import * as tf from "../lib/tf.ts";
import { assertAlmostEquals, assertEquals, assertThrows } from "@std/assert";
import { clipByGlobalNorm, createOptimizer, globalNormClip, parseOptimizer } from "../lib/optim.ts";
import { initBackend } from "../lib/backend.ts";
import { dnnlAvailable } from "../lib/backends/native/dnnl.ts";

// The native backend runs AdamW as one fused kernel; both paths must follow PyTorch's rule.
const BACKENDS = dnnlAvailable() ? ["cpu", "native"] : ["cpu"];
await initBackend("cpu", { quiet: true });

function run(name: "adamw" | "adam" | "sgd", extra = {}) {
  const p = tf.variable(tf.tensor1d([1, -2]));
  const opt = createOptimizer(new Map([["p", p]]), { name, weightDecay: 0.1, ...extra });
  // Two steps on f(p) = ½·Σp², gradient = p.
  for (let i = 0; i < 2; i++) opt.step({ p: p.clone() }, 0.01);
  const out = [...p.dataSync()];
  opt.dispose();
  p.dispose();
  return out;
}

/** Reference implementations written out scalar by scalar (PyTorch's update rules). */
function reference(name: string, p0: number): number {
  let p = p0, m = 0, v = 0, buf = 0;
  const lr = 0.01, wd = 0.1, b1 = 0.9, b2 = 0.999, eps = 1e-8;
  for (let t = 1; t <= 2; t++) {
    let g = p;
    if (name === "sgd") {
      g += wd * p;
      buf = t === 1 ? g : 0.9 * buf + g;
      p -= lr * buf;
      continue;
    }
    if (name === "adam") g += wd * p;
    if (name === "adamw") p *= 1 - lr * wd;
    m = b1 * m + (1 - b1) * g;
    v = b2 * v + (1 - b2) * g * g;
    p -= (lr * (m / (1 - b1 ** t))) / (Math.sqrt(v / (1 - b2 ** t)) + eps);
  }
  return p;
}

for (const backend of BACKENDS) {
  for (const name of ["adamw", "adam", "sgd"] as const) {
    Deno.test(`${name} matches the PyTorch update rule over two steps (${backend})`, async () => {
      await initBackend(backend, { quiet: true });
      const got = run(name, name === "sgd" ? { momentum: 0.9 } : {});
      [1, -2].forEach((p0, i) => assertAlmostEquals(got[i], reference(name, p0), 1e-6));
      await initBackend("cpu", { quiet: true });
    });
  }
}

Deno.test("optimizer state holds every slot before the first step", () => {
  const p = tf.variable(tf.zeros([3]));
  const opt = createOptimizer(new Map([["w", p]]), { name: "adamw" });
  assertEquals([...opt.state().keys()].sort(), [
    "optimizer/m/w",
    "optimizer/step",
    "optimizer/v/w",
  ]);
  opt.dispose();
  p.dispose();
});

Deno.test("clipByGlobalNorm rescales to the max norm", async () => {
  const grads = { a: tf.tensor1d([3, 0]), b: tf.tensor1d([0, 4]) };
  assertAlmostEquals(await clipByGlobalNorm(grads, 1), 5, 1e-6);
  const norm = Math.hypot(...grads.a.dataSync(), ...grads.b.dataSync());
  assertAlmostEquals(norm, 1, 1e-5);
});

Deno.test("unknown optimizer names the flag", () => {
  assertThrows(() => parseOptimizer("rmsprop"), Error, "--optimizer");
});

for (const backend of BACKENDS) {
  for (const name of ["adamw", "sgd"] as const) {
    Deno.test(`${name}: clipping's factor inside the step equals clipping first, bit for bit (${backend})`, async () => {
      await initBackend(backend, { quiet: true });
      const grads = () => ({ p: tf.tensor1d([3, -4, 0.1]) });
      const stepped = async (inside: boolean) => {
        const p = tf.variable(tf.tensor1d([1, -2, 0.5]));
        const opt = createOptimizer(new Map([["p", p]]), { name, weightDecay: 0.1, momentum: 0.9 });
        for (let i = 0; i < 2; i++) {
          const g = grads();
          if (inside) opt.step(g, 0.01, (await globalNormClip(g, 1)).scale);
          else {
            await clipByGlobalNorm(g, 1);
            opt.step(g, 0.01);
          }
          tf.dispose(Object.values(g));
        }
        const out = [...p.dataSync()];
        opt.dispose();
        p.dispose();
        return out;
      };
      assertEquals(await stepped(true), await stepped(false));
      await initBackend("cpu", { quiet: true });
    });
  }
}
