/** Every size a model config sets is bounded when the config is read: one line, file and key. */
import { ALL_GRANTED, test } from "../permissions.ts";
import { assertEquals, assertRejects, assertStringIncludes, assertThrows } from "@std/assert";
import { join } from "node:path";
import { initBackend } from "../../lib/backend.ts";
import { createModel, loadModel, parseSpec } from "../../lib/models/registry.ts";
import { vitConfigFromHF } from "../../lib/models/vit.ts";
import { openBackbone } from "../../lib/teacher/backbone.ts";
import { UserError } from "../../lib/core/errors.ts";
import { saveRandomStudent, TEST_DATA } from "../helpers.ts";
import { runCommand } from "../commands.ts";
import { MNV2_FIXTURE } from "../export/helpers.ts";

if (ALL_GRANTED) await initBackend(undefined, { quiet: true });

const VIT_BASE = {
  model_type: "vit",
  hidden_size: 192,
  num_hidden_layers: 12,
  num_attention_heads: 3,
  intermediate_size: 768,
  image_size: 224,
  patch_size: 16,
  num_labels: 3,
};

test("config sizes out of bounds are refused naming config.json and the key", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "kd-bounds-" });
  try {
    // HF MobileNetV2 (hf-dir:): refused from config.json alone, before any weight is read.
    const fixture = JSON.parse(await Deno.readTextFile(join(MNV2_FIXTURE, "config.json")));
    const hf = join(tmp, "hf");
    await Deno.mkdir(hf);
    const mnv2: [string, unknown][] = [
      ["depth_multiplier", 1e9],
      ["image_size", 1e7],
      ["num_labels", 1e9],
      ["min_depth", 1e9],
      ["expand_ratio", 1e9],
      ["depth_divisible_by", 1e6],
      ["output_stride", 1e9],
      ["num_channels", 1e5],
      ["depth_multiplier", -1],
      ["image_size", 32.5],
    ];
    for (const [key, value] of mnv2) {
      await Deno.writeTextFile(
        join(hf, "config.json"),
        JSON.stringify({ ...fixture, [key]: value }),
      );
      await assertRejects(
        () => createModel(`hf-dir:${hf}`),
        UserError,
        `${hf}/config.json: "${key}" must be`,
      );
    }

    // HF ViT: each size, and sizes that are each fine but together far too large.
    const vit: [string, unknown][] = [
      ["image_size", 1e7],
      ["num_hidden_layers", 1e9],
      ["hidden_size", 1e6],
      ["num_attention_heads", 1e4],
      ["intermediate_size", 1e9],
      ["patch_size", 1e7],
      ["num_labels", 1e9],
    ];
    for (const [key, value] of vit) {
      assertThrows(
        () => vitConfigFromHF({ ...VIT_BASE, [key]: value }, "V/config.json"),
        UserError,
        `V/config.json: "${key}" must be`,
      );
    }
    assertThrows(
      () =>
        vitConfigFromHF(
          { ...VIT_BASE, hidden_size: 8192, num_hidden_layers: 128, num_attention_heads: 64 },
          "V/config.json",
        ),
      UserError,
      "billion parameters",
    );
    const vitDir = join(tmp, "vit");
    await Deno.mkdir(vitDir);
    await Deno.writeTextFile(
      join(vitDir, "config.json"),
      JSON.stringify({ ...VIT_BASE, num_hidden_layers: 1e9 }),
    );
    await assertRejects(
      () => createModel(`hf-dir:${vitDir}`),
      UserError,
      `${vitDir}/config.json: "num_hidden_layers" must be an integer in [1, 128], got 1000000000`,
    );

    // A model saved by this toolkit (dir:): its camelCase config and its input size.
    const saved = await saveRandomStudent(tmp, "student");
    const path = join(saved, "config.json");
    const good = JSON.parse(await Deno.readTextFile(path));
    for (
      const [edit, key] of [
        [(c: typeof good) => c.config.depthMultiplier = 1e9, "depthMultiplier"],
        [(c: typeof good) => c.config.numLabels = 1e9, "numLabels"],
        [(c: typeof good) => c.input.size = 1e7, "size"],
      ] as const
    ) {
      const c = structuredClone(good);
      edit(c);
      await Deno.writeTextFile(path, JSON.stringify(c));
      await assertRejects(() => loadModel(saved), UserError, `${path}: "${key}" must be`);
    }
    assertThrows(() => parseSpec("mobilenet_v2@1e9"), UserError, "bad width");

    // The command: one line, exit 2, no stack trace.
    await Deno.writeTextFile(
      join(hf, "config.json"),
      JSON.stringify({ ...fixture, depth_multiplier: 1e9 }),
    );
    const { code, lines } = await runCommand(
      "eval",
      ["--model", `hf-dir:${hf}`, "--data", TEST_DATA, "--split", "validation"],
    );
    assertEquals([code, lines.length], [2, 1], lines.join("\n"));
    assertStringIncludes(lines[0], `error: ${hf}/config.json: "depth_multiplier" must be`);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

test("config.json or model.json that is valid JSON but not an object is one clear error", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "kd-json-shape-" });
  try {
    for (const body of ["null", "[]", "3", '"vit"']) {
      await Deno.writeTextFile(join(tmp, "config.json"), body);
      await Deno.writeTextFile(join(tmp, "model.json"), body);
      await assertRejects(() => createModel(`hf-dir:${tmp}`), UserError, "config.json");
      await assertRejects(
        () => openBackbone(`hf-dir:${tmp}`, { numLabels: 3 }),
        UserError,
        "config.json",
      );
      await assertRejects(() => createModel(`tfjs-dir:${tmp}`), UserError, "model.json");
    }
    // The command: one line, exit 2, no stack trace.
    await Deno.writeTextFile(join(tmp, "config.json"), "null");
    const { code, lines } = await runCommand(
      "eval",
      ["--model", `hf-dir:${tmp}`, "--data", TEST_DATA, "--split", "validation"],
    );
    assertEquals([code, lines.length], [2, 1], lines.join("\n"));
    assertStringIncludes(lines[0], `${tmp}/config.json is not a JSON object`);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
