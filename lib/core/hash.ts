/**
 * sha256 digests as lowercase hex: of a string or bytes, and of a file (streamed).
 * @module
 */
import { createHash } from "node:crypto";

/** sha256 (hex) of a string (UTF-8) or bytes. */
export function sha256Hex(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** sha256 (hex) of one file, streamed. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  using f = await Deno.open(path);
  for await (const chunk of f.readable) hash.update(chunk);
  return hash.digest("hex");
}
