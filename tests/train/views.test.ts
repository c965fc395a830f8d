/**
 * Consistent teaching: for a seeded batch the teacher (at its own resolution) and the student
 * see the same view (crop boxes, flips, mixup partners and weight), and the scratch arm of the
 * seed trains on the same views as the distilled arm.
 */
import { test } from "../permissions.ts";
import * as tf from "../../lib/tf.ts";
import { assert, assertEquals, assertNotEquals, assertRejects } from "@std/assert";
import { join } from "node:path";
import { train, type TrainConfig } from "../../lib/train.ts";
import { presetRecipe } from "../../lib/presets.ts";
import { UserError } from "../../lib/core/errors.ts";
import { parseAugment } from "../../lib/data/augment.ts";
import { loadConfigSplit, loadRunData } from "../../lib/train/data.ts";
import { loadTeacher, makeTargets } from "../../lib/train/targets.ts";
import { type BatchView, sampleBatchView, viewInput } from "../../lib/train/views.ts";
import { saveRandomStudent, TEST_DATA } from "../helpers.ts";

const AUGMENT = "crop=0.3-1,flip,mixup=0.4";

async function withTeacher(fn: (dir: string, base: TrainConfig) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "kd-views-" });
  Deno.env.set("KD_CACHE_DIR", join(dir, "cache"));
  try {
    // The teacher takes 64 px images, the student 32 px.
    const teacher = await saveRandomStudent(dir, "teacher", 64);
    await fn(dir, {
      ...presetRecipe("smoke"),
      maxImages: 16,
      batchSize: 8,
      epochs: 2,
      augment: AUGMENT,
      student: "mobilenet_v2@0.35",
      teacher: `dir:${teacher}`,
      data: TEST_DATA,
      trainSplit: "train",
      valSplit: "validation",
      seed: 5,
    });
  } finally {
    Deno.env.delete("KD_CACHE_DIR");
    await Deno.remove(dir, { recursive: true });
  }
}

test("a seeded batch: the teacher labels, at 64 px, the view the student sees at 32 px", async () => {
  await withTeacher(async (_dir, config) => {
    const data = await loadRunData(config, { quiet: true });
    const targets = await makeTargets(config, data, { online: true, quiet: true });
    const idx = Int32Array.from([3, 0, 7, 12, 5]);
    const at = { seed: config.seed, epoch: 2, step: 3, size: config.imageSize };
    const view = sampleBatchView(idx, parseAugment(AUGMENT), at);
    // Seeded: the same (seed, epoch, step) gives the same view; another step another one.
    assertEquals(sampleBatchView(idx, parseAugment(AUGMENT), at), view);
    assertNotEquals(sampleBatchView(idx, parseAugment(AUGMENT), { ...at, step: 4 }), view);
    assert(view.views && view.mix, "crop, flip and mixup are all sampled");
    // Boxes lie on the student's 32 px grid, as fractions the teacher scales to 64 px.
    assert(view.views.every((v) => v.box.every((b) => Number.isInteger(b * 32))));

    // The teacher's logits are exactly its output on the same boxes, flips and mix at 64 px.
    const teacher = await loadTeacher(config.teacher!, data.classNames, { quiet: true });
    assertEquals(teacher.input.size, 64);
    const split = await loadConfigSplit(config, "train", teacher.input, { quiet: true });
    // maxImages 16 of 24 rows: the student's row i is the teacher split's row of the same id.
    const rows = Int32Array.from(idx, (i) => split.ids.indexOf(data.train.ids[i]));
    const x = viewInput(split, rows, teacher.input, view);
    const expected = tf.tidy(() => teacher.apply(x, { training: false })).arraySync();
    const got = await targets.batch(idx, view);
    assertEquals(got.arraySync(), expected);
    // The student's input is the same view at 32 px.
    const s = viewInput(data.train, idx, { ...teacher.input, size: 32 }, view);
    assertEquals(s.shape, [5, 32, 32, 3]);
    tf.dispose([x, got, s]);
    teacher.dispose();
    targets.dispose();
  });
});

test("distilled and scratch arms of a seed see the same views; a mixup run resumes exactly", async () => {
  await withTeacher(async (dir, config) => {
    const record =
      (into: [number, number[], BatchView][]) => (s: number, i: Int32Array, v: BatchView) =>
        into.push([s, [...i], v]);
    const distilled: [number, number[], BatchView][] = [];
    const scratch: [number, number[], BatchView][] = [];
    const losses: number[] = [];
    await train(config, {
      out: join(dir, "kd"),
      quiet: true,
      onBatch: record(distilled),
      onStep: (_s, l) => losses.push(l.total),
    });
    await train({ ...config, teacher: null }, {
      out: join(dir, "scratch"),
      quiet: true,
      onBatch: record(scratch),
    });
    assertEquals(distilled.length, 4);
    assertEquals(scratch, distilled);

    // Interrupted after epoch 1 (2 steps per epoch), then resumed: the same steps, bit for bit.
    const cut = join(dir, "cut");
    await assertRejects(() => train(config, { out: cut, quiet: true, nanAtStep: 3 }), UserError);
    const resumed: number[] = [];
    await train(config, {
      out: cut,
      quiet: true,
      resume: true,
      onStep: (_s, l) => resumed.push(l.total),
    });
    assertEquals(resumed, losses.slice(2));
    const final = (d: string) =>
      JSON.parse(Deno.readTextFileSync(join(dir, d, "final.json"))).validation;
    assertEquals(final("cut"), final("kd"));
  });
});

test("DKD with mixup is refused: it needs one true class per image", async () => {
  await withTeacher(async (dir, config) => {
    await assertRejects(
      () => train({ ...config, method: "dkd" }, { out: join(dir, "x"), quiet: true }),
      UserError,
      "mixup",
    );
  });
});
