/** Settings that cannot work are refused before any work, naming the flag. */
import { assert, assertThrows } from "@std/assert";
import { UserError } from "../../lib/core/errors.ts";
import { presetRecipe } from "../../lib/presets.ts";
import { type TrainConfig, validateConfig } from "../../lib/train/config.ts";
import { settingDifferences } from "../../lib/core/settings.ts";
import { trainConfigFromJson, trainConfigToJson } from "../../lib/train/config.ts";

const base: TrainConfig = {
  ...presetRecipe("smoke"),
  student: "mobilenet_v2@0.35",
  teacher: "dir:/t",
  trainSplit: "train",
  valSplit: "validation",
  seed: 0,
};

Deno.test("out-of-range settings name their flag", () => {
  const cases: [Partial<TrainConfig>, string][] = [
    [{ studentOptions: { classifierDropoutProb: -1 } }, "--dropout"],
    [{ studentOptions: { classifierDropoutProb: 1.5 } }, "--dropout"],
    [{ warmupRatio: 5 }, "--warmup-ratio"],
    [{ maxImages: -5 }, "--max-images"],
    [{ epochs: 0 }, "--epochs"],
    [{ imageSize: 8 }, "--image-size"],
    [{ lr: Infinity }, "--lr"],
    [{ clipNorm: -1 }, "--clip-norm"],
    [{ studentOptions: { bnMomentum: 2 } }, "--bn-momentum"],
    [{ temperature: 0 }, "--temperature"],
    [{ lambda: 1.5 }, "--lambda"],
    [{ seed: -1 }, "--seed"],
    [{ augment: "rotate" }, "--augment"],
    [{ valSplit: "test" }, "test split"],
    // A path is no split name: "./test" would select on the held-out test split.
    [{ valSplit: "./test" }, 'split "./test"'],
    [{ trainSplit: "../data/train" }, 'split "../data/train"'],
  ];
  for (const [patch, flag] of cases) {
    const e = assertThrows(() => validateConfig({ ...base, ...patch }), UserError);
    assert(e.message.includes(flag), `${JSON.stringify(patch)}: ${e.message}`);
  }
  validateConfig(base);
});

Deno.test("config.json keys are snake_case and read back to the same config", () => {
  const config = { ...base, labelMap: { someTeacherClass: "healthy" } };
  const json = trainConfigToJson(config);
  const keys = JSON.stringify(json).match(/"[a-zA-Z_]+":/g)!.map((k) => k.slice(1, -2));
  // Class names under label_map are data, kept verbatim.
  assert(keys.filter((k) => k !== "someTeacherClass").every((k) => !/[A-Z]/.test(k)), keys.join());
  assert(settingDifferences(trainConfigFromJson(json), config).length === 0);
});
