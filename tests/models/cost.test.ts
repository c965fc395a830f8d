import { test } from "../permissions.ts";
import { assertEquals } from "@std/assert";
import { initBackend } from "../../lib/backend.ts";
import { MobileNetV2 } from "../../lib/models/mobilenet_v2.ts";
import { modelCost, vitMacs } from "../../lib/models/cost.ts";
import { ViT, type ViTConfig } from "../../lib/models/vit.ts";
import { loadTfjsLayersDir } from "../../lib/models/layers_backbone.ts";
import { tfjsBackbone } from "../helpers.ts";

await initBackend("cpu", { quiet: true });

test("cost: MobileNetV2 1.0 at 224 px with 1000 classes is the published 3.50 M / 300.8 M", async () => {
  // torchvision's mobilenet_v2 (same architecture): 3,504,872 parameters, 300.77 M MACs.
  const m = new MobileNetV2({ numLabels: 1000, seed: 1 });
  assertEquals(await modelCost(m), { params: 3_504_872, macs: 300_774_272 });
  m.dispose();
});

test("cost: the tfjs ImageNet MobileNetV2, counted from tfjs' own layer shapes, agrees", async () => {
  // Independent count (Keras topology and tfjs shape inference, ZeroPadding + valid convs)
  // of the same network: identical convolutions, so only the classifier width differs.
  const b = await loadTfjsLayersDir(await tfjsBackbone(), { numLabels: 3 });
  const m = new MobileNetV2({ numLabels: 3, seed: 1 });
  assertEquals((await modelCost(b)).macs, (await modelCost(m)).macs);
  b.dispose();
  m.dispose();
});

test("cost: ViT counts patch embedding, attention (QKV, QK^T, AV, out), MLP and head", async () => {
  const c: ViTConfig = {
    kind: "vit",
    prefix: "vit",
    numLabels: 3,
    hiddenSize: 8,
    numLayers: 2,
    numHeads: 2,
    intermediateSize: 16,
    imageSize: 8,
    patchSize: 4,
    numChannels: 3,
    layerNormEps: 1e-12,
    qkvBias: true,
    initializerRange: 0.02,
    distillationToken: false,
    head: "cls",
  };
  // 4 patches + CLS = 5 tokens. Embedding 4·(4·4·3)·8 = 1536. Per layer: QKV 3·5·8·8 = 960,
  // QKᵀ and AV 2·5·5·8 = 400, output 5·8·8 = 320, MLP 2·5·8·16 = 1280 → 2960. Head 8·3 = 24.
  assertEquals(vitMacs(c), 1536 + 2 * 2960 + 24);
  const v = new ViT(c, undefined, 1);
  const cost = await modelCost(v);
  assertEquals(cost.macs, 1536 + 2 * 2960 + 24);
  // Parameters: patch 4·4·3·8+8, cls 8, pos 5·8, 2 layers × (2 LN 32 + QKV 3·72 + out 72 +
  // fc1 8·16+16 + fc2 16·8+8), final LN 16, head 8·3+3.
  assertEquals(cost.params, 392 + 8 + 40 + 2 * (32 + 216 + 72 + 144 + 136) + 16 + 27);
  v.dispose();
});
