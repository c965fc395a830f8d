/**
 * What the test suite may touch, decided once per process, so a plain `deno test` (no permission
 * flags, what a Deno user types first) runs the pure tests and reports every other test as
 * ignored with its reason, instead of failing it. `deno task test` grants everything.
 *
 * This module imports nothing: test files import it before anything that could need a
 * permission while loading.
 * @module
 */

const ALL: Deno.PermissionName[] = ["read", "write", "env", "run", "net", "ffi", "sys"];

/** Whether this process has every permission (`deno test -A`, as `deno task test` runs it). */
export const ALL_GRANTED: boolean = ALL.every((name) =>
  Deno.permissions.querySync({ name }).state === "granted"
);

/** The suffix a test's name gets when it is ignored for lack of permissions. */
export const NEEDS_PERMISSIONS =
  "[ignored: needs file, env, run, net or ffi access; run `deno task test`]";

/** An environment setting, or undefined where env access is not granted (plain `deno test`). */
export function setting(name: string): string | undefined {
  return Deno.permissions.querySync({ name: "env", variable: name }).state === "granted"
    ? Deno.env.get(name)
    : undefined;
}

type Fn = (t: Deno.TestContext) => void | Promise<void>;

/**
 * `Deno.test` for a test that needs permissions: where they are not all granted it is
 * registered as ignored, its name saying why and which command runs it.
 */
export function test(name: string, fn: Fn): void;
/** `Deno.test` with a definition; `ignore` in the definition still applies. */
export function test(def: Deno.TestDefinition): void;
export function test(a: string | Deno.TestDefinition, fn?: Fn): void {
  const def: Deno.TestDefinition = typeof a === "string" ? { name: a, fn: fn! } : a;
  if (ALL_GRANTED) Deno.test(def);
  else Deno.test({ ...def, name: `${def.name} ${NEEDS_PERMISSIONS}`, ignore: true });
}
