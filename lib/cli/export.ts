/**
 * `deno task export --model SPEC --format hf|tfjs --out DIR [--force] [--push ORG/NAME] [--json]`:
 * ship a trained student as a folder transformers loads (`hf`) or a TensorFlow.js web model
 * (`tfjs`). SPEC is any registry spec or a run directory (its best/).
 * @module
 */
import { UserError } from "../core/errors.ts";
import { runCommand } from "./command.ts";
import { SPEC_FORMS } from "../models/registry.ts";
import { EXPORT_FORMATS, type ExportFormat, exportModel } from "../export/export.ts";
import { pushFolder } from "../export/push.ts";

const USAGE = `usage: deno task export --model SPEC|RUN_DIR --format ${
  EXPORT_FORMATS.join("|")
} --out DIR [--force] [--push ORG/NAME] [--json] [--quiet] [--backend NAME]

  --model   a run directory (exports its best/) or a model spec: ${SPEC_FORMS.join(" | ")}
  --format  hf:   config.json, model.safetensors (PyTorch layouts), preprocessor_config.json and
                  a README.md model card; MobileNetV2ForImageClassification.from_pretrained(DIR)
            tfjs: model.json + weight shards for tf.loadLayersModel (browsers, Deno)
  --out     folder to create; a non-empty one is replaced only with --force
  --push    upload the hf folder to the hub repo ORG/NAME (needs HF_TOKEN; HF_ENDPOINT respected)`;

if (import.meta.main) {
  await runCommand({
    usage: USAGE,
    string: ["model", "format", "out", "push"],
    boolean: ["force", "quiet"],
    json: true,
    backend: true,
    async run(f, ctx) {
      for (const flag of ["model", "format", "out"]) {
        if (!f[flag]) throw new UserError(`--${flag} is required (see --help)`);
      }
      const push = f.push as string | undefined;
      const token = Deno.env.get("HF_TOKEN");
      if (push !== undefined) {
        if (f.format !== "hf") throw new UserError("--push uploads hf exports only (--format hf)");
        if (!token) throw new UserError("--push needs a hub token in HF_TOKEN");
      }
      const result = await exportModel({
        model: f.model as string,
        format: f.format as ExportFormat,
        out: f.out as string,
        force: f.force as boolean,
        repoId: push ?? null,
        quiet: (f.quiet as boolean) || ctx.json,
      });
      const pushed = push === undefined ? null : await pushFolder({
        repoId: push,
        dir: result.out,
        token: token!,
        quiet: f.quiet as boolean,
      });
      return { ...result, push: pushed };
    },
    print(r) {
      console.log(`${r.format} export of ${r.source} → ${r.out}`);
      for (const file of r.files) {
        console.log(`  ${file.name.padEnd(28)} ${(file.bytes / 1e6).toFixed(2).padStart(8)} MB`);
      }
      console.log(
        `  ${r.params.toLocaleString("en-US")} parameters, ${
          r.macs === null ? "?" : (r.macs / 1e6).toFixed(1)
        } M multiply-adds per ${r.image_size}×${r.image_size} image; classes ${
          r.class_names.join(", ")
        }`,
      );
      if (r.push) {
        console.log(
          `  pushed to ${r.push.repo_id}${r.push.commit_url ? ` (${r.push.commit_url})` : ""}`,
        );
      }
    },
  });
}
