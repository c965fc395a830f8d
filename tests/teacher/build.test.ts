import { ALL_GRANTED, test } from "../permissions.ts";
import { assert, assertEquals, assertRejects, assertStringIncludes } from "@std/assert";
import { join } from "node:path";
import * as tf from "../../lib/tf.ts";
import { runTeacher, teacherCommand } from "../../lib/cli/teacher.ts";
import { type CommandSpec, specFlags } from "../../lib/cli/command.ts";
import { buildTeacher, teacherName } from "../../lib/teacher/build.ts";
import { openBackbone } from "../../lib/teacher/backbone.ts";
import { finetuneFromImages } from "../../lib/teacher/finetune.ts";
import { loadSplit } from "../../lib/data/dataset.ts";
import { evenlySpaced, subsetSplit } from "../../lib/data/subset.ts";
import { predictLogits } from "../../lib/predict.ts";
import { evaluateLogits } from "../../lib/metrics.ts";
import { readSavedTeacher } from "../../lib/sweep/teachers.ts";
import { createModel, loadModel } from "../../lib/models/registry.ts";
import type { MobileNetV2 } from "../../lib/models/mobilenet_v2.ts";
import { initBackend } from "../../lib/backend.ts";
import { messageWithHint, UserError } from "../../lib/core/errors.ts";
import { TEST_DATA, tfjsBackbone } from "../helpers.ts";
import { FIXTURES } from "../fixture_paths.ts";
import { runCommand } from "../commands.ts";

/** An HF MobileNetV2 checkpoint (the tiny fixture: 32 px, random weights). */
const HF_MNV2 = `${FIXTURES}/mobilenet_v2_tiny`;
if (ALL_GRANTED) {
  await initBackend("wasm", { quiet: true }).catch(() => initBackend("cpu", { quiet: true }));
}

const CLASSES = ["angular_leaf_spot", "bean_rust", "healthy"];
/** A probe on 12 images, one grid point: what every build here needs to be quick. */
const SMALL = { maxImages: 12, epochs: [3], weightDecays: [0], quiet: true };
const FAST = ["--max-images", "12", "--epochs", "3", "--weight-decays", "0", "--quiet"];

async function withTemp(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "kd-teacher-" });
  const cache = Deno.env.get("KD_CACHE_DIR");
  Deno.env.set("KD_CACHE_DIR", join(dir, "cache"));
  try {
    await fn(dir);
  } finally {
    cache === undefined ? Deno.env.delete("KD_CACHE_DIR") : Deno.env.set("KD_CACHE_DIR", cache);
    await Deno.remove(dir, { recursive: true });
  }
}

test("teacher: a tfjs MobileNetV2 probe is saved as the toolkit's MobileNetV2, loadable as dir:", async () => {
  await withTemp(async (dir) => {
    const tfjs = await tfjsBackbone();
    const r = await runTeacher([
      "--backbone",
      `tfjs-dir:${tfjs}`,
      "--data",
      TEST_DATA,
      "--out",
      `${dir}/t`,
      ...FAST,
      "--backend",
      "wasm",
    ]);
    assert(r.val_accuracy >= 0 && r.val_accuracy <= 1);
    assertEquals(r.val_images, 12);
    const saved = JSON.parse(await Deno.readTextFile(`${dir}/t/config.json`));
    // Its batch norms are folded: it is converted to the toolkit's MobileNetV2 (fast kernels).
    assertEquals(saved.config.kind, "mobilenet_v2");
    assertEquals(saved.config.labels, CLASSES);
    assertEquals(saved.info.val_accuracy, r.val_accuracy);
    assertEquals(saved.info.from, `tfjs-dir:${tfjs}`);
    // The sweep reads the key the builder writes (it used to find none).
    assertEquals((await readSavedTeacher(`${dir}/t`)).info?.val_accuracy, r.val_accuracy);
    const m = await loadModel(`${dir}/t`);
    assertEquals(m.config.numLabels, 3);
    m.dispose();
  });
});

test("teacher: a folded tfjs MobileNetV2 gets batch-norm statistics before its blocks fine-tune", async () => {
  await withTemp(async (dir) => {
    const lines: string[] = [];
    await buildTeacher({
      from: `tfjs-dir:${await tfjsBackbone()}`,
      data: TEST_DATA,
      out: `${dir}/t`,
      finetuneBlocks: 1,
      finetuneEpochs: 1,
      ...SMALL,
      log: (l) => lines.push(l),
    });
    assert(
      lines.some((l) => l.includes("converted to the toolkit's MobileNetV2")),
      lines.join("\n"),
    );
    assert(lines.some((l) => l.includes("batch-norm statistics measured on 12 training images")));
    const info = JSON.parse(await Deno.readTextFile(`${dir}/t/config.json`)).info;
    assertEquals(info.finetune.history.length, 2);
  });
});

