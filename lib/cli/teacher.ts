/**
 * `deno task teacher --from TFJS_DIR --data DIR [--out DIR]`: turns a pretrained tfjs CNN (e.g.
 * `../shared/models/mobilenet_v2_1.0_224_imagenet`) into a beans teacher. A linear probe on
 * frozen, disk-cached features is fitted over a weight-decay × epochs grid and selected on the
 * validation split (the test split is never read); `--finetune-blocks K` then fine-tunes the last
 * K blocks (+ head) from cached activations, again kept only if validation improves. The result
 * is saved as a model directory usable as `--teacher dir:PATH`.
 *
 * Weaker teachers for strength sweeps: `--train-fraction 0.1` (probe on a stratified 10%) or
 * `--features-from LAYER` (features pooled from an earlier block boundary).
 * @module
 */
import { parseArgs } from "@std/cli";
import * as tf from "../tf.ts";
import { initBackend } from "../backend.ts";
import { UserError } from "../core/errors.ts";
import { runMain } from "./command.ts";
import { loadSplit, toTensor } from "../data/dataset.ts";
import { loadTfjsLayersDir } from "../models/layers_backbone.ts";
import { saveModel } from "../models/checkpoint.ts";
import { fitProbe, type ProbeResult, stratifiedSubset, subsetFeatures } from "../teacher/probe.ts";
import { type SplitFeatures, splitFeatures } from "../teacher/features.ts";
import { finetuneTail } from "../teacher/finetune.ts";
import { scoreLogits } from "../teacher/probe.ts";
import { IMAGENET_MOBILENET_V2 } from "../models/layers_backbone.ts";

const USAGE = `usage: deno task teacher [--from TFJS_DIR] [--data DIR] [--out DIR] [--name NAME]
  [--features-from LAYER] [--train-fraction F] [--finetune-blocks K] [--finetune-epochs E]
  [--finetune-lr LR] [--weight-decays 0,1e-3,1e-2,1e-1] [--epochs 10,30,100] [--lr 1e-2]
  [--batch-size 32] [--seed 0] [--backend NAME] [--max-images N] [--quiet]
  --from defaults to ${IMAGENET_MOBILENET_V2}; --out defaults to data/teachers/<name>/`;

function num(
  a: Record<string, unknown>,
  flag: string,
  check: (n: number) => boolean,
  what: string,
) {
  const n = Number(a[flag]);
  if (!Number.isFinite(n) || !check(n)) {
    throw new UserError(`--${flag} must be ${what}, got "${a[flag]}"`);
  }
  return n;
}

function list(a: Record<string, unknown>, flag: string): number[] {
  const out = String(a[flag]).split(",").map((s) => Number(s.trim()));
  if (!out.length || out.some((n) => !Number.isFinite(n) || n < 0)) {
    throw new UserError(`--${flag} must be a comma-separated list of non-negative numbers`);
  }
  return out;
}

function pct(x: number): string {
  return `${(100 * x).toFixed(2)}%`;
}

