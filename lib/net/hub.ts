/**
 * Hugging Face hub addresses. `HF_ENDPOINT` (the hub's own variable) selects a mirror.
 * @module
 */

/** The hub endpoint in effect (env `HF_ENDPOINT`, else https://huggingface.co), no trailing slash. */
export function hubEndpoint(): string {
  return (Deno.env.get("HF_ENDPOINT") ?? "https://huggingface.co").replace(/\/+$/, "");
}

/** Download URL of `path` in hub repository `repo` ("ORG/NAME") of kind `type` at `revision`. */
export function hubFileUrl(
  repo: string,
  path: string,
  opts: { type?: "model" | "dataset"; revision?: string } = {},
): string {
  const prefix = opts.type === "dataset" ? "datasets/" : "";
  return `${hubEndpoint()}/${prefix}${repo}/resolve/${opts.revision ?? "main"}/${path}`;
}
