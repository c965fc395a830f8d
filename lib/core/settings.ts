/**
 * Settings objects as they are saved and compared: one deep diff (used to refuse resuming a run
 * or reusing a sweep directory with other settings) and the camelCase ⇄ snake_case key codec for
 * JSON files (in memory the toolkit uses TypeScript's camelCase; every file it writes uses
 * snake_case, like Hugging Face's `config.json`).
 * @module
 */

/** Every path where `a` and `b` differ, as `path: a → b` (sorted; `ignore` skips top-level keys). */
export function settingDifferences(
  a: unknown,
  b: unknown,
  opts: { ignore?: string[] } = {},
): string[] {
  const out: string[] = [];
  const walk = (x: unknown, y: unknown, path: string) => {
    const plain = (v: unknown) => v !== null && typeof v === "object" && !Array.isArray(v);
    if (plain(x) && plain(y)) {
      const xo = x as Record<string, unknown>, yo = y as Record<string, unknown>;
      for (const k of new Set([...Object.keys(xo), ...Object.keys(yo)])) {
        if (!path && opts.ignore?.includes(k)) continue;
        walk(xo[k], yo[k], path ? `${path}.${k}` : k);
      }
    } else if (JSON.stringify(x) !== JSON.stringify(y)) {
      out.push(`${path}: ${JSON.stringify(x) ?? "unset"} → ${JSON.stringify(y) ?? "unset"}`);
    }
  };
  walk(a, b, "");
  return out.sort();
}

const toSnake = (k: string) => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const toCamel = (k: string) => k.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

function mapKeys(value: unknown, rename: (k: string) => string, opaque: Set<string>): unknown {
  if (Array.isArray(value)) return value.map((v) => mapKeys(v, rename, opaque));
  if (value === null || typeof value !== "object") return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    const name = rename(k);
    // Opaque values are data keyed by user names (class names, split names): kept verbatim.
    out[name] = opaque.has(toCamel(k)) ? v : mapKeys(v, rename, opaque);
  }
  return out;
}

/** Deep copy with snake_case keys; values under the camelCase keys in `opaque` are kept as is. */
export function snakeKeys<T = unknown>(value: unknown, opaque: string[] = []): T {
  return mapKeys(value, toSnake, new Set(opaque)) as T;
}

/** Deep copy with camelCase keys (inverse of {@linkcode snakeKeys} for the same `opaque`). */
export function camelKeys<T = unknown>(value: unknown, opaque: string[] = []): T {
  return mapKeys(value, toCamel, new Set(opaque)) as T;
}
