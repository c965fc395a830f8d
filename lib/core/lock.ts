/**
 * Advisory lock files, so that concurrent sweeps or shards on one directory split the work
 * (one process per run, one per teacher build) instead of doing it twice. Written by hand: the
 * npm lock packages (proper-lockfile and kin) rely on Node's `fs` callbacks and mtime polling
 * alone; here a lock also names its holder (pid, host), so a lock left by a process killed with
 * SIGKILL on this host is taken over at once, and one from another host once its heartbeat (the
 * file's mtime, refreshed while held) is older than `staleMs`.
 * @module
 */
import { dirname } from "node:path";

/** What a lock file holds: who has it. */
export interface LockInfo {
  pid: number;
  host: string;
  started: string;
}

/** A held lock. */
export interface Lock {
  path: string;
  /** Stop the heartbeat and remove the file if it is still ours (idempotent). */
  release(): Promise<void>;
}

/** Options of {@linkcode tryLock}. */
export interface LockOptions {
  /** A lock whose file was not refreshed for this long is stale (default 10 minutes). */
  staleMs?: number;
  /** How often a holder refreshes its file's mtime (default 60 s). */
  heartbeatMs?: number;
}

/** A lock file without readable content is stale after this long (its writer died mid-write). */
const EMPTY_GRACE_MS = 5_000;

/** Whether process `pid` exists on this host (Linux `/proc`; elsewhere: assume it does). */
function alive(pid: number): boolean {
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return !isLinuxProc();
    return true;
  }
}

function isLinuxProc(): boolean {
  try {
    return Deno.statSync("/proc/self").isDirectory;
  } catch {
    return false;
  }
}

/** The holder of the lock at `path`, or null when there is none (or it cannot be read). */
export async function lockHolder(path: string): Promise<LockInfo | null> {
  try {
    const info = JSON.parse(await Deno.readTextFile(path)) as LockInfo;
    return typeof info?.pid === "number" && typeof info?.host === "string" ? info : null;
  } catch {
    return null;
  }
}

/** Whether the existing lock file at `path` belongs to no live holder. */
async function isStale(path: string, staleMs: number): Promise<boolean> {
  let mtime: number;
  try {
    mtime = (await Deno.stat(path)).mtime?.getTime() ?? 0;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false; // released meanwhile: just retry
    throw e;
  }
  const age = Date.now() - mtime;
  const info = await lockHolder(path);
  if (!info) return age > EMPTY_GRACE_MS;
  if (info.host === Deno.hostname()) return info.pid !== Deno.pid && !alive(info.pid);
  return age > staleMs;
}

/**
 * Take the lock at `path` without waiting: the lock, or null while a live process (this one
 * included) holds it. A stale lock is taken over; of two processes taking over the same stale
 * lock, at most one gets it.
 */
export async function tryLock(path: string, opts: LockOptions = {}): Promise<Lock | null> {
  const { staleMs = 600_000, heartbeatMs = 60_000 } = opts;
  await Deno.mkdir(dirname(path), { recursive: true });
  const me: LockInfo = { pid: Deno.pid, host: Deno.hostname(), started: new Date().toISOString() };
  const text = JSON.stringify(me);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const file = await Deno.open(path, { createNew: true, write: true });
      try {
        await file.write(new TextEncoder().encode(text));
      } finally {
        file.close();
      }
      return held(path, text, heartbeatMs);
    } catch (e) {
      if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
    }
    if (!(await isStale(path, staleMs))) return null;
    // One taker at a time: whoever creates the guard re-checks and removes the stale lock; the
    // others return null and look again later (a guard left by a dead taker expires).
    const guard = `${path}.takeover`;
    try {
      (await Deno.open(guard, { createNew: true, write: true })).close();
    } catch (e) {
      if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
      const age = Date.now() - ((await Deno.stat(guard).catch(() => null))?.mtime?.getTime() ?? 0);
      if (age > EMPTY_GRACE_MS) await Deno.remove(guard).catch(() => {});
      return null;
    }
    try {
      if (await isStale(path, staleMs)) await Deno.remove(path).catch(() => {});
    } finally {
      await Deno.remove(guard).catch(() => {});
    }
  }
  return null;
}

function held(path: string, text: string, heartbeatMs: number): Lock {
  const now = () => new Date();
  const timer = setInterval(() => {
    Deno.utime(path, now(), now()).catch(() => {});
  }, heartbeatMs);
  Deno.unrefTimer(timer);
  let released = false;
  return {
    path,
    async release() {
      if (released) return;
      released = true;
      clearInterval(timer);
      // Never remove a lock someone else took over (e.g. after ours was judged stale).
      const current = await Deno.readTextFile(path).catch(() => null);
      if (current === text) await Deno.remove(path).catch(() => {});
    },
  };
}
