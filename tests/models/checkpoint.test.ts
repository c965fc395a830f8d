import { test } from "../permissions.ts";
import { FIXTURES } from "../fixture_paths.ts";
import {
  assert,
  assertEquals,
  assertNotEquals,
  assertRejects,
  assertStringIncludes,
} from "@std/assert";
import * as tf from "../../lib/tf.ts";
import { initBackend } from "../../lib/backend.ts";
import { loadStateInto, saveModel, weightsChecksum } from "../../lib/models/checkpoint.ts";
import { createModel, loadModel } from "../../lib/models/registry.ts";
import { MobileNetV2 } from "../../lib/models/mobilenet_v2.ts";
import { encodeSafetensors, getRaw, readSafetensors } from "../../lib/models/safetensors.ts";
import { torchShape } from "../../lib/models/torch_layout.ts";
import { UserError } from "../../lib/core/errors.ts";

await initBackend("cpu", { quiet: true });

const VIT = `${FIXTURES}/vit_tiny`;

function logits(m: { apply(x: tf.Tensor4D): tf.Tensor2D }, size: number): number[] {
  return tf.tidy(() =>
    Array.from(m.apply(tf.randomUniform([2, size, size, 3], -1, 1, "float32", 11)).dataSync())
  );
}

test("checkpoint: mobilenet_v2 save → loadModel gives identical outputs and state", async () => {
  const dir = await Deno.makeTempDir();
  const m = await createModel("mobilenet_v2@0.35", {
    numLabels: 3,
    labels: ["a", "b", "c"],
    seed: 5,
  });
  // Move BN running stats off their init so buffers are checked too.
  tf.tidy(() =>
    void m.apply(tf.randomUniform([2, 64, 64, 3], -1, 1, "float32", 3), { training: true })
  );
  try {
    await saveModel(m, `${dir}/student`, { note: "test" });
    const saved = JSON.parse(await Deno.readTextFile(`${dir}/student/config.json`));
    assertEquals(saved.config.kind, "mobilenet_v2");
    assertEquals(saved.config.labels, ["a", "b", "c"]);
    const back = await loadModel(`${dir}/student`);
    assertEquals(await weightsChecksum(back), await weightsChecksum(m));
    assertEquals(logits(back, 64), logits(m, 64));
    // Overwriting an existing directory works and leaves no temp folders behind.
    await saveModel(back, `${dir}/student`);
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), ["student"]);
    back.dispose();
  } finally {
    m.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});

