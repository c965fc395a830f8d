/**
 * The hub cache's trust boundary (lib/net/cache_trust.ts, used by lib/net/hub_files.ts): what the
 * hub sends becomes a path only when it is a hash, and what the cache holds is read only when it
 * resolves into `blobs/` and matches its name. Against the loopback fake hub.
 */
import { test } from "../permissions.ts";
import { assert, assertEquals, assertRejects, assertStringIncludes } from "@std/assert";
import { join } from "node:path";
import { hubFile, hubFiles, hubRepoFiles } from "../../lib/net/hub_files.ts";
import { hubHeaders, isHubUrl, parseRepo } from "../../lib/net/hub.ts";
import { UserError } from "../../lib/core/errors.ts";
import { createModel } from "../../lib/models/registry.ts";
import { type FakeRepo, gitSha1, sha256, startFakeHub } from "./fake_hub.ts";
import { withEnv, withFakeHub } from "./hub_env.ts";

const enc = new TextEncoder();
const CONFIG = enc.encode('{"model_type": "mobilenet_v2"}\n');
const WEIGHTS = crypto.getRandomValues(new Uint8Array(50_000));
const COMMIT = "c".repeat(40);
const REPO: FakeRepo = {
  type: "model",
  repo: "org/tiny",
  commit: COMMIT,
  files: { "config.json": CONFIG, "model.safetensors": WEIGHTS },
};
const ref = parseRepo("org/tiny", "model");
const FETCH = new URL("../../lib/cli/fetch.ts", import.meta.url).pathname;

/** Every path under `dir` (relative), symlinks not followed. */
function tree(dir: string, prefix = ""): string[] {
  const out: string[] = [];
  for (const e of Deno.readDirSync(join(dir, prefix))) {
    const rel = join(prefix, e.name);
    out.push(rel);
    if (e.isDirectory) out.push(...tree(dir, rel));
  }
  return out.sort();
}

/** A temp folder with the cache in `cache/`, so anything written beside it shows. */
async function sandbox<T>(fn: (base: string, cache: string) => Promise<T>): Promise<T> {
  const base = await Deno.makeTempDir({ prefix: "kd-trust-" });
  try {
    await Deno.mkdir(join(base, "cache"));
    return await fn(base, join(base, "cache"));
  } finally {
    await Deno.remove(base, { recursive: true });
  }
}

