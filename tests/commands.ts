/**
 * Running the toolkit's commands as a user does, for the one-error-line checks. Imports nothing
 * from `lib/`, so a test file that uses it keeps its own TensorFlow.js backend state.
 * @module
 */

/**
 * Run the command `lib/cli/<name>.ts` on the `cpu` backend: its exit code and its stderr lines
 * (what the one-error-line checks read; a failing command holds back its `backend:` line).
 */
export async function runCommand(
  name: string,
  args: string[],
): Promise<{ code: number; lines: string[] }> {
  const cli = new URL(`../lib/cli/${name}.ts`, import.meta.url).pathname;
  const o = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", cli, "--backend", "cpu", ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const lines = new TextDecoder().decode(o.stderr).trim().split("\n");
  return { code: o.code, lines };
}