test("checkpoint: vit round trip through dir: spec", async () => {
  const dir = await Deno.makeTempDir();
  const m = await createModel(`hf-dir:${VIT}`, { quiet: true });
  try {
    await saveModel(m, `${dir}/vit`);
    const back = await createModel(`dir:${dir}/vit`, { numLabels: 3 });
    assertEquals(logits(back, 32), logits(m, 32));
    const e = await assertRejects(() => createModel(`dir:${dir}/vit`, { numLabels: 4 }), UserError);
    assertStringIncludes(e.message, "3 labels but the dataset has 4");
    back.dispose();
  } finally {
    m.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});

test("checkpoint: weightsChecksum changes with any weight", async () => {
  const m = new MobileNetV2({ numLabels: 3, depthMultiplier: 0.35, seed: 1 });
  const before = await weightsChecksum(m);
  assertEquals(await weightsChecksum(m), before);
  const v = m.stateVariables().get("classifier.bias")!;
  v.assign(tf.tensor1d([0, 0, 1e-6]));
  assertNotEquals(await weightsChecksum(m), before);
  m.dispose();
});

test("checkpoint: a saved file missing a tensor is refused whole", async () => {
  const dir = await Deno.makeTempDir();
  const m = new MobileNetV2({ numLabels: 3, depthMultiplier: 0.35, seed: 1 });
  try {
    await saveModel(m, dir + "/m");
    const f = await readSafetensors(`${dir}/m/model.safetensors`);
    const all = new Map([...f.tensors.keys()].map((k) => {
      const r = getRaw(f, k);
      return [k, { shape: r.shape, data: r.data as Float32Array }];
    }));
    all.delete("mobilenet_v2.layer.3.conv_3x3.normalization.running_var");
    await Deno.writeFile(`${dir}/m/model.safetensors`, encodeSafetensors(all));
    const fresh = new MobileNetV2({ numLabels: 3, depthMultiplier: 0.35, seed: 2 });
    const sum = await weightsChecksum(fresh);
    const e = await assertRejects(() => loadStateInto(fresh, `${dir}/m`), UserError);
    assertStringIncludes(e.message, "mobilenet_v2.layer.3.conv_3x3.normalization.running_var");
    assertEquals(await weightsChecksum(fresh), sum, "a failed load changed the model");
    fresh.dispose();
  } finally {
    m.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});

test("registry: unknown specs list the valid forms; widths build", async () => {
  for (const spec of ["resnet50", "foo:bar", "mobilenet_v2@x", "hf:"]) {
    const e = await assertRejects(() => createModel(spec, { numLabels: 3 }), UserError);
    assertStringIncludes(e.message, "hf-dir:PATH");
  }
  const m = await createModel("mobilenet_v2@0.5", { numLabels: 3, imageSize: 96 });
  assertEquals(m.config.depthMultiplier, 0.5);
  assertEquals(m.input.size, 96);
  m.dispose();
  const e = await assertRejects(() => createModel("dir:/nonexistent/model"), UserError);
  assertStringIncludes(e.message, "/nonexistent/model/config.json");
});

test("registry: hf-dir loads an HF-layout MobileNetV2 checkpoint (PyTorch layouts)", async () => {
  // Export a model in PyTorch layouts under HF names, as transformers would save it.
  const src = new MobileNetV2({ numLabels: 3, depthMultiplier: 0.35, seed: 9 });
  const dir = await Deno.makeTempDir();
  try {
    const tensors = new Map<string, { shape: number[]; data: Float32Array | BigInt64Array }>();
    for (const [name, v] of src.stateVariables()) {
      const layout = src.isDepthwise(name)
        ? "depthwise"
        : v.rank === 4
        ? "conv"
        : v.rank === 2
        ? "linear"
        : "same";
      const perm = layout === "conv"
        ? [3, 2, 0, 1]
        : layout === "depthwise"
        ? [2, 3, 0, 1]
        : layout === "linear"
        ? [1, 0]
        : [0];
      const t = tf.transpose(v, perm);
      assertEquals(t.shape, torchShape(v.shape, layout));
      tensors.set(name, { shape: t.shape, data: t.dataSync() as Float32Array });
      t.dispose();
    }
    // PyTorch's BN step counter (int64): present in HF checkpoints, not a model variable.
    tensors.set("mobilenet_v2.conv_1x1.normalization.num_batches_tracked", {
      shape: [],
      data: new BigInt64Array([0n]),
    });
    await Deno.writeFile(`${dir}/model.safetensors`, encodeSafetensors(tensors));
    await Deno.writeTextFile(
      `${dir}/config.json`,
      JSON.stringify({
        model_type: "mobilenet_v2",
        depth_multiplier: 0.35,
        num_labels: 3,
        id2label: { 0: "x", 1: "y", 2: "z" },
      }),
    );
    const m = await createModel(`hf-dir:${dir}`, { numLabels: 3 });
    assertEquals(m.config.labels, ["x", "y", "z"]);
    assertEquals(logits(m, 64), logits(src, 64));
    const e = await assertRejects(() => createModel(`hf-dir:${dir}`, { numLabels: 5 }), UserError);
    assertStringIncludes(e.message, "5");
    const r = await createModel(`hf-dir:${dir}`, { numLabels: 5, reinitHead: true });
    assertEquals(r.stateVariables().get("classifier.weight")!.shape, [1280, 5]);
    assert(r.stateVariables().get("classifier.bias")!.dataSync().every((b) => b === 0));
    m.dispose();
    r.dispose();
  } finally {
    src.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});
