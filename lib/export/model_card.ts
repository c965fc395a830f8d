/**
 * The `README.md` model card of an exported student: the hub's YAML metadata block (library,
 * pipeline tag, datasets, metrics, base model / teacher, a `model-index` with the scores), then
 * how to use it, how images must be prepared, the training and distillation recipe, validation
 * (and, when the run was evaluated on it, test) accuracy, and its size and cost. Everything is
 * read from the run folder; what is unknown is left out rather than guessed.
 * @module
 */
import { basename } from "node:path";
import type { InputSpec } from "../models/model.ts";
import type { ExportSource, RunRecords } from "./source.ts";
import { parseSpec } from "../models/registry.ts";

/** What the card says about the model itself. */
export interface CardModel {
  /** Architecture in words, e.g. "MobileNetV2 (width ×0.5, 96 px)". */
  architecture: string;
  classNames: string[];
  input: InputSpec;
  params: number;
  /** Multiply-accumulates per image (null when unknown). */
  macs: number | null;
  /** Size of `model.safetensors` in bytes. */
  weightsBytes: number;
}

/** Hub repo id for the usage snippet (`ORG/NAME`), or null for a local folder. */
export interface CardOptions {
  repoId?: string | null;
  /** Title of the card (default: the repo name or "kd-vision student"). */
  title?: string;
}

const y = (s: string) => JSON.stringify(s);
const pct = (v: number) => `${(v * 100).toFixed(2)}%`;

/** Hub model id of a teacher spec (`hf:ORG/NAME`), else null. */
export function hubTeacherId(teacher: string | null | undefined): string | null {
  if (!teacher) return null;
  try {
    const p = parseSpec(teacher);
    return p.kind === "hf" ? p.target : null;
  } catch {
    return null;
  }
}

/** Dataset name of a run: the default beans location, or the data folder's name. */
export function datasetName(run: RunRecords | null): string | null {
  if (!run) return null;
  return run.train.data ? basename(run.train.data.replace(/\/+$/, "")) : "beans";
}

function yamlBlock(run: RunRecords | null, title: string): string {
  const lines = [
    "---",
    "library_name: transformers",
    "pipeline_tag: image-classification",
    "tags:",
    "- image-classification",
    "- mobilenet_v2",
    ...(run?.train.teacher ? ["- knowledge-distillation"] : []),
    "- kd-vision",
  ];
  const dataset = datasetName(run);
  if (dataset) lines.push("datasets:", `- ${y(dataset)}`);
  lines.push("metrics:", "- accuracy");
  const teacher = hubTeacherId(run?.train.teacher);
  // The hub links `base_model`; a distilled student is initialised randomly, so the relation is
  // stated in words below, and the teacher is only linked when it is a hub model.
  if (teacher) lines.push(`base_model: ${y(teacher)}`);
  const results: string[] = [];
  const result = (split: string, accuracy: number, f1: number | null) => {
    results.push(
      "  - task:",
      "      type: image-classification",
      "      name: Image Classification",
      "    dataset:",
      `      name: ${y(dataset ?? "unknown")}`,
      `      type: ${y(dataset ?? "unknown")}`,
      `      split: ${y(split)}`,
      "    metrics:",
      "    - type: accuracy",
      `      value: ${accuracy}`,
      `      name: ${y(`${split} accuracy`)}`,
      ...(f1 === null ? [] : [
        "    - type: f1",
        `      value: ${f1}`,
        `      name: ${y(`${split} macro-F1`)}`,
        "      args:",
        "        average: macro",
      ]),
    );
  };
  if (run?.final) {
    result(run.train.valSplit, run.final.validation.accuracy, run.final.validation.macro_f1);
  }
  if (run?.testEval) result(run.testEval.split, run.testEval.accuracy, run.testEval.macro_f1);
  if (results.length) {
    lines.push("model-index:", `- name: ${y(title)}`, "  results:", ...results);
  }
  lines.push("---");
  return lines.join("\n");
}

function recipeTable(run: RunRecords): string {
  const t = run.train;
  const rows: [string, string][] = [
    ["student", `\`${t.student}\` (random initialisation)`],
    ["teacher", t.teacher ? `\`${t.teacher}\`` : "none (trained from scratch on labels)"],
  ];
  if (t.teacher) {
    rows.push(
      ["loss", "(1-λ)·CE(student, labels) + λ·T²·KL(softmax(teacher/T) ‖ softmax(student/T))"],
      ["temperature T", String(t.temperature)],
      ["λ", String(t.lambda)],
    );
  } else rows.push(["loss", "cross-entropy on the labels"]);
  rows.push(
    [
      "data",
      `${
        t.data ? `\`${t.data}\`` : "beans (default location)"
      }, train split \`${t.trainSplit}\`, ` +
      `validation split \`${t.valSplit}\`${
        t.maxImages ? ` (at most ${t.maxImages} images of each)` : ""
      }`,
    ],
    ["image size", `${t.imageSize} px`],
    [
      "epochs",
      String(t.epochs) +
      (run.final
        ? ` (ran ${run.final.epochs_run}, best epoch ${run.final.best_epoch} by ${run.final.select_by})`
        : ""),
    ],
    ["batch size", String(t.batchSize)],
    [
      "optimizer",
      `${t.optimizer.name}, lr ${t.lr}${
        t.optimizer.weightDecay !== undefined ? `, weight decay ${t.optimizer.weightDecay}` : ""
      }`,
    ],
    ["schedule", `${t.schedule}${t.warmupRatio ? `, ${t.warmupRatio * 100}% warm-up` : ""}`],
    ["gradient clipping", t.clipNorm > 0 ? `global norm ${t.clipNorm}` : "none"],
    ["augmentation", t.augment],
    [
      "student options",
      `dropout ${t.studentOptions.classifierDropoutProb ?? "default"}, BN momentum ${
        t.studentOptions.bnMomentum ?? "default"
      }`,
    ],
    ["seed", String(t.seed)],
  );
  if (t.preset) rows.push(["preset", `\`${t.preset}\``]);
  if (t.labelMap) rows.push(["teacher label map", JSON.stringify(t.labelMap)]);
  return ["| setting | value |", "|---|---|", ...rows.map(([k, v]) => `| ${k} | ${v} |`)].join(
    "\n",
  );
}

