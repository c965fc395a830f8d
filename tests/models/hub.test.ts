import { assert, assertEquals, assertRejects } from "@std/assert";
import * as tf from "../../lib/tf.ts";
import { initBackend } from "../../lib/backend.ts";
import { createModel } from "../../lib/models/registry.ts";
import { hfModelFileUrl } from "../../lib/models/hub.ts";
import { getTensor, readSafetensors } from "../../lib/models/safetensors.ts";
import { nchwToNhwc } from "../../lib/models/vit.ts";
import { UserError } from "../../lib/core/errors.ts";

await initBackend("cpu", { quiet: true });

const VIT = Deno.env.get("VIT_FIXTURES")?.split(":")[0] ??
  new URL("../../../shared/fixtures/vit_tiny", import.meta.url).pathname;

Deno.test("hub: hf:ORG/NAME downloads config + weights from HF_ENDPOINT and loads them", async () => {
  const requests: string[] = [];
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, async (req) => {
    const path = new URL(req.url).pathname;
    requests.push(`${req.method} ${path}`);
    const m = /^\/test-org\/tiny-vit\/resolve\/main\/(config\.json|model\.safetensors)$/.exec(path);
    if (!m) return new Response("not found", { status: 404 });
    const body = await Deno.readFile(`${VIT}/${m[1]}`);
    return new Response(req.method === "HEAD" ? null : body, {
      headers: { "content-length": String(body.length) },
    });
  });
  const models = await Deno.makeTempDir();
  const saved = { ep: Deno.env.get("HF_ENDPOINT"), dir: Deno.env.get("KD_MODELS_DIR") };
  Deno.env.set("HF_ENDPOINT", `http://127.0.0.1:${server.addr.port}`);
  Deno.env.set("KD_MODELS_DIR", models);
  try {
    assertEquals(
      hfModelFileUrl("a/b", "config.json"),
      `http://127.0.0.1:${server.addr.port}/a/b/resolve/main/config.json`,
    );
    const model = await createModel("hf:test-org/tiny-vit", { numLabels: 3, quiet: true });
    await Deno.stat(`${models}/test-org/tiny-vit/model.safetensors`);
    const io = await readSafetensors(`${VIT}/io.safetensors`);
    const x = getTensor(io, "pixel_values") as tf.Tensor4D;
    const want = getTensor(io, "logits");
    const got = model.apply(nchwToNhwc(x));
    assert(tf.max(tf.abs(tf.sub(got, want))).dataSync()[0] <= 1e-4);
    assert(requests.some((r) => r.endsWith("/model.safetensors")));
    tf.dispose([x, want, got]);
    model.dispose();
    await assertRejects(() => createModel("hf:../etc", { numLabels: 3 }), UserError);
  } finally {
    saved.ep === undefined ? Deno.env.delete("HF_ENDPOINT") : Deno.env.set("HF_ENDPOINT", saved.ep);
    saved.dir === undefined
      ? Deno.env.delete("KD_MODELS_DIR")
      : Deno.env.set("KD_MODELS_DIR", saved.dir);
    await server.shutdown();
    await Deno.remove(models, { recursive: true });
  }
});
