/** A tfjs model folder reads its weights from inside itself only. */
import { ALL_GRANTED, test } from "../permissions.ts";
import { assertRejects } from "@std/assert";
import { join } from "node:path";
import { initBackend } from "../../lib/backend.ts";
import { loadTfjsLayersDir } from "../../lib/models/layers_backbone.ts";
import { UserError } from "../../lib/core/errors.ts";
import { tfjsBackbone, tfjsWithWeightsAt } from "../helpers.ts";

if (ALL_GRANTED) await initBackend("cpu", { quiet: true });

test("tfjs-dir: a weights path outside the model's folder is refused, naming model.json and the path", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kd-tfjs-escape-" });
  try {
    const src = await tfjsBackbone();
    for (
      const listed of [
        (n: string) => `../elsewhere/${n}`,
        (n: string) => join(dir, "elsewhere", n),
        (n: string) => `sub/../../elsewhere/${n}`,
      ]
    ) {
      const model = await tfjsWithWeightsAt(src, dir, listed);
      await assertRejects(
        () => loadTfjsLayersDir(model, { numLabels: 3 }),
        UserError,
        `${model}/model.json: weights path "${listed("")}`,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