function resultsSection(run: RunRecords): string[] {
  const out: string[] = ["## Results", ""];
  const f = run.final;
  if (!f) {
    out.push("The run has not finished (no `final.json`): no scores are reported.", "");
    return out;
  }
  const v = f.validation;
  out.push(
    `- **Validation** (\`${run.train.valSplit}\`, n = ${v.n}, used for selecting the best epoch): ` +
      `accuracy **${pct(v.accuracy)}**, macro-F1 ${v.macro_f1.toFixed(4)}, ECE ${
        v.ece.toFixed(4)
      }.`,
  );
  if (f.teacher_val_accuracy !== null) {
    out.push(`- Teacher validation accuracy: ${pct(f.teacher_val_accuracy)}.`);
  }
  if (v.agreement !== null) out.push(`- Top-1 agreement with the teacher: ${pct(v.agreement)}.`);
  if (run.testEval) {
    out.push(
      `- **Test** (\`${run.testEval.split}\`, n = ${run.testEval.n}, held out; evaluated once after ` +
        `selection on validation): accuracy **${pct(run.testEval.accuracy)}**, macro-F1 ${
          run.testEval.macro_f1.toFixed(4)
        }.`,
    );
  } else out.push("- Test split: not evaluated.");
  out.push(
    "",
    `Confusion matrix on validation (rows: true, columns: predicted; classes ${
      f.class_names.join(", ")
    }): \`${JSON.stringify(v.confusion)}\`.`,
    "",
  );
  return out;
}

/** The whole `README.md` of an HF export. */
export function modelCard(
  source: ExportSource,
  model: CardModel,
  opts: CardOptions = {},
): string {
  const run = source.run;
  const title = opts.title ?? (opts.repoId ? opts.repoId.split("/")[1] : "kd-vision student");
  const where = opts.repoId ?? "path/to/this/folder";
  const s = model.input.size;
  const dataset = datasetName(run);
  const teacher = run?.train.teacher;
  const lines = [
    yamlBlock(run, title),
    "",
    `# ${title}`,
    "",
    `A ${model.architecture} image classifier${dataset ? ` for **${dataset}**` : ""} (classes: ${
      model.classNames.join(", ")
    }), ${
      run
        ? teacher
          ? `trained with kd-vision by knowledge distillation from \`${teacher}\``
          : "trained from scratch with kd-vision (no teacher)"
        : `exported with kd-vision from \`${source.spec}\``
    }. The weights load with 🤗 transformers' \`MobileNetV2ForImageClassification\`.`,
    "",
    "## How to use",
    "",
    "```python",
    "from PIL import Image",
    "from transformers import AutoImageProcessor, MobileNetV2ForImageClassification",
    "",
    `processor = AutoImageProcessor.from_pretrained(${y(where)})`,
    `model = MobileNetV2ForImageClassification.from_pretrained(${y(where)}).eval()`,
    'inputs = processor(images=Image.open("leaf.jpg").convert("RGB"), return_tensors="pt")',
    "label = model(**inputs).logits.argmax(-1).item()",
    "print(model.config.id2label[label])",
    "```",
    "",
    "## Preprocessing",
    "",
    `Resize to ${s}×${s} with PIL bilinear (no crop, aspect ratio not kept), scale to [0, 1], then ` +
    `normalise with mean ${JSON.stringify(model.input.mean)} and std ${
      JSON.stringify(model.input.std)
    }. \`preprocessor_config.json\` makes \`AutoImageProcessor\` do exactly this (a \`ViTImageProcessor\`; ` +
    "MobileNetV2's default processor would instead resize the short side and center-crop, which the " +
    "model was not trained with).",
    "",
  ];
  if (run) {
    lines.push("## Training", "", recipeTable(run), "");
    lines.push(...resultsSection(run));
  }
  lines.push(
    "## Size and cost",
    "",
    `- Parameters: ${model.params.toLocaleString("en-US")}`,
    `- \`model.safetensors\`: ${(model.weightsBytes / 1e6).toFixed(2)} MB (float32)`,
  );
  if (model.macs !== null) {
    lines.push(
      `- Compute: ${(model.macs / 1e6).toFixed(1)} M multiply-adds per ${s}×${s} image ` +
        `(≈ ${(2 * model.macs / 1e6).toFixed(1)} MFLOPs; convolutions and the classifier)`,
    );
  }
  lines.push("");
  if (run?.environment) {
    const e = run.environment as Record<string, unknown>;
    lines.push(
      "## Provenance",
      "",
      `Trained on backend \`${e.backend ?? "?"}\` (${e.cpu ?? "?"}), started ${
        e.started_at ?? "?"
      }, toolkit commit \`${e.git_commit ?? "unknown"}\`. Exported from \`${source.spec}\`.`,
      "",
    );
  }
  if (run?.final) {
    lines.push(
      "## Limitations",
      "",
      `Scores come from ${run.final.validation.n} validation images, so one image moves accuracy ` +
        `by ${(100 / run.final.validation.n).toFixed(2)} points and differences of a few points ` +
        "between models are within seed noise. The model knows only the classes above and " +
        "assigns one of them to any image.",
      "",
    );
  }
  return lines.join("\n");
}
