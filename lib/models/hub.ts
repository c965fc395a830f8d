/**
 * Hugging Face hub models: `hf:ORG/NAME` is fetched once (`config.json`, `model.safetensors`,
 * optional `preprocessor_config.json`) into `data/models/ORG/NAME/`; `HF_ENDPOINT` selects a mirror.
 * @module
 */
import { UserError } from "../core/errors.ts";
import { DownloadError, downloadFile } from "../net/download.ts";

/** Folder models are fetched into (env `KD_MODELS_DIR`, else `<repo>/data/models`). */
export function modelsDir(): string {
  return Deno.env.get("KD_MODELS_DIR") ??
    new URL("../../data/models", import.meta.url).pathname;
}

/** URL of a file in a hub model repository. */
export function hfModelFileUrl(repo: string, file: string, revision = "main"): string {
  const endpoint = (Deno.env.get("HF_ENDPOINT") ?? "https://huggingface.co").replace(/\/+$/, "");
  return `${endpoint}/${repo}/resolve/${revision}/${file}`;
}

/** Download `ORG/NAME` (if not already there) and return its local folder. */
export async function fetchHFModel(repo: string, opts: { quiet?: boolean } = {}): Promise<string> {
  if (!/^[\w.-]+\/[\w.-]+$/.test(repo) || repo.includes("..")) {
    throw new UserError(`hf:${repo}: expected hf:ORG/NAME`);
  }
  const dir = `${modelsDir()}/${repo}`;
  await Deno.mkdir(dir, { recursive: true });
  for (const file of ["config.json", "model.safetensors"]) {
    await downloadFile(hfModelFileUrl(repo, file), `${dir}/${file}`, { quiet: opts.quiet });
  }
  try {
    await downloadFile(
      hfModelFileUrl(repo, "preprocessor_config.json"),
      `${dir}/preprocessor_config.json`,
      {
        quiet: true,
        retries: 1,
      },
    );
  } catch (e) {
    // Optional file: without it the ViT defaults (config image size, mean = std = 0.5) apply.
    if (!(e instanceof DownloadError && e.kind === "http")) throw e;
  }
  return dir;
}
