// One-off: what the guide's ViT-B/16 teacher's logits cost on this machine (random weights, same shapes).
import { initBackend } from "./lib/backend.ts";
import { ViT, type ViTConfig } from "./lib/models/vit.ts";
import { loadSplit } from "./lib/data/dataset.ts";
import { evenlySpaced, subsetSplit } from "./lib/data/subset.ts";
import { teacherLogits } from "./lib/teacher_cache.ts";
const b = await initBackend(undefined, { quiet: true });
const cfg: ViTConfig = {
  kind: "vit",
  prefix: "vit",
  numLabels: 3,
  hiddenSize: 768,
  numLayers: 12,
  numHeads: 12,
  intermediateSize: 3072,
  imageSize: 224,
  patchSize: 16,
  numChannels: 3,
  layerNormEps: 1e-12,
  qkvBias: true,
  initializerRange: 0.02,
  distillationToken: false,
  head: "cls",
};
const vit = new ViT(cfg, undefined, 0);
const val = await loadSplit({
  data: "/work/shared/datasets/beans",
  split: "validation",
  preprocess: vit.input,
  quiet: true,
});
const n = Number(Deno.args[0] ?? 64);
const s = subsetSplit(val, evenlySpaced(val.n, n));
const dir = await Deno.makeTempDir();
const t0 = performance.now();
await teacherLogits(vit, "vit-b16-timing", s, { dir, quiet: true });
const secs = (performance.now() - t0) / 1000;
console.log(
  JSON.stringify({
    backend: b.name,
    device: b.device,
    images: s.n,
    seconds: secs,
    per_image_s: secs / s.n,
    beans_1167_min: secs / s.n * 1167 / 60,
  }),
);
await Deno.remove(dir, { recursive: true });
