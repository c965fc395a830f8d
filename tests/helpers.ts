/**
 * Shared test helpers: the beans folder the tests read, and small saved models.
 * @module
 */
import { join } from "node:path";
import { initBackend } from "../lib/backend.ts";
import { createModel } from "../lib/models/registry.ts";
import { saveModel } from "../lib/models/checkpoint.ts";

/** The beans dataset the tests use (env `KD_TEST_DATA`, default the shared copy). */
export const TEST_DATA = Deno.env.get("KD_TEST_DATA") ??
  new URL("../../shared/datasets/beans", import.meta.url).pathname;

/** Save a random-weight beans MobileNetV2 (width 0.35, `size` px) under `dir/name`; returns its path. */
export async function saveRandomStudent(dir: string, name = "model", size = 32): Promise<string> {
  await initBackend(undefined, { quiet: true });
  const m = await createModel("mobilenet_v2@0.35", {
    numLabels: 3,
    labels: ["angular_leaf_spot", "bean_rust", "healthy"],
    imageSize: size,
    seed: 1,
  });
  await saveModel(m, join(dir, name));
  m.dispose();
  return join(dir, name);
}
