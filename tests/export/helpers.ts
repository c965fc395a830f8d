/** Shared material for the export tests: the HF fixture and a freshly trained tiny student. */
import { join } from "node:path";
import { train } from "../../lib/train.ts";
import { presetRecipe } from "../../lib/presets.ts";
import { initBackend } from "../../lib/backend.ts";
import { TEST_DATA } from "../helpers.ts";
import { FIXTURES } from "../fixture_paths.ts";

/** The tiny HF MobileNetV2 fixture (`tests/fixtures/mobilenet_v2_tiny`, or `KD_FIXTURES`'s). */
export const MNV2_FIXTURE = `${FIXTURES}/mobilenet_v2_tiny`;

/** The tiny HF ViT fixture (a model the exporter must refuse). */
export const VIT_FIXTURE = `${FIXTURES}/vit_tiny`;

/**
 * Train a tiny student (MobileNetV2 ×0.35, 32 px, `smoke` preset, 3 epochs on 48 images) into
 * `dir/run` and return the run folder. HF's BN momentum keeps its outputs image-dependent after
 * so few steps (with 0.1 the running statistics are still mostly their initial values).
 */
export async function trainTinyStudent(dir: string): Promise<string> {
  await initBackend(undefined, { quiet: true });
  const out = join(dir, "run");
  const recipe = presetRecipe("smoke");
  await train({
    ...recipe,
    studentOptions: { ...recipe.studentOptions, bnMomentum: "hf" },
    lr: 5e-4,
    epochs: 3,
    batchSize: 8,
    student: "mobilenet_v2@0.35",
    teacher: null,
    data: TEST_DATA,
    trainSplit: "train",
    valSplit: "validation",
    seed: 3,
    preset: "smoke",
  }, { out, quiet: true });
  return out;
}
