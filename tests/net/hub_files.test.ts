import { test } from "../permissions.ts";
import { assert, assertEquals, assertRejects, assertStringIncludes } from "@std/assert";
import { join } from "node:path";
import { hubFile, hubFiles, hubRepoFiles } from "../../lib/net/hub_files.ts";
import { hubCacheDir, repoFolder } from "../../lib/net/hf_cache.ts";
import { hubFileUrl, parseRepo, resolvedRepos } from "../../lib/net/hub.ts";
import { UserError } from "../../lib/core/errors.ts";
import { type FakeRepo, gitSha1, sha256 } from "./fake_hub.ts";
import { withEnv, withFakeHub } from "./hub_env.ts";

const enc = new TextEncoder();
const CONFIG = enc.encode('{"model_type": "vit"}\n');
const WEIGHTS = crypto.getRandomValues(new Uint8Array(50_000));
const COMMIT = "a".repeat(40);
const OLD = "b".repeat(40);
const REPO: FakeRepo = {
  type: "model",
  repo: "org/tiny",
  commit: COMMIT,
  files: { "config.json": CONFIG, "model.safetensors": WEIGHTS },
  revisions: { v1: { commit: OLD, files: { "config.json": enc.encode("{}") } } },
};
const ref = parseRepo("org/tiny", "model");

test("hub cache: files land in huggingface_hub's layout; a second use downloads nothing", async () => {
  await withFakeHub([REPO], async (hub, cache) => {
    const listing = await hubRepoFiles(ref, { quiet: true });
    assertEquals(listing, {
      commit: COMMIT,
      files: ["config.json", "model.safetensors"],
      fromCache: false,
    });
    const [cfg, w] = await hubFiles(ref, listing.commit, ["config.json", "model.safetensors"], {
      quiet: true,
    });
    const folder = join(cache, "models--org--tiny");
    assertEquals(await Deno.readTextFile(join(folder, "refs", "main")), COMMIT);
    assertEquals(cfg.path, join(folder, "snapshots", COMMIT, "config.json"));
    // Snapshot entries are relative symlinks to blobs named by etag: git sha1 or sha256 (LFS).
    assertEquals(await Deno.readLink(cfg.path), `../../blobs/${gitSha1(CONFIG)}`);
    assertEquals(await Deno.readLink(w.path), `../../blobs/${sha256(WEIGHTS)}`);
    assertEquals(await Deno.readFile(w.path), WEIGHTS);
    assert(resolvedRepos().some((r) => r.repo === "org/tiny" && r.commit === COMMIT));
    // Again at the pinned commit: the cache answers, no request at all.
    const n = hub.log.length;
    await hubFile({ ...ref, revision: COMMIT }, "model.safetensors", { quiet: true });
    assertEquals(hub.log.length, n);
    // Again at main: one HEAD, no GET.
    await hubFile(ref, "model.safetensors", { quiet: true });
    assertEquals(hub.log.slice(n).map((r) => r.method), ["HEAD"]);
  });
});

test("hub cache: a blob put in by hand in Python's layout is used, online and offline", async () => {
  await withFakeHub([REPO], async (hub, cache) => {
    // What huggingface_hub leaves behind: blob, ref, relative snapshot symlink.
    const folder = join(cache, "models--org--tiny");
    await Deno.mkdir(join(folder, "blobs"), { recursive: true });
    await Deno.mkdir(join(folder, "refs"), { recursive: true });
    await Deno.mkdir(join(folder, "snapshots", COMMIT), { recursive: true });
    await Deno.writeFile(join(folder, "blobs", sha256(WEIGHTS)), WEIGHTS);
    await Deno.writeTextFile(join(folder, "refs", "main"), COMMIT);
    await Deno.symlink(
      `../../blobs/${sha256(WEIGHTS)}`,
      join(folder, "snapshots", COMMIT, "model.safetensors"),
    );
    const offline = await withEnv(
      { HF_HUB_OFFLINE: "1" },
      () => hubFile(ref, "model.safetensors", { quiet: true }),
    );
    assertEquals(offline?.commit, COMMIT);
    assertEquals(hub.log.length, 0);
    // Online: the HEAD confirms the commit and the blob; nothing is downloaded.
    await hubFile(ref, "model.safetensors", { quiet: true });
    assertEquals(hub.log.map((r) => r.method), ["HEAD"]);
    // A blob Python has for another snapshot is linked, not downloaded either.
    await Deno.remove(join(folder, "snapshots"), { recursive: true });
    await hubFile(ref, "model.safetensors", { quiet: true });
    assertEquals(hub.log.filter((r) => r.method === "GET").length, 0);
  });
});

