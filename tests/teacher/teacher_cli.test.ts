import { assert, assertEquals, assertRejects, assertStringIncludes } from "@std/assert";
import { runTeacher } from "../../lib/cli/teacher.ts";
import { loadModel } from "../../lib/models/registry.ts";
import { UserError } from "../../lib/core/errors.ts";

const SHARED = new URL("../../../shared/", import.meta.url).pathname;
const BACKBONE = Deno.env.get("KD_PRETRAINED_DIR") ??
  `${SHARED}models/mobilenet_v2_1.0_224_imagenet`;
const BEANS = Deno.env.get("KD_BEANS_DIR") ?? `${SHARED}datasets/beans`;

Deno.test("teacher CLI: a tiny probe run saves a loadable teacher with its validation score", async () => {
  const out = await Deno.makeTempDir();
  try {
    const r = await runTeacher([
      "--from",
      BACKBONE,
      "--data",
      BEANS,
      "--out",
      `${out}/t`,
      "--max-images",
      "9",
      "--epochs",
      "5",
      "--weight-decays",
      "0",
      "--quiet",
      "--backend",
      "wasm",
    ]);
    assert(r.valAcc >= 0 && r.valAcc <= 1);
    const saved = JSON.parse(await Deno.readTextFile(`${out}/t/config.json`));
    assertEquals(saved.config.kind, "layers_backbone");
    assertEquals(saved.config.labels, ["angular_leaf_spot", "bean_rust", "healthy"]);
    assertEquals(saved.info.validation.accuracy, r.valAcc);
    assertEquals(saved.info.validation.images, 9);
    const m = await loadModel(`${out}/t`);
    assertEquals(m.config.numLabels, 3);
    m.dispose();
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("teacher CLI: bad flags are UserErrors naming the flag", async () => {
  for (
    const [args, msg] of [
      [["--train-fraction", "1.5"], "--train-fraction"],
      [["--finetune-blocks", "-1"], "--finetune-blocks"],
      [["--epochs", "0"], "--epochs"],
      [["--bogus"], "bogus"],
    ] as const
  ) {
    const e = await assertRejects(() => runTeacher([...args, "--quiet"]), UserError);
    assertStringIncludes(e.message, msg);
  }
});
