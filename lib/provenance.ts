/**
 * Where and with what a run was made: backend, versions, git commit, dataset checksums.
 * Saved in every run's `config.json` so a number can always be traced back.
 * @module
 */
import * as tf from "./tf.ts";
import { projectRoot } from "./core/project.ts";
import { resolvedRepos } from "./net/hub.ts";

/** Git commit of the toolkit (with `-dirty` when the tree has changes), or null outside git. */
export async function gitCommit(): Promise<string | null> {
  const root = projectRoot();
  try {
    const run = async (args: string[]) => {
      const o = await new Deno.Command("git", { args, cwd: root, stdout: "piped", stderr: "null" })
        .output();
      return o.success ? new TextDecoder().decode(o.stdout).trim() : null;
    };
    const head = await run(["rev-parse", "HEAD"]);
    if (!head) return null;
    const dirty = await run(["status", "--porcelain", "--untracked-files=no"]);
    return dirty ? `${head}-dirty` : head;
  } catch {
    return null;
  }
}

/**
 * This machine's `/proc/cpuinfo`, or null off Linux: read it once and pass it to
 * {@linkcode cpuModel} and {@linkcode cpuSignature}.
 */
export function readCpuinfo(): string | null {
  try {
    return Deno.readTextFileSync("/proc/cpuinfo");
  } catch {
    return null;
  }
}

/** CPU model name from /proc/cpuinfo (Linux), else the platform. */
export function cpuModel(cpuinfo: string | null = readCpuinfo()): string {
  const m = cpuinfo?.match(/model name\s*:\s*(.+)/);
  return m ? m[1].trim() : `${Deno.build.os}/${Deno.build.arch}`;
}

/**
 * The CPU's family, model, stepping and the newest instruction-set extension of the ladder oneDNN
 * dispatches on (AMX, AVX-512 FP16, BF16, VNNI, AVX-512, AVX2, ...) from `/proc/cpuinfo` text, or
 * null when it names none of them. Virtual machines often report a bare "AMD EPYC" as the model
 * name; oneDNN picks its kernels (and so the rounding, and so a run's exact numbers) by what is
 * here, so two runs reproduce each other bit for bit only on the same signature.
 *
 * @example
 * ```ts
 * import { cpuSignatureOf } from "./provenance.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const info = "cpu family\t: 26\nmodel\t\t: 2\nstepping\t: 1\nflags\t\t: sse avx2 avx512f\n";
 * assertEquals(cpuSignatureOf(info), "family 26 model 2 stepping 1, avx512f");
 * ```
 */
export function cpuSignatureOf(cpuinfo: string): string | null {
  const field = (name: string) =>
    cpuinfo.match(new RegExp(`^${name}\\s*:\\s*(.+)$`, "m"))?.[1].trim();
  const ids = (["cpu family", "model", "stepping"] as const)
    .map((k) => [k === "cpu family" ? "family" : k, field(k)])
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k} ${v}`);
  const flags = new Set((field("flags") ?? "").split(/\s+/));
  const isa = ["amx_tile", "avx512_fp16", "avx512_bf16", "avx512_vnni", "avx512f", "avx2", "avx"]
    .find((f) => flags.has(f));
  const parts = [ids.join(" "), isa].filter(Boolean);
  return parts.length ? parts.join(", ") : null;
}

/** {@linkcode cpuSignatureOf} `cpuinfo` (default: this machine's; null off Linux). */
export function cpuSignature(cpuinfo: string | null = readCpuinfo()): string | null {
  return cpuinfo === null ? null : cpuSignatureOf(cpuinfo);
}

/**
 * Backend, device, versions, git commit, dataset checksums and the Hugging Face hub repositories
 * this process read (with the commit each resolved to) for a run record.
 */
export async function runEnvironment(
  splits: { name: string; source: string; checksum: string }[] = [],
): Promise<Record<string, unknown>> {
  const cpuinfo = readCpuinfo();
  return {
    backend: tf.getBackend(),
    cpu: cpuModel(cpuinfo),
    cpu_signature: cpuSignature(cpuinfo),
    cores: navigator.hardwareConcurrency,
    versions: { deno: Deno.version.deno, v8: Deno.version.v8, tfjs: tf.version_core },
    git_commit: await gitCommit(),
    datasets: Object.fromEntries(
      splits.map((s) => [s.name, { source: s.source, sha256: s.checksum }]),
    ),
    hub_repos: resolvedRepos(),
    started_at: new Date().toISOString(),
  };
}
