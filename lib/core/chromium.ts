/**
 * Where headless Chromium is and how the toolkit starts it (PNG export, notebooks, the browser
 * demo test): one binary lookup, one set of flags for a quiet, offline browser, and one throwaway
 * home. Chromium writes a profile, a crash database, an NSS store (`~/.pki`) and dconf's cache
 * wherever `HOME` and the XDG variables point; those all point into a temporary folder that is
 * removed afterwards, so nothing of the user's is read or written. A browser that cannot start is
 * one line naming the binary ({@linkcode UserError}), not a stack trace.
 * @module
 */
import { delimiter, join } from "node:path";
import { UserError } from "./errors.ts";

/** Names looked up on `PATH`, in order. */
const NAMES = ["chromium", "chromium-browser", "google-chrome"];
/** Where Debian and Google install them, for a `PATH` that lacks `/usr/bin`. */
const CANDIDATES = NAMES.map((n) => `/usr/bin/${n}`);

function isExecutableFile(path: string): boolean {
  try {
    const s = Deno.statSync(path);
    return s.isFile && (s.mode === null || (s.mode & 0o111) !== 0);
  } catch {
    return false;
  }
}

/**
 * Path of a Chromium binary: env `KD_CHROMIUM` when set (and nothing else then, so a wrong value
 * is not silently replaced), else the first `chromium`, `chromium-browser` or `google-chrome` on
 * `PATH`, else in `/usr/bin`; null when there is none.
 */
export function findChromium(): string | null {
  const env = Deno.env.get("KD_CHROMIUM");
  if (env) return isExecutableFile(env) ? env : null;
  const dirs = (Deno.env.get("PATH") ?? "").split(delimiter).filter(Boolean);
  // PATH order first, as a shell would pick: a browser earlier on PATH wins over a later one.
  for (const dir of dirs) {
    for (const name of NAMES) if (isExecutableFile(join(dir, name))) return join(dir, name);
  }
  return CANDIDATES.find(isExecutableFile) ?? null;
}

/** The one line printed when something that needs Chromium is skipped. */
export const NO_CHROMIUM_MESSAGE =
  "Chromium not found (install the Debian package `chromium`, or set KD_CHROMIUM to a " +
  "Chromium/Chrome binary)";

/** Why {@linkcode findChromium} found nothing: a wrong `KD_CHROMIUM` is named as such. */
export function noChromiumMessage(): string {
  const env = Deno.env.get("KD_CHROMIUM");
  return env
    ? `KD_CHROMIUM=${env} is not an executable file (point it at a Chromium/Chrome binary, or ` +
      `unset it to use the one on PATH)`
    : NO_CHROMIUM_MESSAGE;
}

/** Flags for a headless Chromium that talks to nothing but the pages it is given. */
export function headlessArgs(userDataDir: string): string[] {
  return [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--no-first-run",
    "--no-default-browser-check",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
    "--disable-breakpad",
    `--user-data-dir=${userDataDir}`,
  ];
}

/** A throwaway home for one Chromium run (see the module doc). */
export interface ChromiumHome {
  /** The temporary folder (also usable for the caller's own scratch files). */
  dir: string;
  /** The `--user-data-dir` to pass. */
  profile: string;
  /** Environment for the child: `HOME` and the XDG folders inside `dir`. */
  env: Record<string, string>;
  /** Remove `dir` and everything Chromium left in it. */
  remove(): Promise<void>;
}

/** Make a {@linkcode ChromiumHome}; remove it when the browser has exited. */
export async function chromiumHome(prefix = "kd-chromium-"): Promise<ChromiumHome> {
  const dir = await Deno.makeTempDir({ prefix });
  const sub = (name: string) => join(dir, name);
  for (const name of ["home", "config", "cache", "data", "runtime"]) {
    // The runtime folder must be private, or dconf and others refuse it and fall back to HOME.
    await Deno.mkdir(sub(name), { mode: 0o700 });
  }
  return {
    dir,
    profile: sub("profile"),
    env: {
      HOME: sub("home"),
      XDG_CONFIG_HOME: sub("config"),
      XDG_CACHE_HOME: sub("cache"),
      XDG_DATA_HOME: sub("data"),
      XDG_RUNTIME_DIR: sub("runtime"),
    },
    remove: () => Deno.remove(dir, { recursive: true }).catch(() => {}),
  };
}

/** The last informative line of Chromium's stderr (its dbus and GPU chatter skipped). */
export function chromiumReason(stderr: string): string {
  const lines = stderr.split("\n").map((l) => l.trim()).filter((l) =>
    l && !/dbus|gpu|Fontconfig/i.test(l)
  );
  const last = lines.at(-1) ?? stderr.trim().split("\n").at(-1)?.trim() ?? "";
  return last.length > 200 ? `${last.slice(0, 200)}…` : last;
}

/** The one-line error for a Chromium that did not start or did not do its job. */
export function chromiumError(binary: string, what: string, reason: string): UserError {
  const from = Deno.env.get("KD_CHROMIUM") ? " (KD_CHROMIUM)" : "";
  return new UserError(
    `${binary}${from} ${what}${reason ? `: ${reason}` : ""}; check that it runs ` +
      `(\`${binary} --headless --version\`) or set KD_CHROMIUM to a working Chromium`,
  );
}

/** Spawn Chromium; a binary that cannot be executed at all is a {@linkcode chromiumError}. */
export function spawnChromium(
  binary: string,
  args: string[],
  home: ChromiumHome,
  io: Pick<Deno.CommandOptions, "stdout" | "stderr"> = {},
): Deno.ChildProcess {
  try {
    return new Deno.Command(binary, {
      args,
      env: home.env,
      stdin: "null",
      stdout: io.stdout ?? "null",
      stderr: io.stderr ?? "piped",
    }).spawn();
  } catch (e) {
    throw chromiumError(binary, "cannot be started", (e as Error).message);
  }
}