/** `deno task fetch ARGS` against `endpoint` with the cache at `cache`. */
async function fetchCli(args: string[], env: Record<string, string>) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", FETCH, ...args],
    env: { NO_COLOR: "1", HF_TOKEN: "", HF_HUB_OFFLINE: "", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

function assertOneLine(r: { code: number; stderr: string }, mention: string) {
  assertEquals(r.code, 2, r.stderr);
  const lines = r.stderr.trim().split("\n");
  assertEquals(lines.length, 1, r.stderr);
  assert(lines[0].startsWith("error: "), r.stderr);
  assertStringIncludes(lines[0], mention);
}

test("hub cache: an ETag that is not a sha1/sha256 is refused before it names a file", async () => {
  const hostile: [string, string][] = [
    ["etag", '"../../../x"'],
    ["etag", 'W/"../../../../tmp/y"'],
    ["etag", '"abc123"'], // hex, but no hash: it would also switch the checksum off
    ["etag", `"${"g".repeat(40)}"`],
    ["x-linked-etag", '"../../../x"'],
    ["x-linked-etag", `"${"a".repeat(63)}"`],
  ];
  for (const [header, value] of hostile) {
    await sandbox(async (base, cache) => {
      const hub = startFakeHub([REPO], { tamper: (_p, h) => h.set(header, value) });
      try {
        await withEnv(
          { HF_ENDPOINT: hub.base, HF_HUB_CACHE: cache, HF_HUB_OFFLINE: undefined },
          async () => {
            // An LFS file's X-Linked-Etag outranks its ETag; it is the header named.
            const files = header === "etag"
              ? ["config.json"]
              : ["config.json", "model.safetensors"];
            const named = header === "etag" ? "ETag" : "X-Linked-Etag";
            for (const file of files) {
              await assertRejects(() => hubFile(ref, file, { quiet: true }), UserError, named);
            }
          },
        );
        assertEquals(tree(base).filter((p) => !p.startsWith("cache")), [], `${header}: ${value}`);
        assert(!tree(cache).some((p) => /(^|\/)x(\.lock)?$/.test(p)), tree(cache).join("\n"));
        assertEquals(hub.log.filter((r) => r.method === "GET").length, 0);
      } finally {
        await hub.close();
      }
    });
  }
  // The command: one line naming the header, exit 2, nothing beside the cache.
  await sandbox(async (base, cache) => {
    const hub = startFakeHub([REPO], { tamper: (_p, h) => h.set("etag", '"../../../x"') });
    try {
      const r = await fetchCli(["hf:org/tiny", "--quiet"], {
        HF_ENDPOINT: hub.base,
        HF_HUB_CACHE: cache,
      });
      assertOneLine(r, "ETag");
      assertEquals(tree(base).filter((p) => !p.startsWith("cache")), []);
    } finally {
      await hub.close();
    }
  });
});

test("hub cache: an X-Repo-Commit that is not 40 hex digits is refused before it names a folder", async () => {
  for (
    const value of ["../../../dir", "../../../../tmp/kd-dir", "main", "c".repeat(39), "C/../x"]
  ) {
    await sandbox(async (base, cache) => {
      // A file already where the hostile commit points must not be read as the snapshot.
      await Deno.mkdir(join(base, "dir"), { recursive: true });
      await Deno.writeTextFile(join(base, "dir", "config.json"), "planted");
      const hub = startFakeHub([REPO], { tamper: (_p, h) => h.set("x-repo-commit", value) });
      try {
        await withEnv(
          { HF_ENDPOINT: hub.base, HF_HUB_CACHE: cache, HF_HUB_OFFLINE: undefined },
          async () => {
            await assertRejects(
              () => hubFile(ref, "config.json", { quiet: true }),
              UserError,
              "X-Repo-Commit",
            );
          },
        );
        assertEquals(tree(base).filter((p) => !p.startsWith("cache")), [
          "dir",
          "dir/config.json",
        ]);
        assertEquals(tree(cache).filter((p) => p.includes("snapshots")), []);
      } finally {
        await hub.close();
      }
    });
  }
  await sandbox(async (base, cache) => {
    const hub = startFakeHub([REPO], {
      tamper: (_p, h) => h.set("x-repo-commit", "../../../dir"),
    });
    try {
      const r = await fetchCli(["hf:org/tiny", "--quiet"], {
        HF_ENDPOINT: hub.base,
        HF_HUB_CACHE: cache,
      });
      assertOneLine(r, "X-Repo-Commit");
      assertEquals(tree(base).filter((p) => !p.startsWith("cache")), []);
    } finally {
      await hub.close();
    }
  });
});

test("hub cache: a blob altered after download is caught by its hash, online and offline", async () => {
  await withFakeHub([REPO], async (hub, cache) => {
    const folder = join(cache, "models--org--tiny");
    const blob = (bytes: Uint8Array, lfs: boolean) =>
      join(folder, "blobs", lfs ? sha256(bytes) : gitSha1(bytes));
    const w = await hubFile(ref, "model.safetensors", { quiet: true });
    const c = await hubFile(ref, "config.json", { quiet: true });
    // The verification record lives beside blobs/, never in it (Python takes its files for blobs).
    assertEquals(tree(join(folder, "blobs")).length, 2);
    assertEquals(tree(join(folder, ".kd_verified")).length, 2);
    const junk = (n: number) => new Uint8Array(n).fill(7);
    for (const [bytes, lfs, got] of [[WEIGHTS, true, w], [CONFIG, false, c]] as const) {
      // Same size; the mtime is set apart explicitly so the test does not hang on the clock.
      const path = blob(bytes, lfs);
      const { mtime } = await Deno.stat(path);
      await Deno.writeFile(path, junk(bytes.length));
      const past = new Date(mtime!.getTime() - 10_000);
      await Deno.utime(path, past, past);
      await withEnv({ HF_HUB_OFFLINE: "1" }, async () => {
        const e = await assertRejects(
          () => hubFile(ref, lfs ? "model.safetensors" : "config.json", { quiet: true }),
          UserError,
          "does not match",
        );
        assertStringIncludes(e.message, path);
      });
      // Pinned to the commit (no request otherwise): still checked, and downloaded again.
      const gets = hub.log.filter((r) => r.method === "GET").length;
      const again = await hubFile(
        { ...ref, revision: COMMIT },
        lfs ? "model.safetensors" : "config.json",
        { quiet: true },
      );
      assertEquals(again?.path, got?.path);
      assertEquals(await Deno.readFile(again!.path), bytes);
      assert(hub.log.filter((r) => r.method === "GET").length > gets, "not downloaded again");
    }
    // Online through the branch as well.
    await Deno.writeFile(blob(WEIGHTS, true), junk(WEIGHTS.length));
    assertEquals(
      await Deno.readFile((await hubFile(ref, "model.safetensors", { quiet: true }))!.path),
      WEIGHTS,
    );
  });
});

test("hub cache: snapshot entries leading outside blobs/ are refused, never read or printed", async () => {
  await sandbox(async (base, cache) => {
    const secret = join(base, "passwd");
    await Deno.writeTextFile(secret, "root:x:0:0:SECRET-BYTES:/root:/bin/bash\n");
    const hub = startFakeHub([REPO]);
    const env = { HF_ENDPOINT: hub.base, HF_HUB_CACHE: cache, HF_HUB_OFFLINE: undefined };
    try {
      await withEnv(env, async () => {
        await hubFile(ref, "config.json", { quiet: true });
        await hubFile(ref, "model.safetensors", { quiet: true });
      });
      const snap = join(cache, "models--org--tiny", "snapshots", COMMIT);
      const other = join(cache, "models--org--other", "blobs");
      await Deno.mkdir(other, { recursive: true });
      await Deno.writeTextFile(join(other, gitSha1(CONFIG)), "{}");
      const targets = [
        secret, // absolute
        `../../../../passwd`, // relative, out of the cache
        join(other, gitSha1(CONFIG)), // another repository's blob
        "../../refs/main", // inside the repository, but not a blob
      ];
      for (const target of targets) {
        await Deno.remove(join(snap, "config.json"));
        await Deno.symlink(target, join(snap, "config.json"));
        for (const offline of ["1", ""]) {
          await withEnv({ ...env, HF_HUB_OFFLINE: offline }, async () => {
            for (const r of [ref, { ...ref, revision: COMMIT }]) {
              const e = await assertRejects(
                () => hubFile(r, "config.json", { quiet: true }),
                UserError,
                "outside",
              );
              assert(!e.message.includes("SECRET"), e.message);
            }
          });
        }
      }
      // A plain file in snapshots/ is what Python leaves without symlinks (or a dereferencing
      // copy does): used offline; online it is checked against the ETag and replaced if wrong.
      await Deno.remove(join(snap, "config.json"));
      await Deno.writeTextFile(join(snap, "config.json"), "{}");
      await withEnv({ ...env, HF_HUB_OFFLINE: "1" }, async () => {
        const plain = await hubFile(ref, "config.json", { quiet: true });
        assertEquals(await Deno.readTextFile(plain!.path), "{}");
      });
      await withEnv(env, async () => {
        const fixed = await hubFile(ref, "config.json", { quiet: true });
        assertEquals(await Deno.readFile(fixed!.path), CONFIG);
        assertEquals(await Deno.readLink(fixed!.path), `../../blobs/${gitSha1(CONFIG)}`);
      });
      // Newer huggingface_hub links blobs/<etag> into its marked cache-wide store: that is ours.
      const wBlob = join(cache, "models--org--tiny", "blobs", sha256(WEIGHTS));
      const xet = sha256(enc.encode("xet hash"));
      const store = join(cache, "blobs", xet.slice(0, 2));
      await Deno.mkdir(store, { recursive: true });
      await Deno.rename(wBlob, join(store, xet));
      await Deno.symlink(`../../blobs/${xet.slice(0, 2)}/${xet}`, wBlob);
      const offline = { ...env, HF_HUB_OFFLINE: "1" };
      await withEnv(offline, async () => {
        await assertRejects(() => hubFile(ref, "model.safetensors"), UserError, "outside");
        await Deno.writeTextFile(join(cache, "blobs", ".huggingface-shared-blobs"), "1\n");
        const w = await hubFile(ref, "model.safetensors", { quiet: true });
        assertEquals(await Deno.readFile(w!.path), WEIGHTS);
      });
      // A planted entry beside the fetched ones: loaders that read the folder by name are safe.
      await Deno.remove(join(snap, "config.json"));
      await Deno.symlink(`../../blobs/${gitSha1(CONFIG)}`, join(snap, "config.json"));
      await Deno.symlink(secret, join(snap, "preprocessor_config.json"));
      await withEnv(env, async () => {
        const e = await assertRejects(
          () => createModel("hf:org/tiny", { quiet: true }),
          UserError,
          "outside",
        );
        assert(!e.message.includes("SECRET"), e.message);
      });
      // The command: one line, no file bytes, nothing copied to --out.
      const out = join(base, "out");
      const r = await fetchCli(["hf:org/tiny", "--out", out], { ...env, HF_HUB_OFFLINE: "1" });
      assertOneLine(r, "preprocessor_config.json");
      assert(!r.stderr.includes("SECRET") && !r.stderr.includes("root:x"), r.stderr);
      assertEquals(tree(base).filter((p) => p.startsWith("out")), []);
    } finally {
      await hub.close();
    }
  });
});

test("hub cache: folders of the cache linked elsewhere are never written through", async () => {
  const links: [string, string][] = [
    ["blobs", "models--org--tiny/blobs"],
    [".locks", ".locks"],
    ["refs", "models--org--tiny/refs"],
    ["snapshots", "models--org--tiny/snapshots"],
    ["records", "models--org--tiny/.kd_verified"],
  ];
  for (const [what, rel] of links) {
    await sandbox(async (base, cache) => {
      const out = join(base, "elsewhere");
      await Deno.mkdir(out);
      await Deno.mkdir(join(cache, rel, ".."), { recursive: true });
      await Deno.symlink(out, join(cache, rel));
      await withFakeHub([REPO], async (_hub, _cache) => {
        await withEnv({ HF_HUB_CACHE: cache }, async () => {
          await assertRejects(
            async () => {
              await hubFile(ref, "config.json", { quiet: true });
              await hubFile(ref, "model.safetensors", { quiet: true });
            },
            UserError,
            "outside the cache",
          );
        });
      });
      assertEquals(tree(out), [], what);
    });
  }
});

test("hub cache: HF_TOKEN goes only to the hub's origin, never to a host a redirect names", async () => {
  await withEnv({ HF_ENDPOINT: "https://huggingface.co", HF_TOKEN: "hf_secret" }, () => {
    assert(isHubUrl("https://huggingface.co/org/m/resolve/main/config.json"));
    assert(!isHubUrl("https://huggingface.co.example.com/org/m"), "a prefix is not the hub");
    assert(!isHubUrl("http://huggingface.co/org/m"), "another scheme is another origin");
    assert(!isHubUrl("https://huggingface.co:8443/org/m"), "another port is another origin");
    assertEquals(hubHeaders("https://huggingface.co.example.com/x"), {});
    assertEquals(hubHeaders("https://huggingface.co/x"), { Authorization: "Bearer hf_secret" });
    return Promise.resolve();
  });
  // A protocol-relative (`//host/…`) or backslash (`/\host/…`) Location starts with a slash
  // but names another host: the HEAD must not follow it, and the token must not reach it.
  for (const prefix of ["//", "/\\"]) {
    const seen: { method: string; auth: string | null }[] = [];
    const other = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
      seen.push({ method: req.method, auth: req.headers.get("authorization") });
      return new Response("no", { status: 404 });
    });
    try {
      await withFakeHub([REPO], async () => {
        await withEnv({ HF_TOKEN: "hf_secret" }, async () => {
          await hubFile(ref, "model.safetensors", { quiet: true, retries: 0 }).catch(() => {});
        });
      }, {
        tamper: (_p, h) => {
          if (h.has("location")) h.set("location", `${prefix}127.0.0.1:${other.addr.port}/x`);
        },
      });
      assertEquals(seen.filter((r) => r.auth !== null), [], `${prefix}: the token left the hub`);
      // The download's GET may follow a redirect (fetch drops the token across origins); the
      // HEAD, which reads the hub's own headers, must not.
      assertEquals(seen.filter((r) => r.method === "HEAD"), [], `${prefix}: HEAD followed`);
    } finally {
      await other.shutdown();
    }
  }
});

