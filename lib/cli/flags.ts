/**
 * Flag parsing helpers shared by the command-line entry points: numbers and lists that fail
 * with the flag's name instead of turning into NaN somewhere downstream.
 * @module
 */
import { UserError } from "../core/errors.ts";

/** An empty value is refused, not read as "flag not given" (see `parseCommandArgs`). */
function refuseEmpty(name: string, value: unknown): void {
  if (typeof value === "string" && value.trim() === "") {
    throw new UserError(`--${name} needs a value, got an empty one`);
  }
}

/** A decimal number as people write one (`0.5`, `-1`, `3e-4`); `Number` also takes `0x10`. */
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** Parse a numeric flag; undefined stays undefined, an empty value is refused. */
export function numberFlag(name: string, value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  refuseEmpty(name, value);
  const n = DECIMAL.test(String(value).trim()) ? Number(value) : NaN;
  if (!Number.isFinite(n)) throw new UserError(`--${name} must be a number, got "${value}"`);
  return n;
}

/** Parse an integer flag; undefined stays undefined. */
export function intFlag(name: string, value: unknown): number | undefined {
  const n = numberFlag(name, value);
  if (n !== undefined && !Number.isInteger(n)) {
    throw new UserError(`--${name} must be an integer, got "${value}"`);
  }
  return n;
}

/** Parse a comma-separated list of numbers (`--temperatures 1,2,5`). */
export function numberListFlag(name: string, value: unknown): number[] | undefined {
  if (value === undefined) return undefined;
  refuseEmpty(name, value);
  return String(value).split(",").map((v) => {
    if (v.trim() === "") throw new UserError(`--${name} has an empty item in "${value}"`);
    return numberFlag(name, v.trim())!;
  });
}

/** Parse `a=b,c=d` into a record. */
export function mapFlag(name: string, value: unknown): Record<string, string> | undefined {
  if (value === undefined) return undefined;
  refuseEmpty(name, value);
  const out: Record<string, string> = {};
  for (const pair of String(value).split(",")) {
    const [k, v] = pair.split("=");
    if (!k || !v) throw new UserError(`--${name} expects from=to pairs, got "${pair}"`);
    out[k.trim()] = v.trim();
  }
  return out;
}