/** The command behind `deno task teacher`. */
export async function runTeacher(args: string[]): Promise<{ valAcc: number; out: string }> {
  let a;
  try {
    a = parseArgs(args, {
      string: [
        "from",
        "data",
        "out",
        "name",
        "features-from",
        "train-fraction",
        "finetune-blocks",
        "finetune-epochs",
        "finetune-lr",
        "weight-decays",
        "epochs",
        "lr",
        "batch-size",
        "seed",
        "backend",
        "max-images",
      ],
      boolean: ["help", "quiet"],
      default: {
        from: IMAGENET_MOBILENET_V2,
        "train-fraction": "1",
        "finetune-blocks": "0",
        "finetune-epochs": "5",
        "finetune-lr": "1e-4",
        "weight-decays": "0,1e-3,1e-2,1e-1",
        epochs: "10,30,100",
        lr: "1e-2",
        "batch-size": "32",
        seed: "0",
      },
    });
  } catch (e) {
    throw new UserError(`${(e as Error).message}\n${USAGE}`);
  }
  if (a.help) {
    console.log(USAGE);
    return { valAcc: NaN, out: "" };
  }
  const quiet = Boolean(a.quiet);
  const log = (s: string) => quiet || console.error(s);
  const fraction = num(a, "train-fraction", (n) => n > 0 && n <= 1, "in (0, 1]");
  const K = num(a, "finetune-blocks", (n) => Number.isInteger(n) && n >= 0, "an integer >= 0");
  const ftEpochs = num(
    a,
    "finetune-epochs",
    (n) => Number.isInteger(n) && n >= 1,
    "an integer >= 1",
  );
  const ftLr = num(a, "finetune-lr", (n) => n > 0, "> 0");
  const lr = num(a, "lr", (n) => n > 0, "> 0");
  const bs = num(a, "batch-size", (n) => Number.isInteger(n) && n > 0, "a positive integer");
  const seed = num(a, "seed", Number.isInteger, "an integer");
  const maxImages = a["max-images"] === undefined
    ? Infinity
    : num(a, "max-images", (n) => Number.isInteger(n) && n > 0, "a positive integer");
  const weightDecays = list(a, "weight-decays");
  const epochs = list(a, "epochs").map((e) => {
    if (!Number.isInteger(e) || e < 1) throw new UserError("--epochs items must be integers >= 1");
    return e;
  });
  await initBackend(a.backend ? String(a.backend) : undefined, { quiet });

  const from = String(a.from);
  const input = { size: 224, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] } as const;
  const pre = { size: input.size, mean: [...input.mean], std: [...input.std] } as {
    size: number;
    mean: [number, number, number];
    std: [number, number, number];
  };
  const data = a.data ? String(a.data) : undefined;
  let train = await loadSplit({ data, split: "train", preprocess: pre, quiet });
  let val = await loadSplit({ data, split: "validation", preprocess: pre, quiet });
  if (maxImages < Infinity) {
    // Debug/test aid: evenly spaced images (rows are sorted by class, so all classes appear).
    const cut = <T extends typeof train>(s: T): T => {
      const n = Math.min(s.n, maxImages), per = s.size * s.size * 3, step = s.n / n;
      const rows = Array.from({ length: n }, (_, i) => Math.floor(i * step));
      const pixels = new Uint8Array(n * per);
      rows.forEach((r, k) => pixels.set(s.pixels.subarray(r * per, (r + 1) * per), k * per));
      return {
        ...s,
        n,
        checksum: `${s.checksum}:rows=${rows.join(",")}`,
        ids: rows.map((r) => s.ids[r]),
        labels: Int32Array.from(rows, (r) => s.labels[r]),
        pixels,
      };
    };
    train = cut(train);
    val = cut(val);
  }
  const labels = train.classNames;
  const model = await loadTfjsLayersDir(from, {
    numLabels: labels.length,
    labels,
    featureLayer: a["features-from"] ? String(a["features-from"]) : undefined,
    seed,
  });
  try {
    const featureLayer = model.config.featureLayer;
    log(
      `teacher: ${from} cut at ${featureLayer} (${model.config.featureSize}-d features); ` +
        `train ${train.n}, validation ${val.n} images`,
    );
    const fOpts = { layer: featureLayer, batchSize: bs, quiet };
    const fTrain = await splitFeatures(model, train, fOpts);
    const fVal = await splitFeatures(model, val, fOpts);
    const asSet = (f: SplitFeatures) => ({ x: f.data, dim: f.shape[1], y: f.labels });
    let trainSet = asSet(fTrain);
    let subset: Int32Array | undefined;
    if (fraction < 1) {
      subset = stratifiedSubset(train.labels, fraction, seed);
      trainSet = subsetFeatures(trainSet, subset);
      log(`probe on a stratified ${pct(fraction)} of train: ${subset.length} images`);
    }
    const grid: ProbeResult[] = [];
    const probe = fitProbe(trainSet, asSet(fVal), {
      numLabels: labels.length,
      weightDecays,
      epochs,
      lr,
      seed,
      onResult: (r) => {
        grid.push(r);
        log(
          `  probe wd=${r.weightDecay} epochs=${r.epochs}: train ${pct(r.trainAcc)}  ` +
            `validation ${pct(r.valAcc)} (loss ${r.valLoss.toFixed(4)})`,
        );
      },
    });
    log(
      `selected on validation: wd=${probe.best.weightDecay} epochs=${probe.best.epochs} ` +
        `-> ${pct(probe.best.valAcc)}`,
    );
    const head = model.stateVariables();
    head.get("classifier.weight")!.assign(
      tf.tensor2d(probe.head.weight, [probe.head.dim, probe.head.numLabels]),
    );
    head.get("classifier.bias")!.assign(tf.tensor1d(probe.head.bias));
    let finetune: Record<string, unknown> | undefined;
    if (K > 0) {
      const bounds = model.boundaries();
      if (K > bounds.length) {
        throw new UserError(
          `--finetune-blocks ${K}: the model has only ${bounds.length} blocks before ${featureLayer}`,
        );
      }
      const boundary = bounds[bounds.length - K];
      log(`fine-tuning the last ${K} block(s) after ${boundary} (+ head), ${ftEpochs} epoch(s)`);
      const aOpts = { layer: boundary, batchSize: bs, quiet };
      let aTrain = await splitFeatures(model, train, aOpts);
      const aVal = await splitFeatures(model, val, aOpts);
      if (subset) {
        const per = aTrain.data.length / aTrain.shape[0];
        const d = new Float32Array(subset.length * per);
        subset.forEach((i, k) => d.set(aTrain.data.subarray(i * per, (i + 1) * per), k * per));
        aTrain = {
          ...aTrain,
          shape: [subset.length, ...aTrain.shape.slice(1)],
          data: d,
          labels: Int32Array.from(subset, (i) => train.labels[i]),
        };
      }
      const missing = model.missingKernels(boundary);
      const backend = tf.getBackend();
      if (missing.length) {
        log(`note: backend ${backend} lacks ${missing.join(", ")}; fine-tuning on cpu`);
        await tf.setBackend("cpu");
      }
      try {
        const r = await finetuneTail(model, boundary, aTrain, aVal, {
          epochs: ftEpochs,
          lr: ftLr,
          batchSize: bs,
          seed,
          quiet,
          onEpoch: (s) =>
            log(`  epoch ${s.epoch}: validation ${pct(s.valAcc)} (loss ${s.valLoss.toFixed(4)})`),
        });
        log(`kept epoch ${r.best.epoch} (${r.best.epoch === 0 ? "probe only" : "fine-tuned"})`);
        finetune = {
          blocks: K,
          boundary,
          epochs: ftEpochs,
          lr: ftLr,
          history: r.history,
          best: r.best,
        };
      } finally {
        if (missing.length) await tf.setBackend(backend);
      }
    }
    // End-to-end check on the real validation images through the assembled model.
    const parts: tf.Tensor2D[] = [];
    for (let s = 0; s < val.n; s += bs) {
      const idx = Int32Array.from({ length: Math.min(bs, val.n - s) }, (_, i) => s + i);
      parts.push(tf.tidy(() => model.apply(toTensor(val, idx, pre))));
    }
    const logits = tf.concat(parts) as tf.Tensor2D;
    const score = scoreLogits(logits, val.labels);
    tf.dispose([...parts, logits]);
    const name = a.name ? String(a.name) : [
      "mnv2",
      a["features-from"] ? `at-${featureLayer}` : "probe",
      fraction < 1 ? `f${fraction}` : "",
      K > 0 ? `ft${K}` : "",
    ].filter(Boolean).join("-");
    const out = a.out
      ? String(a.out)
      : new URL(`../../data/teachers/${name}`, import.meta.url).pathname;
    await saveModel(model, out, {
      made_by: "deno task teacher",
      from,
      data: {
        train: train.checksum,
        validation: val.checksum,
        trainImages: subset?.length ?? train.n,
      },
      featureLayer,
      trainFraction: fraction,
      probe: { grid, best: probe.best, lr },
      finetune,
      validation: { accuracy: score.acc, loss: score.loss, images: val.n },
      seed,
    });
    console.log(
      `validation accuracy: ${pct(score.acc)} (${val.n} images, loss ${score.loss.toFixed(4)})`,
    );
    console.log(`saved teacher to ${out} (use --teacher dir:${out})`);
    return { valAcc: score.acc, out };
  } finally {
    model.dispose();
  }
}

if (import.meta.main) await runMain(async () => void await runTeacher(Deno.args));
