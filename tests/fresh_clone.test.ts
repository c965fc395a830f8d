/**
 * The toolkit as a new user meets it: a fresh clone with nothing beside it, only `HOME` and
 * `HF_ENDPOINT` set (here: a loopback server playing the Hugging Face hub with beans, the tiny
 * MobileNetV2 fixture as `google/mobilenet_v2_1.0_224` and the tiny ViT as
 * `merve/beans-vit-224`). `deno task sweep --profile smoke` must finish with the ViT teacher and
 * scratch in results.csv; a second run with `HF_HUB_OFFLINE=1` must finish from the cache alone
 * without one request; offline with an empty cache it must stop with one line naming `--data`.
 * npm packages come from the Deno cache already on this machine (`DENO_DIR`), nothing else.
 */
import { test } from "./permissions.ts";
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { join } from "node:path";
import { startFakeHub } from "./net/fake_hub.ts";
import { beansHubRepos } from "./net/beans_hub.ts";

const ROOT = new URL("..", import.meta.url).pathname;

async function denoDir(): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), { args: ["info", "--json"], stdout: "piped" })
    .output();
  return JSON.parse(new TextDecoder().decode(out.stdout)).denoDir;
}

async function run(
  args: string[],
  cwd: string,
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    cwd,
    clearEnv: true,
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

test({
  name: "fresh clone: sweep --profile smoke against a loopback hub, then offline from the cache",
  sanitizeResources: false,
  async fn() {
    const tmp = await Deno.makeTempDir({ prefix: "kd-fresh-" });
    const hub = startFakeHub(await beansHubRepos());
    try {
      const clone = join(tmp, "kd-vision");
      const git = await new Deno.Command("git", {
        args: ["clone", "--quiet", ROOT, clone],
        stdout: "null",
        stderr: "piped",
      }).output();
      assert(git.success, new TextDecoder().decode(git.stderr));
      const base = {
        HOME: join(tmp, "home"),
        PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
        DENO_DIR: await denoDir(),
        NO_COLOR: "1",
      };
      await Deno.mkdir(base.HOME);
      // What a login session has; without it the GPU probe's Mesa prints "error:" lines.
      const runtime = join(tmp, "runtime");
      await Deno.mkdir(runtime, { mode: 0o700 });
      Object.assign(base, { XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? runtime });
      const install = await run(["install", "--quiet"], clone, base);
      assertEquals(install.code, 0, install.stderr);
      const online = { ...base, HF_ENDPOINT: hub.base };

      const first = await run(
        ["task", "sweep", "--profile", "smoke", "--out", join(tmp, "out1"), "--quiet"],
        clone,
        online,
      );
      assertEquals(first.code, 0, first.stderr.slice(-3000));
      const csv = await Deno.readTextFile(join(tmp, "out1", "results.csv"));
      const [header, ...records] = csv.trim().split("\n").map((l) => l.split(","));
      const teachers = records.map((r) => r[header.indexOf("teacher")]);
      assert(teachers.includes("vit-guide") && teachers.includes("scratch"), csv);
      const md = await Deno.readTextFile(join(tmp, "out1", "results.md"));
      assertStringIncludes(md, "| scratch |");
      assertStringIncludes(md, "validation");
      // The hub's beans has a test split: the CONFIRM sections carry TEST rows.
      assertStringIncludes(md, "### CONFIRM vit-guide");
      assertStringIncludes(md, "| TEST |");
      const html = await Deno.readTextFile(join(tmp, "out1", "report.html"));
      assert(html.length > 1_000_000, "plotly should be inlined");
      assert(!/<script[^>]+src=["']https?:/.test(html), "report must not load from the network");
      // Everything came through the Hugging Face cache under HOME.
      const hubCache = join(base.HOME, ".cache", "huggingface", "hub");
      for (const repo of ["datasets--AI-Lab-Makerere--beans", "models--merve--beans-vit-224"]) {
        await Deno.stat(join(hubCache, repo, "refs", "main"));
      }
      const config = JSON.parse(
        await Deno.readTextFile(
          join(tmp, "out1", "runs", "kd-vit-guide-views-2-T5-l1-s0", "config.json"),
        ),
      );
      const repos = config.environment.hub_repos.map((r: { repo: string; commit: string }) =>
        `${r.repo}@${r.commit.length}`
      );
      assert(repos.includes("merve/beans-vit-224@40"), JSON.stringify(repos));
      assert(repos.includes("AI-Lab-Makerere/beans@40"), JSON.stringify(repos));
      assert(hub.log.length > 0);

      const requests = hub.log.length;
      const second = await run(
        ["task", "sweep", "--profile", "smoke", "--out", join(tmp, "out2"), "--quiet"],
        clone,
        { ...online, HF_HUB_OFFLINE: "1" },
      );
      assertEquals(second.code, 0, second.stderr.slice(-3000));
      assertEquals(hub.log.length, requests, "offline run sent requests");
      await Deno.stat(join(tmp, "out2", "results.csv"));

      // Offline with an empty cache: exit 2, one line, naming --data; nothing half-written.
      const empty = { ...base, HOME: join(tmp, "empty-home"), HF_HUB_OFFLINE: "1" };
      await Deno.mkdir(empty.HOME);
      const third = await run(["task", "sweep", "--out", join(tmp, "out3")], clone, empty);
      assertEquals(third.code, 2, third.stderr);
      const errors = third.stderr.split("\n").filter((l) => l.startsWith("error:"));
      assertEquals(errors.length, 1, third.stderr);
      assertStringIncludes(errors[0], "--data");
      assert(!third.stderr.includes("    at "), third.stderr);
      assertEquals(hub.log.length, requests);
    } finally {
      await hub.close();
      await Deno.remove(tmp, { recursive: true });
    }
  },
});
