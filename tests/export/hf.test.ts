import { ALL_GRANTED, test } from "../permissions.ts";
import { assert, assertEquals, assertRejects, assertStringIncludes } from "@std/assert";
import { join } from "node:path";
import * as tf from "../../lib/tf.ts";
import { initBackend } from "../../lib/backend.ts";
import { exportModel } from "../../lib/export/export.ts";
import { createModel } from "../../lib/models/registry.ts";
import { getRaw, getTensor, readSafetensors } from "../../lib/models/safetensors.ts";
import { nchwToNhwc } from "../../lib/models/vit.ts";
import { loadSplit } from "../../lib/data/dataset.ts";
import { subsetSplit } from "../../lib/data/subset.ts";
import { predictLogits } from "../../lib/predict.ts";
import { messageWithHint, UserError } from "../../lib/core/errors.ts";
import { TEST_DATA } from "../helpers.ts";
import { runCommand } from "../commands.ts";
import { MNV2_FIXTURE, trainTinyStudent, VIT_FIXTURE } from "./helpers.ts";

if (ALL_GRANTED) await initBackend(undefined, { quiet: true });

/** Every `MobileNetV2Config` field (transformers' configuration_mobilenet_v2.py). */
const CONFIG_FIELDS = [
  "num_channels",
  "image_size",
  "depth_multiplier",
  "depth_divisible_by",
  "min_depth",
  "expand_ratio",
  "output_stride",
  "first_layer_is_expansion",
  "finegrained_output",
  "hidden_act",
  "tf_padding",
  "classifier_dropout_prob",
  "initializer_range",
  "layer_norm_eps",
  "semantic_loss_ignore_index",
];

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assertEquals(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

test("hf export of the HF fixture gives back the same tensors, config and logits", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "kd-export-hf-" });
  try {
    const out = join(tmp, "hf");
    const r = await exportModel({
      model: `hf-dir:${MNV2_FIXTURE}`,
      format: "hf",
      out,
      quiet: true,
    });
    assertEquals(r.files.map((f) => f.name), [
      "README.md",
      "config.json",
      "model.safetensors",
      "preprocessor_config.json",
    ]);
    // Shared like any folder the user makes (umask), not owner-only as a temp folder is.
    await Deno.mkdir(join(tmp, "plain"));
    assertEquals((await Deno.stat(out)).mode, (await Deno.stat(join(tmp, "plain"))).mode);
    const want = await readSafetensors(join(MNV2_FIXTURE, "model.safetensors"));
    const got = await readSafetensors(join(out, "model.safetensors"));
    assertEquals(got.metadata, { format: "pt" });
    assertEquals([...got.tensors.keys()].sort(), [...want.tensors.keys()].sort());
    for (const [name, info] of want.tensors) {
      const g = got.tensors.get(name)!;
      assertEquals([g.dtype, g.shape], [info.dtype, info.shape], name);
      const a = want.data.subarray(info.offsets[0], info.offsets[1]);
      const b = got.data.subarray(g.offsets[0], g.offsets[1]);
      assert(a.every((v, i) => v === b[i]), `${name}: bytes differ`);
    }
    const fixtureConfig = JSON.parse(await Deno.readTextFile(join(MNV2_FIXTURE, "config.json")));
    const config = JSON.parse(await Deno.readTextFile(join(out, "config.json")));
    for (const k of [...CONFIG_FIELDS, "model_type", "architectures", "id2label", "label2id"]) {
      assertEquals(config[k], fixtureConfig[k], k);
    }
    assertEquals(config.torch_dtype, "float32");
    assert(/^\d+\.\d+\.\d+$/.test(config.transformers_version));
    // transformers writes sorted keys and Python floats.
    const text = await Deno.readTextFile(join(out, "config.json"));
    assertStringIncludes(text, '"expand_ratio": 6.0,');
    const keys = [...text.matchAll(/^ {2}"([^"]+)":/gm)].map((m) => m[1]);
    assertEquals(keys, [...keys].sort());

    const io = await readSafetensors(join(MNV2_FIXTURE, "io.safetensors"));
    const x = nchwToNhwc(getTensor(io, "pixel_values") as tf.Tensor4D);
    const model = await createModel(`hf-dir:${out}`);
    const source = await createModel(`hf-dir:${MNV2_FIXTURE}`);
    const logits = tf.tidy(() => model.apply(x));
    const before = tf.tidy(() => source.apply(x));
    const diff = maxAbsDiff(logits.dataSync(), before.dataSync());
    assert(diff <= 1e-5, `exported logits differ from the fixture's by ${diff}`);
    // Against PyTorch: float32 sums in another order through ~50 layers (logits up to ~6.5).
    const ref = maxAbsDiff(logits.dataSync(), getRaw(io, "logits").data as Float32Array);
    assert(ref <= 1e-4, `logits differ from the PyTorch reference by ${ref}`);
    tf.dispose([x, logits, before]);
    model.dispose();
    source.dispose();
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

test({
  name: "hf export of a freshly trained student: hf-dir gives its own logits; card and processor",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const tmp = await Deno.makeTempDir({ prefix: "kd-export-run-" });
    try {
      const run = await trainTinyStudent(tmp);
      // A test_eval.json beside the run (as `deno task eval --split test` writes) reaches the card.
      await Deno.writeTextFile(
        join(run, "test_eval.json"),
        JSON.stringify({ split: "test", accuracy: 0.625, macro_f1: 0.6, n: 128 }),
      );
      const out = join(tmp, "hf");
      await exportModel({ model: run, format: "hf", out, quiet: true });

      const original = await createModel(`dir:${join(run, "best")}`);
      const exported = await createModel(`hf-dir:${out}`);
      assertEquals(exported.config.labels, ["angular_leaf_spot", "bean_rust", "healthy"]);
      const val = subsetSplit(
        await loadSplit({
          data: TEST_DATA,
          split: "validation",
          preprocess: original.input,
          quiet: true,
        }),
        [0, 50, 100, 132],
      );
      const a = await predictLogits(original, val, { quiet: true });
      const b = await predictLogits(exported, val, { quiet: true });
      const diff = maxAbsDiff(a, b);
      assert(diff <= 1e-5, `logits differ by ${diff}`);
      // The outputs depend on the image (a collapsed model would make this test vacuous).
      assert(maxAbsDiff(a.subarray(0, 3), a.subarray(3, 6)) > 1e-3);
      original.dispose();
      exported.dispose();

      const final = JSON.parse(await Deno.readTextFile(join(run, "final.json")));
      const metrics = (await Deno.readTextFile(join(run, "metrics.jsonl"))).trim().split("\n")
        .map((l) => JSON.parse(l));
      const bestStep = metrics.find((m) => m.epoch === final.best_epoch).step;
      const st = await readSafetensors(join(out, "model.safetensors"));
      const nbt = getRaw(st, "mobilenet_v2.conv_1x1.normalization.num_batches_tracked");
      assertEquals([nbt.dtype, nbt.shape, Number((nbt.data as BigInt64Array)[0])], [
        "I64",
        [],
        bestStep,
      ]);
      assertEquals(st.tensors.get("classifier.weight")!.shape, [3, 1280]);
      assertEquals(st.tensors.get("mobilenet_v2.conv_stem.first_conv.convolution.weight")!.shape, [
        16,
        3,
        3,
        3,
      ]);

      const pre = JSON.parse(await Deno.readTextFile(join(out, "preprocessor_config.json")));
      assertEquals(pre, {
        do_normalize: true,
        do_rescale: true,
        do_resize: true,
        image_mean: [0.5, 0.5, 0.5],
        image_processor_type: "ViTImageProcessor",
        image_std: [0.5, 0.5, 0.5],
        resample: 2,
        rescale_factor: 1 / 255,
        size: { height: 32, width: 32 },
      });

      const card = await Deno.readTextFile(join(out, "README.md"));
      const yaml = card.split("---\n")[1];
      for (
        const line of [
          "library_name: transformers",
          "pipeline_tag: image-classification",
          'datasets:\n- "beans"',
          "metrics:\n- accuracy",
          `value: ${final.validation.accuracy}`,
          "value: 0.625",
        ]
      ) assertStringIncludes(yaml, line);
      assertStringIncludes(card, `accuracy **${(final.validation.accuracy * 100).toFixed(2)}%**`);
      assertStringIncludes(card, "**Test** (`test`, n = 128");
      assertStringIncludes(card, "| preset | `smoke` |");
      assertStringIncludes(card, "- Parameters: 399,971");
      assertStringIncludes(card, "MobileNetV2ForImageClassification.from_pretrained");
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});

async function entries(dir: string): Promise<string[]> {
  return (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort();
}

test("export refuses a ViT, a run without best/ and a non-empty --out, writing nothing", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "kd-export-bad-" });
  try {
    const out = join(tmp, "out");
    await assertRejects(
      () => exportModel({ model: `hf-dir:${VIT_FIXTURE}`, format: "hf", out, quiet: true }),
      UserError,
      "only MobileNetV2 students can be exported as hf for now",
    );
    assertEquals(await entries(tmp), []);

    const run = join(tmp, "run");
    await Deno.mkdir(run);
    await Deno.writeTextFile(join(run, "config.json"), JSON.stringify({ train: { seed: 0 } }));
    await assertRejects(
      () => exportModel({ model: run, format: "tfjs", out, quiet: true }),
      UserError,
      "without best/",
    );
    assertEquals(await entries(tmp), ["run"]);
    // A best/ that is there but damaged is named as such, not as missing.
    await Deno.mkdir(join(run, "best"));
    await Deno.writeTextFile(join(run, "best", "config.json"), "null");
    await assertRejects(
      () => exportModel({ model: run, format: "tfjs", out, quiet: true }),
      UserError,
      `${join(run, "best")}/config.json: not a saved model's config`,
    );
    await Deno.remove(join(run, "best"), { recursive: true });

    await Deno.mkdir(out);
    await Deno.writeTextFile(join(out, "keep.txt"), "mine");
    const e = await assertRejects(
      () => exportModel({ model: `hf-dir:${MNV2_FIXTURE}`, format: "hf", out, quiet: true }),
      UserError,
      "is not empty",
    );
    // The export command has --force, so its line names it (a sweep's would not).
    assertEquals(
      messageWithHint(e, ["force"]),
      `--out ${out} is not empty; pass --force to replace it`,
    );
    assertEquals(
      messageWithHint(e, []),
      `--out ${out} is not empty; empty it or choose another folder`,
    );
    assertEquals(await entries(out), ["keep.txt"]);
    await exportModel({
      model: `hf-dir:${MNV2_FIXTURE}`,
      format: "hf",
      out,
      force: true,
      quiet: true,
    });
    assert(!(await entries(out)).includes("keep.txt"));
    // Only the two folders: no temporary export left beside --out.
    assertEquals(await entries(tmp), ["out", "run"]);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

test("deno task export: bad input is one error line and exit 2", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "kd-export-cli-" });
  const run = (...args: string[]) => runCommand("export", args);
  try {
    const vit = await run("--model", `hf-dir:${VIT_FIXTURE}`, "--format", "tfjs", "--out", tmp);
    assertEquals(vit.code, 2);
    assertEquals(vit.lines.length, 1, vit.lines.join("\n"));
    assertStringIncludes(vit.lines[0], "error: ");
    assertStringIncludes(vit.lines[0], "only MobileNetV2 students can be exported as tfjs");
    const fmt = await run("--model", `hf-dir:${MNV2_FIXTURE}`, "--format", "onnx", "--out", tmp);
    assertEquals([fmt.code, fmt.lines.length], [2, 1]);
    assertStringIncludes(fmt.lines[0], "--format must be one of hf, tfjs");
    assertEquals(await entries(tmp), []);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