test("teacher: an HF MobileNetV2 backbone, cut at block:1 or fine-tuned, gives MobileNetV2 teachers", async () => {
  await withTemp(async (dir) => {
    const weak = await buildTeacher({
      from: `hf-dir:${HF_MNV2}`,
      data: TEST_DATA,
      out: `${dir}/weak`,
      featuresFrom: "block:1",
      ...SMALL,
    });
    assertEquals(weak.feature_point, "conv_stem");
    // depth multiplier 0.35: the stem block ends in 8 channels.
    assertEquals(weak.feature_size, 8);
    const strong = await buildTeacher({
      from: `hf-dir:${HF_MNV2}`,
      data: TEST_DATA,
      out: `${dir}/strong`,
      finetuneBlocks: 1,
      finetuneEpochs: 1,
      ...SMALL,
    });
    assertEquals(strong.feature_point, "conv_1x1");
    const info = JSON.parse(await Deno.readTextFile(`${dir}/strong/config.json`)).info;
    assertEquals(info.finetune.boundary, "layer.15");
    assertEquals(info.finetune.history.length, 2);
    // Saved teachers reload as plain MobileNetV2 models and reproduce the recorded accuracy.
    for (const [t, r] of [["weak", weak], ["strong", strong]] as const) {
      const m = await loadModel(`${dir}/${t}`);
      assertEquals(m.config.kind, "mobilenet_v2");
      assertEquals(m.config.labels, CLASSES);
      assertEquals((await readSavedTeacher(`${dir}/${t}`)).info?.val_accuracy, r.val_accuracy);
      m.dispose();
    }
  });
});

test("teacher: --finetune-blocks all trains every block after the stem on augmented images", async () => {
  await withTemp(async (dir) => {
    const build = (name: string, augment?: string) =>
      buildTeacher({
        from: `hf-dir:${HF_MNV2}`,
        data: TEST_DATA,
        out: `${dir}/${name}`,
        finetuneBlocks: "all",
        finetuneEpochs: 2,
        augment,
        ...SMALL,
      });
    await build("plain");
    const aug = await build("aug", "crop=0.35-1,flip,mixup=0.2");
    const info = async (name: string) =>
      JSON.parse(await Deno.readTextFile(`${dir}/${name}/config.json`)).info;
    const [plain, augmented] = [await info("plain"), await info("aug")];
    // From the first boundary (after the stem), over the images: every epoch scored.
    assertEquals(augmented.finetune.blocks, "all");
    assertEquals(augmented.finetune.boundary, "conv_stem");
    assertEquals(augmented.finetune.augment, "crop=0.35-1,flip,mixup=0.2");
    assertEquals(augmented.finetune.history.length, 3);
    // Same seed, same images: only the augmentation differs, so the training loss does.
    const loss = (i: { finetune: { history: { train_loss: number }[] } }) =>
      i.finetune.history[1].train_loss;
    assert(Number.isFinite(loss(plain)) && loss(plain) !== loss(augmented));
    assertEquals((await readSavedTeacher(`${dir}/aug`)).info?.val_accuracy, aug.val_accuracy);
    assertEquals(teacherName({ finetuneBlocks: "all", augment: "flip" }), "mnv2-probe-ftall-aug");
    // Cached activations cannot be augmented: refused with the flag that fixes it.
    await assertRejects(
      () => runTeacher(["--augment", "flip", "--finetune-blocks", "1", "--data", TEST_DATA]),
      UserError,
      "--finetune-blocks all",
    );
  });
});

