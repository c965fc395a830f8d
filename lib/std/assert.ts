/**
 * Stand-in for `jsr:@std/assert` built on `node:assert` (jsr.io is unreachable where this
 * toolkit is built). Same names and argument order as `@std/assert`, so the import in
 * deno.json can point back at jsr without touching the tests.
 * @module
 */
import nodeAssert from "node:assert";

/** Error thrown by every assertion here. */
export class AssertionError extends Error {
  override name = "AssertionError";
}

/** Assert that `expr` is truthy. */
export function assert(expr: unknown, msg = "Assertion failed"): asserts expr {
  if (!expr) throw new AssertionError(msg);
}

/** Assert deep equality. */
export function assertEquals<T>(actual: T, expected: T, msg?: string): void {
  try {
    nodeAssert.deepStrictEqual(actual, expected);
  } catch (e) {
    throw new AssertionError(msg ? `${msg}\n${(e as Error).message}` : (e as Error).message);
  }
}

/** Assert deep inequality. */
export function assertNotEquals<T>(actual: T, expected: T, msg?: string): void {
  try {
    nodeAssert.notDeepStrictEqual(actual, expected);
  } catch (e) {
    throw new AssertionError(msg ?? (e as Error).message);
  }
}

/** Assert `|actual - expected| <= tolerance` (default 1e-7, like @std/assert). */
export function assertAlmostEquals(
  actual: number,
  expected: number,
  tolerance = 1e-7,
  msg?: string,
): void {
  if (Object.is(actual, expected)) return;
  const delta = Math.abs(expected - actual);
  if (!(delta <= tolerance)) {
    throw new AssertionError(
      msg ?? `Expected ${actual} to be close to ${expected}: delta ${delta} > ${tolerance}`,
    );
  }
}

/** Assert that a value is neither null nor undefined. */
export function assertExists<T>(actual: T, msg?: string): asserts actual is NonNullable<T> {
  if (actual === null || actual === undefined) {
    throw new AssertionError(msg ?? `Expected a value, got ${actual}`);
  }
}

/** Assert `actual > expected`. */
export function assertGreater(actual: number, expected: number, msg?: string): void {
  if (!(actual > expected)) throw new AssertionError(msg ?? `Expected ${actual} > ${expected}`);
}

/** Assert `actual >= expected`. */
export function assertGreaterOrEqual(actual: number, expected: number, msg?: string): void {
  if (!(actual >= expected)) throw new AssertionError(msg ?? `Expected ${actual} >= ${expected}`);
}

/** Assert `actual < expected`. */
export function assertLess(actual: number, expected: number, msg?: string): void {
  if (!(actual < expected)) throw new AssertionError(msg ?? `Expected ${actual} < ${expected}`);
}

/** Assert `actual <= expected`. */
export function assertLessOrEqual(actual: number, expected: number, msg?: string): void {
  if (!(actual <= expected)) throw new AssertionError(msg ?? `Expected ${actual} <= ${expected}`);
}

/** Assert that `actual` contains `expected`. */
export function assertStringIncludes(actual: string, expected: string, msg?: string): void {
  if (!actual.includes(expected)) {
    throw new AssertionError(msg ?? `Expected "${actual}" to include "${expected}"`);
  }
}

/** Assert that `actual` matches `expected`. */
export function assertMatch(actual: string, expected: RegExp, msg?: string): void {
  if (!expected.test(actual)) {
    throw new AssertionError(msg ?? `Expected "${actual}" to match ${expected}`);
  }
}

type ErrorClass = new (...args: never[]) => Error;

function checkError(e: unknown, cls?: ErrorClass, includes?: string): Error {
  if (!(e instanceof Error)) throw new AssertionError(`Expected an Error, got ${String(e)}`);
  const err: Error = e;
  const isExpectedClass: boolean = cls === undefined || err instanceof cls;
  if (cls && !isExpectedClass) {
    throw new AssertionError(`Expected ${cls.name}, got ${err.name}: ${err.message}`);
  }
  if (includes !== undefined && !e.message.includes(includes)) {
    throw new AssertionError(`Expected error message to include "${includes}", got "${e.message}"`);
  }
  return e;
}

/** Assert that `fn` throws (optionally an instance of `cls` whose message includes `includes`). */
export function assertThrows(fn: () => unknown, cls?: ErrorClass, includes?: string): Error {
  try {
    fn();
  } catch (e) {
    return checkError(e, cls, includes);
  }
  throw new AssertionError("Expected function to throw.");
}

/** Assert that `fn` rejects (optionally an instance of `cls` whose message includes `includes`). */
export async function assertRejects(
  fn: () => PromiseLike<unknown>,
  cls?: ErrorClass,
  includes?: string,
): Promise<Error> {
  try {
    await fn();
  } catch (e) {
    return checkError(e, cls, includes);
  }
  throw new AssertionError("Expected function to reject.");
}

/** Fail unconditionally. */
export function fail(msg?: string): never {
  throw new AssertionError(`Failed assertion${msg ? `: ${msg}` : "."}`);
}
