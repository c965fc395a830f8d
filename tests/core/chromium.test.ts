/**
 * Chromium as the toolkit starts it (lib/core/chromium.ts): found through KD_CHROMIUM or PATH,
 * run with a throwaway profile and home, and a browser that fails to start is one error line.
 * Fake "browsers" (shell scripts) stand in, so no Chromium is needed.
 */
import { test } from "../permissions.ts";
import { assert, assertEquals, assertRejects, assertStringIncludes } from "@std/assert";
import { join } from "node:path";
import { findChromium, noChromiumMessage } from "../../lib/core/chromium.ts";
import { UserError } from "../../lib/core/errors.ts";
import { withHeadlessPage } from "../../lib/export/browser.ts";
import { renderFiguresPng } from "../../lib/report/png.ts";
import { writeSyntheticSweep } from "../../lib/report/synthetic.ts";
import { withEnv } from "../net/hub_env.ts";

const REPORT = new URL("../../lib/cli/report.ts", import.meta.url).pathname;

/**
 * A fake browser that records its arguments and the folders it was told to use into `record`,
 * writes into them as Chromium does, complains on stderr and exits 1 (before any DevTools line).
 */
async function failingBrowser(dir: string, record: string): Promise<string> {
  const path = join(dir, "chromium-browser");
  await Deno.writeTextFile(
    path,
    `#!/bin/sh
{ echo "HOME=$HOME"; echo "XDG_CONFIG_HOME=$XDG_CONFIG_HOME"; echo "XDG_CACHE_HOME=$XDG_CACHE_HOME"
  echo "XDG_RUNTIME_DIR=$XDG_RUNTIME_DIR"; for a in "$@"; do echo "ARG=$a"; done; } >> "${record}"
mkdir -p "$HOME/.pki" "$XDG_CONFIG_HOME/chromium" "$XDG_CACHE_HOME/dconf"
echo "[1:2:ERROR:ozone_platform_x11.cc(240)] Missing X server or \\$DISPLAY" >&2
exit 1
`,
  );
  await Deno.chmod(path, 0o755);
  return path;
}

/** The recorded runs: each one's env folders and --user-data-dir. */
async function recorded(record: string): Promise<string[]> {
  const text = await Deno.readTextFile(record);
  return text.split("\n").filter((l) => /^(HOME|XDG_\w+)=|^ARG=--user-data-dir=/.test(l))
    .map((l) => l.replace(/^[^=]+=(--user-data-dir=)?/, ""));
}

async function assertGone(paths: string[], tmp: string) {
  assert(paths.length >= 5, paths.join("\n"));
  for (const p of paths) {
    assert(p.startsWith("/") && !p.startsWith(tmp), `${p} is not a private temp folder`);
    await assertRejects(() => Deno.stat(p), Deno.errors.NotFound);
  }
}

test({
  name: "chromium: PATH is searched, a failed start is one line naming it, its home is temporary",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const tmp = await Deno.makeTempDir({ prefix: "kd-chromium-test-" });
    const bin = join(tmp, "bin");
    const home = join(tmp, "home");
    const record = join(tmp, "record.txt");
    await Deno.mkdir(bin);
    await Deno.mkdir(home);
    try {
      const fake = await failingBrowser(bin, record);
      const path = `${bin}:${Deno.env.get("PATH") ?? ""}`;
      const found = (vars: Record<string, string | undefined>) =>
        withEnv(vars, () => Promise.resolve(findChromium()));
      assertEquals(await found({ KD_CHROMIUM: undefined, PATH: path }), fake);
      // A wrong KD_CHROMIUM is not replaced silently by what PATH has.
      assertEquals(await found({ KD_CHROMIUM: join(tmp, "none"), PATH: path }), null);
      await withEnv({ KD_CHROMIUM: record }, () => {
        assertStringIncludes(noChromiumMessage(), `KD_CHROMIUM=${record} is not an executable`);
        return Promise.resolve();
      });
      // demo --headless drives the page through withHeadlessPage.
      await withEnv({ KD_CHROMIUM: undefined, PATH: path, HOME: home }, async () => {
        const e = await assertRejects(
          () => withHeadlessPage("about:blank", () => Promise.resolve()),
          UserError,
          "exited before DevTools started",
        );
        assertStringIncludes(e.message, fake);
        assertStringIncludes(e.message, "Missing X server");
        assert(!e.message.includes("\n"), e.message);
        await assertRejects(
          () => renderFiguresPng([{ data: [], layout: {} }]),
          UserError,
          "could not render figure 0",
        );
      });
      await assertGone(await recorded(record), tmp);
      // The command: exit 2, one line, no stack trace; report.html (finished) is kept.
      await Deno.remove(record);
      const sweep = join(tmp, "sweep");
      await writeSyntheticSweep(sweep, { teachers: ["ta"], temperatures: [2], epochs: 2 });
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", REPORT, sweep, "--png", "--quiet"],
        env: { NO_COLOR: "1", KD_CHROMIUM: fake, HOME: home, DENO_DIR: denoDir() },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stderr = new TextDecoder().decode(out.stderr);
      assertEquals(out.code, 2, stderr);
      assertEquals(stderr.trim().split("\n").length, 1, stderr);
      assertStringIncludes(stderr, "KD_CHROMIUM");
      assert(!/\n\s+at /.test(stderr), stderr);
      await Deno.stat(join(sweep, "report.html"));
      await assertGone(await recorded(record), tmp);
      assertEquals([...Deno.readDirSync(home)], [], "the browser wrote into HOME");
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});

/** Deno's cache folder as this process uses it (so the child finds it with another HOME). */
function denoDir(): string {
  const info = new Deno.Command(Deno.execPath(), { args: ["info", "--json"] }).outputSync();
  return JSON.parse(new TextDecoder().decode(info.stdout)).denoDir;
}
