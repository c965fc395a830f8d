/**
 * JSON text the way Python's `json.dumps(obj, indent=2, sort_keys=True)` writes it, which is how
 * transformers saves `config.json` and `preprocessor_config.json`: sorted keys, two-space
 * indent, non-ASCII escaped, and floats in Python's repr (`6.0`, `1e-05`) for the keys that hold
 * floats. Hand-written because no JSON library offers Python's float formatting.
 * @module
 */

/** Python's `repr(float)` of a finite number: shortest round-trip digits, `.0` for integers. */
export function pyFloat(x: number): string {
  if (!Number.isFinite(x)) return x > 0 ? "Infinity" : x < 0 ? "-Infinity" : "NaN";
  const [mant, exp] = x.toExponential().split("e");
  const e = Number(exp);
  if (e < -4 || e >= 16) {
    return `${mant}e${e < 0 ? "-" : "+"}${String(Math.abs(e)).padStart(2, "0")}`;
  }
  const s = String(x);
  return /[.e]/.test(s) ? s : `${s}.0`;
}

function quote(s: string): string {
  // JSON.stringify escapes quotes and control characters as Python does; Python also escapes
  // every non-ASCII code unit (ensure_ascii=True).
  return JSON.stringify(s).replace(
    /[\u007f-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/**
 * Serialise `value` like `json.dumps(value, indent=2, sort_keys=True)`; numbers under a key in
 * `floatKeys` (at any depth) are written as Python floats.
 */
export function pythonJson(value: unknown, floatKeys: ReadonlySet<string> = new Set()): string {
  const write = (v: unknown, indent: string, asFloat: boolean): string => {
    if (v === null || v === undefined) return "null";
    if (typeof v === "number") {
      if (asFloat) return pyFloat(v);
      return Number.isInteger(v) ? String(v) : pyFloat(v);
    }
    if (typeof v === "boolean") return v ? "true" : "false";
    if (typeof v === "string") return quote(v);
    const inner = indent + "  ";
    if (Array.isArray(v)) {
      if (!v.length) return "[]";
      return `[\n${v.map((x) => inner + write(x, inner, asFloat)).join(",\n")}\n${indent}]`;
    }
    const entries = Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== undefined)
      .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    if (!entries.length) return "{}";
    return `{\n${
      entries.map(([k, x]) => `${inner}${quote(k)}: ${write(x, inner, floatKeys.has(k))}`)
        .join(",\n")
    }\n${indent}}`;
  };
  return write(value, "", false);
}