test("teacher: --image-size builds and saves the teacher at that input size", async () => {
  await withTemp(async (dir) => {
    // The fixture backbone is a 32 px checkpoint; its convolutions run at any size.
    const r = await runTeacher([
      "--backbone",
      `hf-dir:${HF_MNV2}`,
      "--data",
      TEST_DATA,
      "--out",
      `${dir}/t48`,
      "--image-size",
      "48",
      "--finetune-blocks",
      "all",
      "--finetune-epochs",
      "1",
      ...FAST,
    ]);
    assertEquals(r.image_size, 48);
    const saved = JSON.parse(await Deno.readTextFile(`${dir}/t48/config.json`));
    assertEquals(saved.info.image_size, 48);
    const m = await loadModel(`${dir}/t48`);
    assertEquals(m.input.size, 48);
    // The saved teacher reproduces its recorded accuracy from 48 px images.
    const val = await loadSplit({
      data: TEST_DATA,
      split: "validation",
      preprocess: m.input,
      classNames: CLASSES,
      quiet: true,
    });
    const twelve = subsetSplit(val, evenlySpaced(val.n, 12));
    const logits = await predictLogits(m, twelve, { quiet: true });
    assertEquals(evaluateLogits(logits, twelve.labels, 3).accuracy, r.val_accuracy);
    m.dispose();
    assertEquals(teacherName({ finetuneBlocks: "all", imageSize: 96 }), "mnv2-probe-ftall-s96");
  });
  for (const size of ["16", "2000", "x"]) {
    const e = await assertRejects(
      () => runTeacher(["--image-size", size, "--data", TEST_DATA, "--quiet"]),
      UserError,
    );
    assertStringIncludes(e.message, "--image-size");
  }
  // A tfjs backbone cut at a layer keeps its graph's input size.
  const tfjs = await tfjsBackbone();
  const e = await assertRejects(
    () =>
      runTeacher([
        "--backbone",
        `tfjs-dir:${tfjs}`,
        "--data",
        TEST_DATA,
        "--features-from",
        "block:1",
        "--image-size",
        "64",
        "--quiet",
      ]),
    UserError,
  );
  assertStringIncludes(e.message, "--image-size");
});

test("teacher: a fine-tune that validation rejects leaves every state variable as it was", async () => {
  const { model } = await openBackbone(`hf-dir:${HF_MNV2}`, { numLabels: 3, seed: 1 });
  try {
    const pre = model.input;
    const split = (name: "train" | "validation") =>
      loadSplit({ data: TEST_DATA, split: name, preprocess: pre, quiet: true });
    const [train, val] = [await split("train"), await split("validation")];
    const before = new Map([...model.stateVariables()].map(([k, v]) => [k, v.dataSync().slice()]));
    // lr 10 wrecks the network: epoch 0 (the starting state) must be what is kept, batch-norm
    // running statistics included (they move in training even when the weights are rejected).
    const r = await finetuneFromImages(model, "conv_stem", train, val, {
      epochs: 1,
      lr: 10,
      quiet: true,
    });
    assertEquals(r.best.epoch, 0);
    for (const [k, v] of model.stateVariables()) {
      assertEquals(Array.from(v.dataSync()), Array.from(before.get(k)!), k);
    }
  } finally {
    model.dispose();
  }
});

test("teacher: the backbone's weights are the checkpoint's, only the head is new", async () => {
  const { model } = await openBackbone(`hf-dir:${HF_MNV2}`, {
    numLabels: 3,
    labels: CLASSES,
    seed: 1,
  });
  try {
    assertEquals([...model.trainableVariables().keys()].sort(), [
      "classifier.bias",
      "classifier.weight",
    ]);
    model.setTrainableFrom("layer.15");
    assert([...model.trainableVariables().keys()].some((k) => k.includes("conv_1x1")));
    assert(![...model.trainableVariables().keys()].some((k) => k.includes("layer.15")));
    const x = tf.randomUniform([2, 32, 32, 3], -1, 1) as tf.Tensor4D;
    const a = model.featuresFrom(null, x);
    // The pooled features equal those of the fixture loaded whole as a classifier.
    const whole = await createModel(`hf-dir:${HF_MNV2}`, { numLabels: 3 }) as MobileNetV2;
    const ref = whole.features(x);
    assert(tf.max(tf.abs(tf.sub(a, ref))).dataSync()[0] < 1e-5);
    tf.dispose(ref);
    whole.dispose();
    const mid = model.runFrom(null, x, { to: "layer.3" });
    const b = model.featuresFrom("layer.3", mid);
    assert(tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] < 1e-5);
    tf.dispose([x, a, b, mid]);
  } finally {
    model.dispose();
  }
});

