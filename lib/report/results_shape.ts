/**
 * The shape of a sweep's `results.json`, checked when it is loaded: a hand-edited or truncated
 * file is one line naming the file and the first wrong field, not a TypeError deep in the report.
 * @module
 */
import { UserError } from "../core/errors.ts";
import { isJsonObject } from "../core/fs.ts";
import type { SweepResults } from "../sweep/types.ts";

/** Checks `v` (found at `at`, e.g. `rows[0].teacher`); returns what is wrong, or undefined. */
type Shape = (v: unknown, at: string) => string | undefined;

function describe(v: unknown): string {
  if (v === undefined) return "nothing";
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  return typeof v === "object" ? "an object" : `${typeof v} ${JSON.stringify(v)}`.slice(0, 60);
}

const expect = (what: string, ok: (v: unknown) => boolean): Shape => (v, at) =>
  ok(v) ? undefined : `${at} should be ${what}, got ${describe(v)}`;

const string = expect("a string", (v) => typeof v === "string");
const boolean = expect("true or false", (v) => typeof v === "boolean");
const integer = expect("an integer", (v) => Number.isInteger(v));
// JSON has no NaN: a statistic over no values (NaN when written) reads back as null.
const num = expect("a number or null", (v) => v === null || typeof v === "number");

function nullable(s: Shape): Shape {
  return (v, at) => (v === null ? undefined : s(v, at));
}

function optional(s: Shape): Shape {
  return (v, at) => (v === undefined ? undefined : s(v, at));
}

function oneOf(...values: string[]): Shape {
  return expect(values.map((x) => `"${x}"`).join(" or "), (v) => values.includes(v as string));
}

function list(item: Shape): Shape {
  return (v, at) => {
    if (!Array.isArray(v)) return `${at} should be a list, got ${describe(v)}`;
    for (const [i, x] of v.entries()) {
      const bad = item(x, `${at}[${i}]`);
      if (bad) return bad;
    }
  };
}

function object(fields: Record<string, Shape>): Shape {
  return (v, at) => {
    if (!isJsonObject(v)) {
      return `${at || "the file"} should be an object, got ${describe(v)}`;
    }
    for (const [k, s] of Object.entries(fields)) {
      const bad = s((v as Record<string, unknown>)[k], at ? `${at}.${k}` : k);
      if (bad) return bad;
    }
  };
}

const stat = object({ mean: num, std: num, ci95: list(num), n: num });
const arm = object({ accuracy: stat, macroF1: stat });
const stage = object({ validation: arm, test: nullable(arm) });
const seedScores = object({ validation: num, test: num });

const row = object({
  teacher: string,
  kind: oneOf("scratch", "distill"),
  recipe: optional(string),
  temperature: num,
  lambda: num,
  seeds: list(integer),
  accuracy: stat,
  macroF1: stat,
  deltaAccuracy: nullable(stat),
  deltaMacroF1: nullable(stat),
  teacherValAccuracy: num,
  teacherGap: optional(num),
  agreement: num,
  trainTimeS: num,
  imgPerS: num,
  runs: list(string),
});

const confirm = object({
  teacher: string,
  recipe: optional(string),
  teacherValAccuracy: optional(num),
  teacherGap: optional(num),
  temperature: num,
  lambda: num,
  screenAccuracy: num,
  seeds: list(integer),
  scratch: stage,
  distilled: stage,
  delta: stage,
  perSeed: list(object({ seed: integer, scratch: seedScores, distilled: seedScores })),
  pairedTest: nullable(object({
    name: string,
    n: num,
    images: num,
    seeds: num,
    onlyDistilled: num,
    onlyScratch: num,
    p: num,
  })),
  detectable80: num,
  vsStrongestScratch: optional(object({ recipe: string, accuracy: stat })),
  verdict: string,
});

const results = object({
  experiment: string,
  profile: string,
  rows: list(row),
  confirm: optional(nullable(list(confirm))),
  hasTestSplit: optional(boolean),
  pending: list(string),
  generatedAt: string,
});

/**
 * `value` (the parsed `results.json` at `path`) as {@linkcode SweepResults}; a UserError naming
 * `path` and the first field that is missing or of the wrong type otherwise.
 */
export function checkSweepResults(value: unknown, path: string): SweepResults {
  const bad = results(value, "");
  if (bad) throw new UserError(`${path}: ${bad} (not a sweep's results.json?)`);
  return value as SweepResults;
}
