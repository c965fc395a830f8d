/**
 * The PyTorch reference of the benchmarks, at its best on this machine: `lib/bench/torch_ref.py`
 * runs each task with both MobileNetV2 variants where there is a choice (the HF-padding model,
 * padded like ours, and torchvision's `mobilenet_v2`), channels_last, 2 threads, glibc malloc
 * keeping freed memory (the same effect our native backend gets from `mallopt`), and both OpenMP
 * wait policies; the fastest run is the reference. PyTorch is a speed reference only
 * (Debian `python3-torch`, `python3-torchvision`, and `libopenblas0-openmp`: Debian's PyTorch
 * calls the system BLAS for its matmuls, and the reference libblas it otherwise gets runs the
 * ViT ~50× slower), never a dependency.
 * @module
 */

/** What one PyTorch run times. */
export interface TorchTask {
  /** `train-online`: the training step plus a teacher forward on every batch. */
  task: "train" | "train-online" | "infer";
  size: number;
  batch: number;
  /** MobileNetV2 width (ignored for ViT). */
  width?: number;
  labels?: number;
  steps: number;
  warmup: number;
  /** Training only: the trainer's loss, optimizer and clipping settings. */
  temperature?: number;
  lambda?: number;
  lr?: number;
  weightDecay?: number;
  clipNorm?: number;
  /** `train-online`: the teacher's input side (default 224). */
  teacherSize?: number;
}

/** Models the reference can run. */
export type TorchModel = "hf" | "torchvision" | "vit_b16";

/** One measured PyTorch run. */
export interface TorchRun {
  model: TorchModel;
  wait_policy: "passive" | "active";
  img_per_s: number;
}

/** Every run of one task and the fastest. */
export interface TorchReference {
  best: TorchRun;
  runs: TorchRun[];
  torch: string;
}

const PYTHON = "/usr/bin/python3";
/** glibc keeps freed memory instead of returning it to the kernel (no page faults per step). */
const TORCH_MALLOC =
  "glibc.malloc.mmap_threshold=17179869184:glibc.malloc.trim_threshold=17179869184";
const THREADS = 2;

const PACKAGES = ["python3-torch", "python3-torchvision", "libopenblas0-openmp"];

function installed(pkg: string): Promise<boolean> {
  return new Deno.Command("dpkg-query", { args: ["-W", "-f=${Status}", pkg], stderr: "null" })
    .output().then((r) => new TextDecoder().decode(r.stdout).includes("install ok installed"))
    .catch(() => false);
}

async function importable(): Promise<boolean> {
  try {
    const r = await new Deno.Command(PYTHON, {
      args: ["-c", "import torch, torchvision"],
      stdout: "null",
      stderr: "null",
    }).output();
    return r.success;
  } catch {
    return false;
  }
}

let available: Promise<boolean> | undefined;

/** Whether PyTorch can run here (with `install`, installing the Debian packages once when root). */
export function torchAvailable(
  log: (m: string) => void = console.error,
  opts: { install?: boolean } = {},
): Promise<boolean> {
  if (opts.install === false) return importable();
  available ??= (async () => {
    const missing = [];
    for (const p of PACKAGES) if (!(await installed(p))) missing.push(p);
    if (missing.length && Deno.uid() === 0) {
      log(`bench: installing ${missing.join(", ")} with apt-get (PyTorch reference) ...`);
      const env = { DEBIAN_FRONTEND: "noninteractive" };
      const apt = (args: string[]) =>
        new Deno.Command("apt-get", { args, env, stdout: "null", stderr: "null" }).output()
          .catch(() => undefined);
      await apt(["update", "-qq"]);
      await apt(["install", "-y", "-qq", ...missing]);
    }
    if (await importable()) return true;
    log("bench: no PyTorch comparison: /usr/bin/python3 with torch and torchvision unavailable");
    return false;
  })();
  return available;
}

/** Time `task` on `model` with one wait policy; undefined when the run fails. */
export async function torchRun(
  task: TorchTask,
  model: TorchModel,
  waitPolicy: "passive" | "active",
): Promise<(TorchRun & { torch: string; blas: string }) | undefined> {
  const script = new URL("./torch_ref.py", import.meta.url).pathname;
  const args = [
    script,
    `--model=${model}`,
    `--task=${task.task}`,
    `--size=${task.size}`,
    `--batch=${task.batch}`,
    `--width=${task.width ?? 1}`,
    `--labels=${task.labels ?? 3}`,
    `--steps=${task.steps}`,
    `--warmup=${task.warmup}`,
    `--threads=${THREADS}`,
  ];
  if (task.task !== "infer") {
    args.push(
      `--teacher-size=${task.teacherSize ?? 224}`,
      `--temperature=${task.temperature ?? 5}`,
      `--lam=${task.lambda ?? 0.5}`,
      `--lr=${task.lr ?? 2e-3}`,
      `--weight-decay=${task.weightDecay ?? 0}`,
      `--clip-norm=${task.clipNorm ?? 0}`,
    );
  }
  // Our own OMP_WAIT_POLICY (set by the native backend) must not leak into the child.
  const env = {
    ...Deno.env.toObject(),
    OMP_WAIT_POLICY: waitPolicy.toUpperCase(),
    OMP_NUM_THREADS: String(THREADS),
    GLIBC_TUNABLES: TORCH_MALLOC,
  };
  const r = await new Deno.Command(PYTHON, { args, env, clearEnv: true, stderr: "piped" })
    .output();
  if (!r.success) {
    const err = new TextDecoder().decode(r.stderr).trim().split("\n").pop();
    console.error(`bench: PyTorch ${model} ${task.task} (${waitPolicy}) failed: ${err}`);
    return undefined;
  }
  const lines = new TextDecoder().decode(r.stdout).trim().split("\n");
  const out = JSON.parse(lines[lines.length - 1]);
  return {
    model,
    wait_policy: waitPolicy,
    img_per_s: out.img_per_s,
    torch: out.torch,
    blas: out.blas ?? "unknown",
  };
}

/**
 * The best PyTorch throughput for `task` over `models` × both wait policies (interleaved, so a
 * change of load hits every variant alike); undefined where PyTorch is unavailable.
 */
export async function torchReference(
  task: TorchTask,
  models: TorchModel[],
  log: (m: string) => void = console.error,
): Promise<TorchReference | undefined> {
  if (!(await torchAvailable(log))) return undefined;
  const runs: TorchRun[] = [];
  let version = "";
  for (const policy of ["passive", "active"] as const) {
    for (const model of models) {
      const r = await torchRun(task, model, policy);
      if (!r) continue;
      version = r.torch;
      if (!/openblas|mkl/i.test(r.blas)) {
        log(
          `  note: PyTorch runs on BLAS ${r.blas}, not an optimized one (install libopenblas0-openmp)`,
        );
      }
      runs.push({ model: r.model, wait_policy: r.wait_policy, img_per_s: r.img_per_s });
      log(
        `  PyTorch ${model} ${task.task} @${task.size} (OMP ${policy}): ${fmt(r.img_per_s)} img/s`,
      );
    }
  }
  if (!runs.length) return undefined;
  const best = runs.reduce((a, b) => (b.img_per_s > a.img_per_s ? b : a));
  return { best, runs, torch: version };
}

function fmt(v: number): string {
  return v.toFixed(v < 10 ? 2 : 1);
}
