import { ALL_GRANTED, test } from "../permissions.ts";
import { tfjsBackbone } from "../helpers.ts";
import { assert, assertEquals, assertGreater, assertLess } from "@std/assert";
import * as tf from "../../lib/tf.ts";
import { initBackend } from "../../lib/backend.ts";
import { loadTfjsLayersDir } from "../../lib/models/layers_backbone.ts";
import { calibrateBatchNorm, mobileNetV2FromLayers } from "../../lib/models/unfold_mobilenet_v2.ts";

if (ALL_GRANTED) {
  await initBackend("wasm", { quiet: true }).catch(() => initBackend("cpu", { quiet: true }));
}

/** Largest absolute difference relative to the largest magnitude of `a`. */
function relDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() =>
    tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] / tf.max(tf.abs(a)).dataSync()[0]
  );
}

test("unfold: the folded tfjs MobileNetV2 becomes the toolkit's, same features; batch norms calibrated", async () => {
  const dir = await tfjsBackbone();
  const layers = await loadTfjsLayersDir(dir, { numLabels: 3, labels: ["a", "b", "c"], seed: 1 });
  const model = mobileNetV2FromLayers(layers, { seed: 1 });
  const uncalibrated = mobileNetV2FromLayers(layers, { seed: 1 });
  assert(model && uncalibrated, "the ImageNet MobileNetV2 topology is recognised");
  const x = tf.randomUniform([2, 224, 224, 3], -1, 1, "float32", 11) as tf.Tensor4D;
  try {
    assertEquals(model.config.kind, "mobilenet_v2");
    assertEquals(model.config.labels, ["a", "b", "c"]);
    assertEquals([model.input.size, model.featureSize], [224, 1280]);
    const reference = layers.featuresFrom(null, x);
    const f0 = model.featuresFrom(null, x);
    assertLess(relDiff(reference, f0), 1e-4);
    // Identity batch norms in training mode normalise every activation: far from pretrained.
    const raw = uncalibrated.featuresFrom(null, x, { training: true });
    assertGreater(relDiff(f0, raw), 0.05);
    assertEquals(calibrateBatchNorm(model, [x]), 2);
    // Eval mode is unchanged; training mode on the measured batch now reproduces it.
    const f1 = model.featuresFrom(null, x);
    assertLess(relDiff(f0, f1), 1e-4);
    const trained = model.featuresFrom(null, x, { training: true });
    assertLess(relDiff(f0, trained), 1e-3);
    tf.dispose([reference, f0, raw, f1, trained]);
  } finally {
    x.dispose();
    model.dispose();
    uncalibrated.dispose();
    layers.dispose();
  }
  // Cut before its pooled features, it is no longer a whole MobileNetV2: left as it is.
  const cut = await loadTfjsLayersDir(dir, { numLabels: 3, seed: 1, featureLayer: "re_lu_ReLU10" });
  try {
    assertEquals(mobileNetV2FromLayers(cut), null);
  } finally {
    cut.dispose();
  }
});
