import { ALL_GRANTED, test } from "../permissions.ts";
import { assert, assertEquals, assertRejects } from "@std/assert";
import { join } from "node:path";
import * as tf from "../../lib/tf.ts";
import { initBackend } from "../../lib/backend.ts";
import { exportModel } from "../../lib/export/export.ts";
import {
  buildLayersModel,
  fileLoadHandler,
  fileSaveHandler,
  loadWebModel,
  type WebModelMetadata,
  writeWebModel,
} from "../../lib/export/tfjs.ts";
import { createModel } from "../../lib/models/registry.ts";
import { MobileNetV2 } from "../../lib/models/mobilenet_v2.ts";
import { saveModel } from "../../lib/models/checkpoint.ts";
import { getRaw, getTensor, readSafetensors } from "../../lib/models/safetensors.ts";
import { nchwToNhwc } from "../../lib/models/vit.ts";
import { loadSplit, toTensor } from "../../lib/data/dataset.ts";
import { UserError } from "../../lib/core/errors.ts";
import { TEST_DATA, tfjsBackbone, tfjsWithWeightsAt } from "../helpers.ts";
import { MNV2_FIXTURE, trainTinyStudent } from "./helpers.ts";

if (ALL_GRANTED) await initBackend(undefined, { quiet: true });

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assertEquals(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

test("tfjs export of the HF fixture: loadLayersModel in Deno gives the same logits", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "kd-export-tfjs-" });
  try {
    const out = join(tmp, "web");
    const r = await exportModel({
      model: `hf-dir:${MNV2_FIXTURE}`,
      format: "tfjs",
      out,
      quiet: true,
    });
    assertEquals(r.files.map((f) => f.name), ["group1-shard1of1.bin", "model.json"]);
    const json = JSON.parse(await Deno.readTextFile(join(out, "model.json")));
    assertEquals(json.format, "layers-model");
    const meta = json.userDefinedMetadata as WebModelMetadata;
    assertEquals(meta.class_names, ["class_0", "class_1", "class_2"]);
    assertEquals(meta.preprocessing.size, 32);
    assertEquals([meta.preprocessing.mean, meta.preprocessing.std], [[0.5, 0.5, 0.5], [
      0.5,
      0.5,
      0.5,
    ]]);
    // Inference graph only: BN folded into the convolutions, no BatchNormalization layers.
    const classes = json.modelTopology.config.layers.map((l: { class_name: string }) =>
      l.class_name
    );
    assert(!classes.includes("BatchNormalization"));
    assertEquals(classes.filter((c: string) => c === "DepthwiseConv2D").length, 17);

    const io = await readSafetensors(join(MNV2_FIXTURE, "io.safetensors"));
    const x = nchwToNhwc(getTensor(io, "pixel_values") as tf.Tensor4D);
    const toolkit = await createModel(`hf-dir:${MNV2_FIXTURE}`);
    const web = await loadWebModel(out);
    assertEquals(web.getUserDefinedMetadata(), meta as unknown as Record<string, unknown>);
    const a = tf.tidy(() => toolkit.apply(x));
    const b = tf.tidy(() => web.predict(x) as tf.Tensor);
    const diff = maxAbsDiff(a.dataSync(), b.dataSync());
    assert(diff <= 1e-4, `tfjs logits differ from the toolkit's by ${diff}`);
    const ref = maxAbsDiff(b.dataSync(), getRaw(io, "logits").data as Float32Array);
    assert(ref <= 1e-4, `tfjs logits differ from PyTorch's by ${ref}`);
    tf.dispose([x, a, b]);
    toolkit.dispose();
    web.dispose();
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

test({
  name: "tfjs export of a freshly trained student gives its logits on validation images",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const tmp = await Deno.makeTempDir({ prefix: "kd-export-tfjs-run-" });
    try {
      const run = await trainTinyStudent(tmp);
      const out = join(tmp, "web");
      await exportModel({ model: `dir:${join(run, "best")}`, format: "tfjs", out, quiet: true });
      const toolkit = await createModel(`dir:${join(run, "best")}`);
      const web = await loadWebModel(out);
      const split = await loadSplit({
        data: TEST_DATA,
        split: "validation",
        preprocess: toolkit.input,
        quiet: true,
      });
      const x = toTensor(split, Int32Array.of(0, 4, 9, 14), toolkit.input);
      const a = tf.tidy(() => toolkit.apply(x));
      const b = tf.tidy(() => web.predict(x) as tf.Tensor);
      const diff = maxAbsDiff(a.dataSync(), b.dataSync());
      assert(diff <= 1e-4, `tfjs logits differ from the toolkit's by ${diff}`);
      tf.dispose([x, a, b]);
      toolkit.dispose();
      web.dispose();
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});

test("tfjs weights split into shards that load back", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "kd-tfjs-shards-" });
  try {
    const m = new MobileNetV2({ numLabels: 3, depthMultiplier: 0.35, imageSize: 32, seed: 4 });
    const web = buildLayersModel(m);
    await web.save(fileSaveHandler(tmp, 256 * 1024));
    const names = (await Array.fromAsync(Deno.readDir(tmp))).map((e) => e.name).sort();
    const shards = names.filter((n) => n.endsWith(".bin"));
    assertEquals(shards.length, Math.ceil((await totalBytes(tmp, shards)) / (256 * 1024)));
    assert(shards.length > 1 && shards.includes(`group1-shard1of${shards.length}.bin`));
    const back = await tf.loadLayersModel(fileLoadHandler(tmp));
    const x = tf.randomNormal([2, 32, 32, 3]) as tf.Tensor4D;
    const diff = maxAbsDiff(
      (web.predict(x) as tf.Tensor).dataSync(),
      (back.predict(x) as tf.Tensor).dataSync(),
    );
    assertEquals(diff, 0);
    tf.dispose(x);
    web.dispose();
    back.dispose();
    m.dispose();
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

async function totalBytes(dir: string, files: string[]): Promise<number> {
  let n = 0;
  for (const f of files) n += (await Deno.stat(join(dir, f))).size;
  return n;
}

test("tfjs export refuses dilated students (tfjs-layers has no dilated depthwise conv)", async () => {
  const tmp = await Deno.makeTempDir();
  const m = new MobileNetV2({ numLabels: 3, depthMultiplier: 0.35, outputStride: 8, seed: 1 });
  try {
    await assertRejects(
      () => writeWebModel(m, tmp, {} as WebModelMetadata),
      UserError,
      "output_stride < 32",
    );
  } finally {
    m.dispose();
    await Deno.remove(tmp, { recursive: true });
  }
});

test("a MobileNetV2 cut after a block exports to tfjs (pooling there) but not to hf", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "kd-tfjs-cut-" });
  try {
    const m = new MobileNetV2({
      numLabels: 3,
      depthMultiplier: 0.35,
      imageSize: 32,
      cutAfter: "layer.5",
      seed: 5,
    });
    await saveModel(m, join(tmp, "cut"));
    await assertRejects(
      () => exportModel({ model: `dir:${join(tmp, "cut")}`, format: "hf", out: join(tmp, "hf") }),
      UserError,
      "no transformers equivalent",
    );
    await exportModel({
      model: `dir:${join(tmp, "cut")}`,
      format: "tfjs",
      out: join(tmp, "web"),
      quiet: true,
    });
    const web = await loadWebModel(join(tmp, "web"));
    const x = tf.randomNormal([2, 32, 32, 3], 0, 1, "float32", 3) as tf.Tensor4D;
    const a = tf.tidy(() => m.apply(x));
    const b = tf.tidy(() => web.predict(x) as tf.Tensor);
    assert(maxAbsDiff(a.dataSync(), b.dataSync()) <= 1e-4);
    tf.dispose([x, a, b]);
    web.dispose();
    m.dispose();
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

test("tfjs-dir: an exported student keeps its head; non-finite weights are refused", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "kd-tfjs-head-" });
  try {
    const out = join(tmp, "web");
    await exportModel({ model: `hf-dir:${MNV2_FIXTURE}`, format: "tfjs", out, quiet: true });
    const io = await readSafetensors(join(MNV2_FIXTURE, "io.safetensors"));
    const x = nchwToNhwc(getTensor(io, "pixel_values") as tf.Tensor4D);
    const logitsOf = async (spec: string, opts = {}) => {
      const m = await createModel(spec, { numLabels: 3, ...opts });
      const y = tf.tidy(() => m.apply(x));
      const out = { data: y.dataSync().slice(), labels: m.config.labels, size: m.input.size };
      y.dispose();
      m.dispose();
      return out;
    };
    const source = await logitsOf(`hf-dir:${MNV2_FIXTURE}`);
    const a = await logitsOf(`tfjs-dir:${out}`), b = await logitsOf(`tfjs-dir:${out}`);
    const diff = maxAbsDiff(a.data, source.data);
    assert(diff <= 1e-4, `tfjs-dir logits differ from the source's by ${diff}`);
    assertEquals(a.data, b.data); // nothing random: the same logits every time
    assertEquals([a.labels, a.size], [["class_0", "class_1", "class_2"], 32]);
    // Another label count is refused unless a new head is asked for.
    const mismatch = await assertRejects(
      () => createModel(`tfjs-dir:${out}`, { numLabels: 4 }),
      UserError,
      "the model's head has 3 labels but the dataset has 4",
    );
    assertEquals((mismatch as UserError).hint?.flag, "reinit-head");

    // The same folder without its Dense layer is a feature extractor: no head to load.
    const json = JSON.parse(await Deno.readTextFile(join(out, "model.json")));
    const headless = structuredClone(json);
    const layers = headless.modelTopology.config.layers as { name: string; class_name: string }[];
    const dense = layers.pop()!;
    assertEquals(dense.class_name, "Dense");
    headless.modelTopology.config.output_layers = [[layers[layers.length - 1].name, 0, 0]];
    const group = headless.weightsManifest[0];
    group.weights = group.weights.filter((w: { name: string }) => !w.name.startsWith(dense.name));
    const bare = join(tmp, "bare");
    await Deno.mkdir(bare);
    await Deno.copyFile(join(out, group.paths[0]), join(bare, group.paths[0]));
    await Deno.writeTextFile(join(bare, "model.json"), JSON.stringify(headless));
    await assertRejects(
      () => createModel(`tfjs-dir:${bare}`, { numLabels: 3 }),
      UserError,
      "no classifier head after layer",
    );
    const fresh = await logitsOf(`tfjs-dir:${bare}`, { reinitHead: true, seed: 1 });
    assertEquals(fresh.data.length, source.data.length);

    // NaN or ±Inf anywhere in the weights (first: a conv kernel; last: the head's) is refused.
    const bin = join(out, json.weightsManifest[0].paths[0]);
    const good = await Deno.readFile(bin);
    for (
      const [at, value, weight] of [[0, NaN, "conv_stem"], [
        good.length - 4,
        Infinity,
        "classifier/bias",
      ]]
    ) {
      const bad = good.slice();
      new DataView(bad.buffer).setFloat32(at as number, value as number, true);
      await Deno.writeFile(bin, bad);
      const e = await assertRejects(() => createModel(`tfjs-dir:${out}`, { numLabels: 3 }));
      assert(e instanceof UserError, String(e));
      assert(e.message.includes(bin) && e.message.includes(weight as string), e.message);
      assert(e.message.includes(`is ${value}`), e.message);
    }
    x.dispose();
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

test("loadWebModel: a weights path outside the model's folder is refused, naming model.json", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kd-web-escape-" });
  try {
    const model = await tfjsWithWeightsAt(await tfjsBackbone(), dir, (n) => `../elsewhere/${n}`);
    await assertRejects(
      () => loadWebModel(model),
      UserError,
      `${model}/model.json: weights path "../elsewhere/`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
