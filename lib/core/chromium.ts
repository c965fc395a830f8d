/**
 * Where headless Chromium is and how the toolkit starts it (PNG export, notebooks, the browser
 * demo test): one binary lookup and one set of flags for a quiet, throwaway, offline browser.
 * @module
 */

const CANDIDATES = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"];

/** Path of a Chromium binary (env `KD_CHROMIUM` first), or null when none is installed. */
export function findChromium(): string | null {
  const env = Deno.env.get("KD_CHROMIUM");
  for (const p of env ? [env] : CANDIDATES) {
    try {
      if (Deno.statSync(p).isFile) return p;
    } catch {
      // not there
    }
  }
  return null;
}

/** The one line printed when something that needs Chromium is skipped. */
export const NO_CHROMIUM_MESSAGE =
  "Chromium not found (install the Debian package `chromium`, or set KD_CHROMIUM to a " +
  "Chromium/Chrome binary)";

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
    `--user-data-dir=${userDataDir}`,
  ];
}
