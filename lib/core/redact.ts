/**
 * What must never reach a terminal or a log: hub tokens (the value of `HF_TOKEN`, anything shaped
 * like a Hugging Face token, the credential after `Bearer`/`Basic`), which a server may echo back
 * in an error body, and the bytes of a file quoted by V8's JSON errors (`Unexpected token 'r',
 * "root:x:0:0"... is not valid JSON`), which would print whatever file a bad path led to.
 * @module
 */

/**
 * Hugging Face user access tokens: `hf_` and a random alphanumeric tail (34 characters in real
 * ones). A long tail, or a shorter one mixing cases, is a token; names such as `hf_checkpoint` or
 * `hf_hub_download` (one case, short) are kept, so file names in messages survive.
 */
const HF_TOKEN_RE =
  /\bhf_(?:[A-Za-z0-9]{20,}|(?=[a-z0-9]*[A-Z])(?=[A-Z0-9]*[a-z])[A-Za-z0-9]{6,})/g;
const AUTH_RE = /\b(Bearer|Basic)(\s+|%20)[^\s"'`,;&)}\]]+/gi;
const JSON_EXCERPT_RE = /Unexpected token '[\s\S]{1,4}', "[\s\S]*?"(?:\.\.\.)? is not valid JSON/g;

/** `text` with every credential replaced by `***` (see the module doc). */
export function redactSecrets(text: string): string {
  let out = text;
  let token: string | undefined;
  try {
    token = Deno.env.get("HF_TOKEN")?.trim();
  } catch { /* no env permission: no token to hide either */ }
  // A very short value would blank out ordinary words; real tokens are far longer.
  if (token && token.length >= 4) out = out.replaceAll(token, "***");
  return out.replace(AUTH_RE, "$1 ***").replace(HF_TOKEN_RE, "hf_***");
}

/** `text` without the file excerpts V8 puts into JSON syntax errors. */
export function dropJsonExcerpts(text: string): string {
  return text.replace(JSON_EXCERPT_RE, "not valid JSON (unexpected character)");
}

/** What may be printed of an error message: no credentials, no quoted file bytes. */
export function printable(text: string): string {
  return dropJsonExcerpts(redactSecrets(text));
}

/** Scrub an error's message and stack in place (see {@linkcode printable}) and return it. */
export function scrubError<T>(e: T): T {
  if (e instanceof Error) {
    e.message = printable(e.message);
    if (e.stack) e.stack = printable(e.stack);
  }
  return e;
}