test("hub cache: HF_HUB_OFFLINE sends nothing and names the missing file", async () => {
  await withFakeHub([REPO], async (hub) => {
    await withEnv({ HF_HUB_OFFLINE: "1" }, async () => {
      const e = await assertRejects(
        () => hubFile(ref, "config.json", { hint: "pass --backbone SPEC" }),
        UserError,
      );
      assertStringIncludes(e.message, "org/tiny/config.json");
      assertStringIncludes(e.message, hubCacheDir());
      assertStringIncludes(e.message, "--backbone");
      await assertRejects(() => hubRepoFiles(ref), UserError, "not in the Hugging Face cache");
    });
    assertEquals(hub.log.length, 0);
  });
});

test("hub cache: ORG/NAME@REV pins a revision; refs record each name", async () => {
  await withFakeHub([REPO], async (_hub, cache) => {
    const v1 = parseRepo("org/tiny@v1", "model");
    const f = await hubFile(v1, "config.json", { quiet: true });
    assertEquals(f?.commit, OLD);
    assertEquals(await Deno.readTextFile(join(cache, "models--org--tiny", "refs", "v1")), OLD);
    assertEquals(await Deno.readTextFile(f!.path), "{}");
    assertEquals(
      hubFileUrl("org/tiny", "a b.json", { revision: "refs/pr/1" }).endsWith(
        "/org/tiny/resolve/refs%2Fpr%2F1/a%20b.json",
      ),
      true,
    );
    await assertRejects(() => Promise.resolve(parseRepo("org/../x", "model")), UserError);
  });
});

test("hub cache: a dropped download resumes from blobs/<etag>.incomplete with Range", async () => {
  await withFakeHub([REPO], async (hub) => {
    const f = await hubFile(ref, "model.safetensors", { quiet: true, retries: 2 });
    assertEquals(await Deno.readFile(f!.path), WEIGHTS);
    const gets = hub.log.filter((r) => r.method === "GET" && r.path.startsWith("/cdn/"));
    assertEquals(gets.map((g) => g.range), [null, "bytes=20000-"]);
    const blobs = [...Deno.readDirSync(join(repoFolder(ref), "blobs"))].map((e) => e.name);
    assert(!blobs.some((b) => b.endsWith(".incomplete")));
  }, { dropFirstCdnGetAfter: 20_000 });
});

test("hub cache: optional files the hub lacks are remembered in .no_exist", async () => {
  await withFakeHub([REPO], async (hub, cache) => {
    await hubRepoFiles(ref, { quiet: true });
    assertEquals(await hubFile(ref, "preprocessor_config.json", { optional: true }), null);
    await Deno.stat(
      join(cache, "models--org--tiny", ".no_exist", COMMIT, "preprocessor_config.json"),
    );
    const n = hub.log.length;
    const off = await withEnv(
      { HF_HUB_OFFLINE: "1" },
      () => hubFile(ref, "preprocessor_config.json", { optional: true }),
    );
    assertEquals([off, hub.log.length], [null, n]);
    await assertRejects(() => hubFile(ref, "missing.bin"), UserError, "not found");
  });
});

test("hub cache: HF_TOKEN goes to the hub; HF_HUB_CACHE, HF_HOME and HOME pick the folder", async () => {
  await withFakeHub([REPO], async (hub) => {
    await withEnv({ HF_TOKEN: "hf_secret" }, () => hubRepoFiles(parseRepo("org/tiny@v1", "model")));
    assertEquals(hub.log.at(-1)?.auth, "Bearer hf_secret");
  });
  await withEnv(
    { HF_HUB_CACHE: undefined, HUGGINGFACE_HUB_CACHE: undefined, HF_HOME: "/h" },
    () => {
      assertEquals(hubCacheDir(), "/h/hub");
      return Promise.resolve();
    },
  );
  await withEnv(
    {
      HF_HUB_CACHE: undefined,
      HUGGINGFACE_HUB_CACHE: undefined,
      HF_HOME: undefined,
      XDG_CACHE_HOME: undefined,
      HOME: "/home/u",
    },
    () => {
      assertEquals(hubCacheDir(), "/home/u/.cache/huggingface/hub");
      return Promise.resolve();
    },
  );
});
