/**
 * Where and with what a run was made: backend, versions, git commit, dataset checksums.
 * Saved in every run's `config.json` so a number can always be traced back.
 * @module
 */
import * as tf from "./tf.ts";
import { resolvedRepos } from "./net/hub.ts";

/** Git commit of the toolkit (with `-dirty` when the tree has changes), or null outside git. */
export async function gitCommit(): Promise<string | null> {
  const root = new URL("..", import.meta.url).pathname;
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

/** CPU model name from /proc/cpuinfo (Linux), else the platform. */
export function cpuModel(): string {
  try {
    const m = Deno.readTextFileSync("/proc/cpuinfo").match(/model name\s*:\s*(.+)/);
    if (m) return m[1].trim();
  } catch { /* not Linux */ }
  return `${Deno.build.os}/${Deno.build.arch}`;
}

/**
 * Backend, device, versions, git commit, dataset checksums and the Hugging Face hub repositories
 * this process read (with the commit each resolved to) for a run record.
 */
export async function runEnvironment(
  splits: { name: string; source: string; checksum: string }[] = [],
): Promise<Record<string, unknown>> {
  return {
    backend: tf.getBackend(),
    cpu: cpuModel(),
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
