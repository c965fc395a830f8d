import { setting, test } from "../permissions.ts";
import { FIXTURES } from "../fixture_paths.ts";
import { assert, assertEquals, assertRejects, assertStringIncludes } from "@std/assert";
import * as tf from "../../lib/tf.ts";
import { initBackend } from "../../lib/backend.ts";
import { loadHFViT, nchwToNhwc } from "../../lib/models/vit.ts";
import {
  encodeSafetensors,
  getRaw,
  getTensor,
  readSafetensors,
} from "../../lib/models/safetensors.ts";
import { writeLogitsFile } from "../../lib/models/logits_file.ts";
import { UserError } from "../../lib/core/errors.ts";

await initBackend("cpu", { quiet: true });

/** The committed tiny ViT, plus the folders `VIT_FIXTURES` lists (colon-separated). */
const VIT_DIRS = [
  `${FIXTURES}/vit_tiny`,
  ...(setting("VIT_FIXTURES") ?? "").split(":").filter(Boolean),
];

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

for (const dir of VIT_DIRS) {
  test(`vit: ${dir} matches the PyTorch logits to 1e-4`, async () => {
    const model = await loadHFViT(dir, { quiet: true });
    const io = await readSafetensors(`${dir}/io.safetensors`);
    const x = getTensor(io, "pixel_values") as tf.Tensor4D;
    const expected = getTensor(io, "logits");
    const y = tf.tidy(() => model.apply(nchwToNhwc(x)));
    assertEquals(y.shape, expected.shape);
    const d = maxAbsDiff(y, expected);
    assert(d <= 1e-4, `max abs diff ${d}`);
    tf.dispose([x, expected, y]);
    model.dispose();
  });

  test(`vit: writeLogitsFile on ${dir} writes the same logits`, async () => {
    const tmp = await Deno.makeTempDir();
    const out = `${tmp}/logits.safetensors`;
    try {
      await writeLogitsFile({ model: `hf-dir:${dir}`, input: `${dir}/io.safetensors`, out });
      const got = await readSafetensors(out);
      const io = await readSafetensors(`${dir}/io.safetensors`);
      const a = getTensor(got, "logits"), b = getTensor(io, "logits");
      assertEquals(getRaw(got, "logits").dtype, "F32");
      assert(maxAbsDiff(a, b) <= 1e-4);
      tf.dispose([a, b]);
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  });
}

test("vit: deno task logits as a subprocess", async () => {
  const dir = VIT_DIRS[0];
  const tmp = await Deno.makeTempDir();
  const out = `${tmp}/logits.safetensors`;
  try {
    const cmd = new Deno.Command(Deno.execPath(), {
      args: [
        "task",
        "-q",
        "logits",
        "--model",
        `hf-dir:${dir}`,
        "--input",
        `${dir}/io.safetensors`,
        "--out",
        out,
        "--backend",
        "cpu",
      ],
      cwd: new URL("../../", import.meta.url).pathname,
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    });
    const r = await cmd.output();
    assert(r.success, new TextDecoder().decode(r.stderr));
    const got = await readSafetensors(out);
    const io = await readSafetensors(`${dir}/io.safetensors`);
    const a = getTensor(got, "logits"), b = getTensor(io, "logits");
    assert(maxAbsDiff(a, b) <= 1e-4);
    tf.dispose([a, b]);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

/** Copy the fixture into a temp dir with its config/weights altered. */
async function alteredCopy(
  edit: {
    config?: (c: Record<string, unknown>) => void;
    drop?: string;
    reshape?: string;
    poison?: string;
  },
): Promise<string> {
  const src = VIT_DIRS[0];
  const dir = await Deno.makeTempDir();
  const cfg = JSON.parse(await Deno.readTextFile(`${src}/config.json`));
  edit.config?.(cfg);
  await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify(cfg));
  const f = await readSafetensors(`${src}/model.safetensors`);
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const name of f.tensors.keys()) {
    if (name === edit.drop) continue;
    const r = getRaw(f, name);
    if (name === edit.poison) (r.data as Float32Array)[1] = NaN;
    tensors.set(
      name,
      name === edit.reshape
        ? { shape: [r.data.length / 2, 2], data: r.data as Float32Array }
        : { shape: r.shape, data: r.data as Float32Array },
    );
  }
  await Deno.writeFile(`${dir}/model.safetensors`, encodeSafetensors(tensors));
  return dir;
}

test("vit: bad checkpoints are clear UserErrors, never partial models", async () => {
  const cases: [Parameters<typeof alteredCopy>[0], string[]][] = [
    [{ config: (c) => (c.model_type = "bert") }, ["unsupported model_type", '"bert"']],
    [{ drop: "vit.encoder.layer.1.output.dense.weight" }, [
      'missing tensor "vit.encoder.layer.1.output.dense.weight"',
    ]],
    [{ reshape: "vit.layernorm.weight" }, ['tensor "vit.layernorm.weight"', "expected [48]"]],
    [{ config: (c) => (c.intermediate_size = 64) }, [
      'tensor "vit.encoder.layer.0.intermediate.dense.weight"',
      "expected [64,48]",
    ]],
    // A config with fewer layers than the weights must not silently drop the rest.
    [{ config: (c) => (c.num_hidden_layers = 1) }, ["does not use", "vit.encoder.layer.1."]],
    [{ config: (c) => (c.num_labels = 2.5) }, [
      '"num_labels" must be an integer in [1, 100000], got 2.5',
    ]],
    [{ poison: "vit.encoder.layer.0.output.dense.bias" }, [
      'tensor "vit.encoder.layer.0.output.dense.bias"',
      "NaN",
    ]],
  ];
  for (const [edit, includes] of cases) {
    const dir = await alteredCopy(edit);
    try {
      const before = tf.memory().numTensors;
      const e = await assertRejects(() => loadHFViT(dir, { quiet: true }), UserError);
      for (const s of includes) assertStringIncludes(e.message, s);
      assertEquals(tf.memory().numTensors, before, "tensors leaked by a failed load");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }
});

test("vit: label-count mismatch needs reinitHead, which keeps the body", async () => {
  const dir = VIT_DIRS[0];
  const e = await assertRejects(() => loadHFViT(dir, { numLabels: 5, quiet: true }), UserError);
  assertStringIncludes(e.message, "labels but the dataset has 5");
  assertEquals((e as UserError).hint?.flag, "reinit-head"); // named by commands that have it, see contract tests
  const m = await loadHFViT(dir, { numLabels: 5, reinitHead: true, quiet: true });
  const ref = await loadHFViT(dir, { quiet: true });
  assertEquals(m.stateVariables().get("classifier.weight")!.shape, [48, 5]);
  const name = "vit.encoder.layer.0.attention.attention.query.weight";
  assertEquals(
    Array.from(m.stateVariables().get(name)!.dataSync()),
    Array.from(ref.stateVariables().get(name)!.dataSync()),
  );
  m.dispose();
  ref.dispose();
});

test("vit: DeiT-style checkpoints (deit. prefix, distillation token, two heads) load", async () => {
  const src = VIT_DIRS[0];
  const dir = await Deno.makeTempDir();
  try {
    const cfg = JSON.parse(await Deno.readTextFile(`${src}/config.json`));
    cfg.model_type = "deit";
    cfg.architectures = ["DeiTForImageClassificationWithTeacher"];
    await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify(cfg));
    const f = await readSafetensors(`${src}/model.safetensors`);
    const out = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const name of f.tensors.keys()) {
      const r = getRaw(f, name);
      const t = { shape: r.shape, data: r.data as Float32Array };
      if (name.startsWith("classifier.")) {
        out.set(`cls_${name}`, t);
        out.set(`distillation_${name}`, t);
      } else if (name.endsWith("position_embeddings")) {
        // One extra position for the distillation token.
        const d = new Float32Array(18 * 48);
        d.set(t.data.subarray(0, 48), 0);
        d.set(t.data.subarray(0, 48), 48);
        d.set(t.data.subarray(48), 96);
        out.set(name.replace(/^vit\./, "deit."), { shape: [1, 18, 48], data: d });
      } else out.set(name.replace(/^vit\./, "deit."), t);
    }
    out.set("deit.embeddings.distillation_token", getRaw(f, "vit.embeddings.cls_token") as never);
    await Deno.writeFile(`${dir}/model.safetensors`, encodeSafetensors(out));
    const m = await loadHFViT(dir, { quiet: true });
    assertEquals(m.config.prefix, "deit");
    assertEquals(m.config.head, "cls+dist");
    const io = await readSafetensors(`${src}/io.safetensors`);
    const x = getTensor(io, "pixel_values") as tf.Tensor4D;
    const y = m.apply(nchwToNhwc(x));
    assertEquals(y.shape, [2, 3]);
    // Smoke test only: no PyTorch DeiT reference fixture is available offline.
    assert(Array.from(y.dataSync()).every(Number.isFinite));
    tf.dispose([x, y]);
    m.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
