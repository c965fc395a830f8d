/**
 * The teacher the distillation notebook uses: env `KD_TEACHER` (any registry spec) wins; the
 * `smoke` profile takes the guide's own ViT teacher `hf:merve/beans-vit-224` (from the Hugging
 * Face cache; downloaded on first use); other profiles build the linear-probe teacher on the
 * teachers' backbone (env `KD_BACKBONE`, else the hub's ImageNet MobileNetV2) once, in-process.
 * @module
 */
import { join } from "node:path";
import { exists, readJson } from "../core/fs.ts";
import { backboneSpec } from "../teacher/backbone.ts";
import { buildTeacher } from "../teacher/build.ts";
import { notebookDataDir, REPO_ROOT } from "./paths.ts";
import { resolveSplit } from "../data/resolve.ts";
import { ensureModelFiles } from "../models/registry.ts";

/**
 * A chosen teacher and why.
 *
 * @example Show the reader which teacher the notebook distils from
 * ```ts
 * import { type NotebookTeacher, notebookTeacher } from "@kd/vision/notebook";
 *
 * Deno.env.set("KD_TEACHER", "hf-dir:tests/fixtures/vit_tiny");
 * const teacher: NotebookTeacher = await notebookTeacher("smoke");
 * console.log(`teacher ${teacher.spec}: ${teacher.note}`);
 * ```
 */
export interface NotebookTeacher {
  /** Registry spec of the teacher, e.g. `hf:merve/beans-vit-224` or `dir:PATH`. */
  spec: string;
  /** One sentence for the notebook reader. */
  note: string;
}

/** The guide's teacher on the hub. */
export const GUIDE_TEACHER = "hf:merve/beans-vit-224";

/** Build the probe teacher into `out` (summary on stdout) unless it holds one from the same backbone. */
export async function buildProbeTeacher(
  out: string,
  opts: { data?: string; from?: string },
): Promise<void> {
  const from = backboneSpec(opts.from);
  let rebuild = false;
  if (await exists(join(out, "config.json"))) {
    const saved = await readJson<{ info?: { from?: string; made_by?: unknown } }>(
      join(out, "config.json"),
    );
    if (saved.info?.from === from) return;
    // A teacher this toolkit built from another backbone is replaced; anything else is refused.
    rebuild = String(saved.info?.made_by).startsWith("buildTeacher");
  }
  console.log(`building the teacher (once) from ${from} into ${out}`);
  const t0 = performance.now();
  const r = await buildTeacher({ from, data: opts.data, out, force: rebuild, quiet: true });
  console.log(
    `validation accuracy ${(100 * r.val_accuracy).toFixed(1)}% (${r.val_images} images); ` +
      `built in ${((performance.now() - t0) / 1000).toFixed(0)} s`,
  );
}

/**
 * The teacher spec for `profile` (building the probe teacher when needed).
 *
 * @example KD_TEACHER wins over the profile's default
 * ```ts
 * import { notebookTeacher } from "@kd/vision/notebook";
 * import { assertEquals } from "@std/assert";
 *
 * Deno.env.set("KD_TEACHER", "hf-dir:tests/fixtures/vit_tiny");
 * assertEquals((await notebookTeacher("smoke")).spec, "hf-dir:tests/fixtures/vit_tiny");
 * ```
 */
export async function notebookTeacher(profile: string, data?: string): Promise<NotebookTeacher> {
  const env = Deno.env.get("KD_TEACHER");
  if (env) return { spec: env, note: `KD_TEACHER=${env}` };
  if (profile === "smoke") {
    return {
      spec: GUIDE_TEACHER,
      note: "the guide's fine-tuned ViT-B/16 (from the Hugging Face cache; its logits are cached " +
        "after the first run)",
    };
  }
  const out = join(REPO_ROOT, "data", "teachers", "mnv2-probe");
  await buildProbeTeacher(out, { data });
  return {
    spec: `dir:${out}`,
    note: `linear probe on frozen ImageNet features of ${backboneSpec()} (buildTeacher)`,
  };
}

/**
 * Check, before any notebook runs, that the data and the teacher (or the backbone it is built
 * from) of `profile` are at hand: offline with one missing, this is the one-line error.
 */
export async function checkNotebookInputs(profile: string): Promise<void> {
  const data = notebookDataDir();
  const labels = (await resolveSplit({ data, split: "train", quiet: true })).classNames;
  await resolveSplit({ data, split: "validation", classNames: labels, quiet: true });
  const teacher = Deno.env.get("KD_TEACHER") || (profile === "smoke" ? GUIDE_TEACHER : undefined);
  await ensureModelFiles(teacher ?? backboneSpec(), { quiet: true });
}
