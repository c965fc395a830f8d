/**
 * The fake hub's contents for end-to-end tests: beans as the hub lays it out (a small test split
 * built from validation rows, since the real one is held out), the tiny MobileNetV2 fixture as
 * `google/mobilenet_v2_1.0_224` and the tiny ViT fixture as `merve/beans-vit-224`.
 * @module
 */
import { join } from "node:path";
import type { FakeRepo } from "./fake_hub.ts";
import { folderFiles } from "./fake_hub.ts";
import { BEANS_CLASSES, BEANS_DIR, validationRows, writeImageParquet } from "../data/helpers.ts";
import { FIXTURES } from "../fixture_paths.ts";

/** The three repositories, read from the test fixtures and the committed beans subset. */
export async function beansHubRepos(): Promise<FakeRepo[]> {
  const tmp = await Deno.makeTempDir({ prefix: "kd-fake-beans-" });
  try {
    const rows = await validationRows(0, 133);
    writeImageParquet(
      join(tmp, "test.parquet"),
      rows.filter((_, i) => i % 3 === 0),
      { classNames: BEANS_CLASSES },
    );
    const test = await Deno.readFile(join(tmp, "test.parquet"));
    return [
      {
        type: "dataset",
        repo: "AI-Lab-Makerere/beans",
        files: {
          "README.md": new TextEncoder().encode("# beans (fake hub copy)\n"),
          "data/train-00000-of-00001.parquet": await Deno.readFile(
            join(BEANS_DIR, "train.parquet"),
          ),
          "data/validation-00000-of-00001.parquet": await Deno.readFile(
            join(BEANS_DIR, "validation.parquet"),
          ),
          "data/test-00000-of-00001.parquet": test,
        },
      },
      {
        type: "model",
        repo: "google/mobilenet_v2_1.0_224",
        files: await modelFiles(join(FIXTURES, "mobilenet_v2_tiny")),
      },
      {
        type: "model",
        repo: "merve/beans-vit-224",
        files: await modelFiles(join(FIXTURES, "vit_tiny")),
      },
    ];
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}

/** A fixture folder's checkpoint files (its `io.safetensors` test vectors left out). */
export async function modelFiles(dir: string): Promise<Record<string, Uint8Array>> {
  const files = await folderFiles(dir);
  delete files["io.safetensors"];
  return files;
}