test("teacher: bad flags and backbones are one-line UserErrors naming the flag", async () => {
  for (
    const [args, msg] of [
      [["--train-fraction", "1.5"], "--train-fraction"],
      [["--finetune-blocks", "-1"], "--finetune-blocks"],
      [["--epochs", "0"], "--epochs"],
      [["--max-images", "x"], "--max-images"],
      [["--bogus"], "bogus"],
      [["--backbone", "mobilenet_v2@0.5", "--data", TEST_DATA], "teachers are built from"],
      [
        ["--backbone", `hf-dir:${FIXTURES}/vit_tiny`, "--data", TEST_DATA],
        "cannot be a teacher backbone",
      ],
      [
        ["--backbone", `hf-dir:${HF_MNV2}`, "--data", TEST_DATA, "--features-from", "block:99"],
        "block:99",
      ],
    ] as const
  ) {
    // An --out apart from any teacher a checkout may hold under data/teachers/ (the default).
    const out = ["--out", "/nonexistent/kd-teacher-out"];
    const e = await assertRejects(() => runTeacher([...args, ...out, "--quiet"]), UserError);
    assertStringIncludes(e.message, msg);
  }
  assertEquals(
    teacherName({ featuresFrom: "block:1", trainFraction: 0.1 }),
    "mnv2-at-block-1-f0.1",
  );
});

test("teacher: --out that holds files, or is or holds --data or --backbone, is refused; nothing is lost", async () => {
  await withTemp(async (dir) => {
    // Copies: the fixtures themselves must survive even a build that ignores the refusal.
    const data = join(dir, "data"), backbone = join(dir, "backbone");
    for (const [src, dst] of [[TEST_DATA, data], [HF_MNV2, backbone]]) {
      await Deno.mkdir(dst);
      for await (const e of Deno.readDir(src)) {
        if (e.isFile) await Deno.copyFile(join(src, e.name), join(dst, e.name));
      }
    }
    const files = async (d: string) => (await Array.fromAsync(Deno.readDir(d))).map((e) => e.name);
    const before = { data: await files(data), backbone: await files(backbone) };
    // Errors as the teacher command prints them: with the hints its flags allow.
    const build = (out: string, more: string[] = []) =>
      runTeacher([
        "--backbone",
        `hf-dir:${backbone}`,
        "--data",
        data,
        "--out",
        out,
        ...FAST,
        ...more,
      ])
        .catch((e) => {
          throw e instanceof UserError
            ? new UserError(messageWithHint(e, specFlags(teacherCommand as CommandSpec<unknown>)))
            : e;
        });
    for (
      const [out, msg] of [
        [data, `--out ${data} is the --data folder ${data}`],
        [backbone, `--out ${backbone} is the --backbone folder ${backbone}`],
        [dir, `--out ${dir} contains the --data folder`],
        [join(data, "t"), "is inside the --data folder"],
      ]
    ) {
      // --force replaces someone's files, never what the build reads.
      await assertRejects(() => build(out, ["--force"]), UserError, msg);
    }
    assertEquals(await files(data), before.data);
    assertEquals(await files(backbone), before.backbone);

    // A folder of someone's files is kept unless --force; so is a teacher built before.
    const mine = join(dir, "mine");
    await Deno.mkdir(mine);
    await Deno.writeTextFile(join(mine, "notes.txt"), "mine");
    await assertRejects(
      () => build(mine),
      UserError,
      `--out ${mine} is not empty; pass --force to replace it`,
    );
    assertEquals(await Deno.readTextFile(join(mine, "notes.txt")), "mine");
    await build(mine, ["--force"]);
    assertEquals((await files(mine)).sort(), ["config.json", "model.safetensors"]);
    const saved = await Deno.readTextFile(join(mine, "config.json"));
    await assertRejects(() => build(mine, ["--seed", "1"]), UserError, "pass --force");
    assertEquals(await Deno.readTextFile(join(mine, "config.json")), saved);
    await build(mine, ["--seed", "1", "--force"]);
    assertEquals(JSON.parse(await Deno.readTextFile(join(mine, "config.json"))).info.seed, 1);

    // The command: exit 2, one line naming --out; the files stay.
    const { code, lines } = await runCommand("teacher", [
      ...["--backbone", `hf-dir:${backbone}`, "--data", data, "--out", data, ...FAST],
    ]);
    assertEquals([code, lines.length], [2, 1], lines.join("\n"));
    assertStringIncludes(lines[0], `--out ${data} is the --data folder`);
    assertEquals(await files(data), before.data);
  });
});

test("teacher: a --name that is not a plain folder name is refused before any work", async () => {
  await withTemp(async (dir) => {
    // Missing data: were the name accepted, this would be the error (nothing gets built).
    const data = join(dir, "missing");
    for (const name of ["..", "../../../somewhere", "a/b", "/tmp/x", ".hidden"]) {
      await assertRejects(
        () =>
          runTeacher(["--name", name, "--data", data, "--backbone", `hf-dir:${HF_MNV2}`, ...FAST]),
        UserError,
        `--name "${name}" cannot name a folder`,
      );
    }
  });
});