test("hub cache: files fetched at a pinned commit that the server answers for another are refused", async () => {
  await sandbox(async (base, cache) => {
    const other = "d".repeat(40);
    const hub = startFakeHub([REPO], {
      tamper: (p, h) => p === "model.safetensors" && h.set("x-repo-commit", other),
    });
    try {
      await withEnv(
        { HF_ENDPOINT: hub.base, HF_HUB_CACHE: cache, HF_HUB_OFFLINE: undefined },
        async () => {
          const err = await assertRejects(
            () => hubFiles(ref, COMMIT, ["config.json", "model.safetensors"], { quiet: true }),
            UserError,
            `asked for commit ${COMMIT}`,
          );
          assertStringIncludes(err.message, other);
        },
      );
      assertEquals(tree(base).filter((p) => p.includes(other)), []);
    } finally {
      await hub.close();
    }
  });
});

test("hub cache: an API answer of the wrong shape is one clear error, not a TypeError", async () => {
  for (const body of ["null", "[]", `{"sha":"${COMMIT}","siblings":[null]}`, `{"sha":null}`]) {
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      () => new Response(body, { headers: { "content-type": "application/json" } }),
    );
    try {
      await sandbox((_base, cache) =>
        withEnv(
          {
            HF_ENDPOINT: `http://127.0.0.1:${server.addr.port}`,
            HF_HUB_CACHE: cache,
            HF_HUB_OFFLINE: undefined,
          },
          async () => {
            const got = await hubRepoFiles(parseRepo(`org/shape${body.length}`, "model"))
              .then((r) => r, (e) => e);
            if (body.includes("siblings")) {
              // A null entry is no file: the list is what remains.
              assertEquals((got as { files: string[] }).files, [], String(got));
            } else {
              assert(got instanceof UserError, `${body}: ${got}`);
              assertStringIncludes(got.message, '"sha"');
            }
          },
        )
      );
    } finally {
      await server.shutdown();
    }
  }
});

test("hub cache: a download longer than its announced X-Linked-Size is cut off and removed", async () => {
  await sandbox(async (base, cache) => {
    const hub = startFakeHub([REPO], {
      tamper: (p, h) => p === "model.safetensors" && h.set("x-linked-size", "1000"),
    });
    try {
      await withEnv(
        { HF_ENDPOINT: hub.base, HF_HUB_CACHE: cache, HF_HUB_OFFLINE: undefined },
        async () => {
          await assertRejects(
            () => hubFile(ref, "model.safetensors", { quiet: true, retries: 0 }),
            UserError,
            "more than the 1000 bytes it announced",
          );
        },
      );
      // Neither the blob nor a partial file is left; at most 1000 bytes were written.
      const blobs = tree(base).filter((p) => p.includes("/blobs/"));
      assertEquals(blobs, []);
      assert(hub.log.filter((r) => r.path.startsWith("/cdn/")).length > 0, "the CDN was asked");
    } finally {
      await hub.close();
    }
  });
});
