/**
 * Base64 to and from bytes (Jupyter images, hub uploads, browser screenshots); node:buffer does
 * it natively.
 * @module
 */
import { Buffer } from "node:buffer";

/** Standard base64 (with padding) of `bytes`. */
export function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}

/** Bytes of a standard base64 string. */
export function decodeBase64(text: string): Uint8Array {
  const b = Buffer.from(text, "base64");
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}
