import { test } from "../permissions.ts";
import { assert, assertEquals } from "@std/assert";
import { join } from "node:path";
import { lockHolder, tryLock } from "../../lib/core/lock.ts";

const LOCK = new URL("../../lib/core/lock.ts", import.meta.url).href;

/** A child process that takes the lock at `path`, says so, and sleeps until killed. */
async function holderProcess(path: string): Promise<Deno.ChildProcess> {
  const code = `const { tryLock } = await import(${JSON.stringify(LOCK)});
    const l = await tryLock(${JSON.stringify(path)});
    console.log(l ? "held" : "busy");
    await new Promise((r) => setTimeout(r, 60_000));`;
  const p = new Deno.Command(Deno.execPath(), { args: ["eval", code], stdout: "piped" }).spawn();
  const reader = p.stdout.getReader();
  const { value } = await reader.read();
  reader.releaseLock();
  assertEquals(new TextDecoder().decode(value).trim(), "held");
  return p;
}

async function kill(p: Deno.ChildProcess): Promise<void> {
  p.kill("SIGKILL");
  await p.status;
  await p.stdout.cancel();
}

test("a lock is held once, names its holder, and is released", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "sub", "run.lock");
  const a = await tryLock(path);
  assert(a);
  assertEquals((await lockHolder(path))?.pid, Deno.pid);
  assertEquals(await tryLock(path), null, "held by this process");
  await a.release();
  await a.release();
  const b = await tryLock(path);
  assert(b, "free again after release");
  await b.release();
  await Deno.remove(dir, { recursive: true });
});

test({
  name: "a live process's lock is respected; after SIGKILL it is taken over",
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir();
    const path = join(dir, "run.lock");
    const child = await holderProcess(path);
    assertEquals(await tryLock(path), null, "taken from a live holder");
    await kill(child);
    const mine = await tryLock(path);
    assert(mine, "stale lock of a killed process not taken over");
    assertEquals((await lockHolder(path))?.pid, Deno.pid);
    await mine.release();
    await Deno.remove(dir, { recursive: true });
  },
});

test("another host's lock is stale only once its heartbeat is old; an empty one after a grace", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "run.lock");
  await Deno.writeTextFile(path, JSON.stringify({ pid: 1, host: "elsewhere", started: "" }));
  assertEquals(await tryLock(path, { staleMs: 60_000 }), null);
  const old = new Date(Date.now() - 120_000);
  await Deno.utime(path, old, old);
  const a = await tryLock(path, { staleMs: 60_000 });
  assert(a, "old heartbeat not taken over");
  await a.release();
  await Deno.writeTextFile(path, "");
  assertEquals(await tryLock(path), null, "a half-written lock is young: wait");
  await Deno.utime(path, old, old);
  const b = await tryLock(path);
  assert(b, "an old empty lock not taken over");
  await b.release();
  await Deno.remove(dir, { recursive: true });
});

test("two takers of one stale lock: at most one gets it; release never removes another's lock", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "run.lock");
  // A dead holder on this host: a process that has exited.
  const gone = new Deno.Command(Deno.execPath(), { args: ["eval", ""] }).spawn();
  const pid = gone.pid;
  await gone.status;
  await Deno.writeTextFile(path, JSON.stringify({ pid, host: Deno.hostname(), started: "" }));
  const takers = await Promise.all([tryLock(path), tryLock(path), tryLock(path)]);
  const won = takers.filter((t) => t !== null);
  assertEquals(won.length, 1);
  // Someone else took the lock over (as if ours had been judged stale): ours must not remove it.
  const other = JSON.stringify({ pid: 1, host: "elsewhere", started: "" });
  await Deno.writeTextFile(path, other);
  await won[0]!.release();
  assertEquals(await Deno.readTextFile(path), other);
  await Deno.remove(dir, { recursive: true });
});
