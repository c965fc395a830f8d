import { test } from "../permissions.ts";
import { assert, assertEquals, assertRejects, assertStringIncludes } from "@std/assert";
import * as tf from "../../lib/tf.ts";
import { initBackend } from "../../lib/backend.ts";
import { createModel } from "../../lib/models/registry.ts";
import { fetchHFModel } from "../../lib/models/hub.ts";
import { getTensor, readSafetensors } from "../../lib/models/safetensors.ts";
import { nchwToNhwc } from "../../lib/models/vit.ts";
import { UserError } from "../../lib/core/errors.ts";
import { folderFiles } from "../net/fake_hub.ts";
import { withEnv, withFakeHub } from "../net/hub_env.ts";
import { modelFiles } from "../net/beans_hub.ts";
import { FIXTURES } from "../fixture_paths.ts";
import { shardSafetensors } from "./shards.ts";

await initBackend("cpu", { quiet: true });

const VIT = `${FIXTURES}/vit_tiny`;

async function expectFixtureLogits(spec: string) {
  const model = await createModel(spec, { numLabels: 3, quiet: true });
  const io = await readSafetensors(`${VIT}/io.safetensors`);
  const x = getTensor(io, "pixel_values") as tf.Tensor4D;
  const want = getTensor(io, "logits");
  const got = model.apply(nchwToNhwc(x));
  const err = tf.max(tf.abs(tf.sub(got, want))).dataSync()[0];
  tf.dispose([x, want, got]);
  model.dispose();
  assert(err <= 1e-4, `${spec}: max error ${err}`);
}

test("hub: hf:ORG/NAME discovers safetensors, pytorch_model.bin or shards from the file list", async () => {
  const repos = [
    { type: "model" as const, repo: "t/st", files: await modelFiles(VIT) },
    { type: "model" as const, repo: "t/bin", files: await modelFiles(`${FIXTURES}/vit_tiny_bin`) },
    {
      type: "model" as const,
      repo: "t/sharded",
      files: {
        "config.json": await Deno.readFile(`${VIT}/config.json`),
        ...await shardSafetensors(`${VIT}/model.safetensors`),
      },
    },
  ];
  await withFakeHub(repos, async (hub) => {
    for (const name of ["t/st", "t/bin", "t/sharded"]) await expectFixtureLogits(`hf:${name}`);
    const gets = hub.log.filter((r) => r.method === "GET").map((r) => r.path);
    assert(gets.includes("/api/models/t/bin"));
    // Only what the checkpoint needs is downloaded.
    assert(!gets.some((p) => p.includes("io.safetensors")));
    // Offline, from the cache: the same logits, no request.
    const n = hub.log.length;
    await withEnv({ HF_HUB_OFFLINE: "1" }, async () => {
      for (const name of ["t/st", "t/bin", "t/sharded"]) await expectFixtureLogits(`hf:${name}`);
    });
    assertEquals(hub.log.length, n);
  });
});

test("hub: a repository without weights, or unknown, is one clear error", async () => {
  const files = await folderFiles(VIT);
  await withFakeHub([{
    type: "model",
    repo: "t/noweights",
    files: { "config.json": files["config.json"] },
  }], async () => {
    const e = await assertRejects(() => fetchHFModel("t/noweights", { quiet: true }), UserError);
    assertStringIncludes(e.message, "model.safetensors");
    await assertRejects(() => fetchHFModel("t/absent", { quiet: true }), UserError, "not found");
    await assertRejects(() => createModel("hf:../etc", { numLabels: 3 }), UserError);
  });
});
