import { test } from "../permissions.ts";
import { assert, assertEquals, assertRejects, assertStringIncludes } from "@std/assert";
import { join } from "node:path";
import { Buffer } from "node:buffer";
import { pushFolder } from "../../lib/export/push.ts";
import { exportModel } from "../../lib/export/export.ts";
import { sha256Hex } from "../../lib/core/hash.ts";
import { UserError } from "../../lib/core/errors.ts";
import { initBackend } from "../../lib/backend.ts";
import { MNV2_FIXTURE } from "./helpers.ts";

interface Recorded {
  method: string;
  path: string;
  auth: string | null;
  type: string | null;
  body: Uint8Array;
}

/**
 * A loopback stand-in for the hub's upload API that records every request: repo creation (409
 * when `exists`), preupload (files over 1 MB go to LFS), the LFS batch endpoint (upload and verify
 * actions pointing back here), the LFS PUT and verify, and the NDJSON commit.
 */
function fakeHub(opts: { exists?: boolean; commitStatus?: number; echo?: "commit" | "lfs" } = {}) {
  const log: Recorded[] = [];
  const stored = new Map<string, Uint8Array>();
  const server: Deno.HttpServer<Deno.NetAddr> = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen() {},
  }, async (req: Request): Promise<Response> => {
    const url = new URL(req.url);
    const body = new Uint8Array(await req.arrayBuffer());
    log.push({
      method: req.method,
      path: url.pathname,
      auth: req.headers.get("authorization"),
      type: req.headers.get("content-type"),
      body,
    });
    const json = () => JSON.parse(new TextDecoder().decode(body));
    const base: string = `http://127.0.0.1:${server.addr.port}`;
    if (url.pathname === "/api/repos/create") {
      return opts.exists
        ? Response.json({ error: "You already created this model repo" }, { status: 409 })
        : Response.json({ url: `${base}/org/student` });
    }
    if (url.pathname === "/api/models/org/student/preupload/main") {
      const files = json().files as { path: string; size: number }[];
      return Response.json({
        files: files.map((f) => ({
          path: f.path,
          uploadMode: f.size > 1e6 ? "lfs" : "regular",
          shouldIgnore: false,
        })),
      });
    }
    // A careless server that quotes the credentials it was sent back in its error.
    const echoed = `bad credentials: authorization=${req.headers.get("authorization")}, token ` +
      (req.headers.get("authorization") ?? "").replace(/^Bearer /, "");
    if (url.pathname === "/org/student.git/info/lfs/objects/batch") {
      const { objects } = json() as { objects: { oid: string; size: number }[] };
      if (opts.echo === "lfs") {
        return Response.json({
          objects: objects.map((o) => ({ ...o, error: { code: 403, message: echoed } })),
        });
      }
      return Response.json({
        transfer: "basic",
        objects: objects.map((o) => ({
          oid: o.oid,
          size: o.size,
          actions: {
            upload: { href: `${base}/lfs/${o.oid}`, header: { "x-upload-token": "t1" } },
            verify: { href: `${base}/lfs-verify`, header: { "x-verify-token": "t2" } },
          },
        })),
      });
    }
    if (url.pathname.startsWith("/lfs/") && req.method === "PUT") {
      stored.set(url.pathname.slice(5), body);
      return new Response(null, { status: 200 });
    }
    if (url.pathname === "/lfs-verify") return Response.json({ ok: true });
    if (url.pathname === "/api/models/org/student/commit/main") {
      if (opts.echo === "commit") return Response.json({ error: echoed }, { status: 401 });
      if (opts.commitStatus) return new Response("nope", { status: opts.commitStatus });
      return Response.json({ commitOid: "abc123", commitUrl: `${base}/org/student/commit/abc123` });
    }
    return new Response("not found", { status: 404 });
  });
  return {
    endpoint: `http://127.0.0.1:${server.addr.port}`,
    log,
    stored,
    close: () => server.shutdown(),
  };
}

async function exportFixture(dir: string): Promise<string> {
  await initBackend(undefined, { quiet: true });
  const out = join(dir, "hf");
  await exportModel({
    model: `hf-dir:${MNV2_FIXTURE}`,
    format: "hf",
    out,
    quiet: true,
    repoId: "org/student",
  });
  return out;
}

test("push: preupload, LFS upload + verify, then one NDJSON commit (loopback hub)", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "kd-push-" });
  const hub = fakeHub({ exists: true });
  try {
    const dir = await exportFixture(tmp);
    const r = await pushFolder({
      repoId: "org/student",
      dir,
      token: "hf_test",
      endpoint: hub.endpoint,
      quiet: true,
    });
    assertEquals(r.commit_oid, "abc123");
    assertEquals(
      hub.log.map((l) => `${l.method} ${l.path.replace(/[0-9a-f]{64}/, "OID")}`),
      [
        "POST /api/repos/create",
        "POST /api/models/org/student/preupload/main",
        "POST /org/student.git/info/lfs/objects/batch",
        "PUT /lfs/OID",
        "POST /lfs-verify",
        "POST /api/models/org/student/commit/main",
      ],
    );
    // Hub endpoints (verify included, as huggingface_hub does) get the token; the pre-signed
    // upload URL gets only the headers of its action.
    for (const l of hub.log) {
      assertEquals(l.auth, l.method === "PUT" ? null : "Bearer hf_test", l.path);
    }
    const weights = await Deno.readFile(join(dir, "model.safetensors"));
    const oid = sha256Hex(weights);
    assertEquals(hub.stored.get(oid), weights);
    const batch = JSON.parse(new TextDecoder().decode(hub.log[2].body));
    assertEquals(batch.operation, "upload");
    assertEquals(batch.objects, [{ oid, size: weights.length }]);
    const commit = hub.log[5];
    assertEquals(commit.type, "application/x-ndjson");
    const lines = new TextDecoder().decode(commit.body).trim().split("\n").map((l) =>
      JSON.parse(l)
    );
    assertEquals(lines[0].key, "header");
    assertStringIncludes(lines[0].value.summary, "kd-vision");
    const byPath = new Map(lines.slice(1).map((l) => [l.value.path, l]));
    assertEquals([...byPath.keys()].sort(), [
      "README.md",
      "config.json",
      "model.safetensors",
      "preprocessor_config.json",
    ]);
    assertEquals(byPath.get("model.safetensors")!.key, "lfsFile");
    assertEquals(byPath.get("model.safetensors")!.value, {
      path: "model.safetensors",
      algo: "sha256",
      oid,
      size: weights.length,
    });
    const config = byPath.get("config.json")!;
    assertEquals([config.key, config.value.encoding], ["file", "base64"]);
    assertEquals(
      Buffer.from(config.value.content, "base64").toString("utf8"),
      await Deno.readTextFile(join(dir, "config.json")),
    );
    assertStringIncludes(await Deno.readTextFile(join(dir, "README.md")), '"org/student"');
  } finally {
    await hub.close();
    await Deno.remove(tmp, { recursive: true });
  }
});

test("push: a refused commit is one clear error naming the request", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "kd-push-bad-" });
  const hub = fakeHub({ commitStatus: 403 });
  try {
    const dir = await exportFixture(tmp);
    await assertRejects(
      () =>
        pushFolder({ repoId: "org/student", dir, token: "x", endpoint: hub.endpoint, quiet: true }),
      UserError,
      "commit/main answered 403",
    );
    await assertRejects(
      () => pushFolder({ repoId: "not a repo", dir, token: "x", endpoint: hub.endpoint }),
      UserError,
      "ORG/NAME",
    );
  } finally {
    await hub.close();
    await Deno.remove(tmp, { recursive: true });
  }
});

test("deno task export --push: HF_ENDPOINT and HF_TOKEN are used; no token is exit 2", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "kd-push-cli-" });
  const hub = fakeHub();
  const cli = new URL("../../lib/cli/export.ts", import.meta.url).pathname;
  const run = (env: Record<string, string>, out: string) =>
    new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        cli,
        "--backend",
        "cpu",
        "--model",
        `hf-dir:${MNV2_FIXTURE}`,
        "--format",
        "hf",
        "--out",
        out,
        "--push",
        "org/student",
        "--json",
      ],
      env: { HF_ENDPOINT: hub.endpoint, ...env },
      stdout: "piped",
      stderr: "piped",
    }).output();
  try {
    const noToken = await run({ HF_TOKEN: "" }, join(tmp, "a"));
    assertEquals(noToken.code, 2);
    assertStringIncludes(new TextDecoder().decode(noToken.stderr), "HF_TOKEN");
    assertEquals(hub.log.length, 0);
    const ok = await run({ HF_TOKEN: "hf_cli" }, join(tmp, "b"));
    assert(ok.success, new TextDecoder().decode(ok.stderr));
    const result = JSON.parse(new TextDecoder().decode(ok.stdout));
    assertEquals(result.push.commit_oid, "abc123");
    assertEquals(hub.log.at(-1)!.auth, "Bearer hf_cli");
  } finally {
    await hub.close();
    await Deno.remove(tmp, { recursive: true });
  }
});

test("push: a server echoing the Authorization header never gets the token printed", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "kd-push-echo-" });
  const tokens = [`hf_${"Ab3".repeat(12)}`, "plain-secret-token-42"];
  try {
    const dir = await exportFixture(tmp);
    for (const echo of ["commit", "lfs"] as const) {
      const hub = fakeHub({ echo });
      try {
        for (const token of tokens) {
          const e = await assertRejects(
            () =>
              pushFolder({
                repoId: "org/student",
                dir,
                token,
                endpoint: hub.endpoint,
                quiet: true,
              }),
            UserError,
            "bad credentials",
          );
          assert(!e.message.includes(token), e.message);
          assert(!e.message.includes(token.slice(3, 20)), e.message);
        }
      } finally {
        await hub.close();
      }
    }
    // The command: the one error line is scrubbed too.
    const hub = fakeHub({ echo: "commit" });
    try {
      const cli = new URL("../../lib/cli/export.ts", import.meta.url).pathname;
      const out = await new Deno.Command(Deno.execPath(), {
        args: [
          ...["run", "-A", cli, "--backend", "cpu", "--model", `hf-dir:${MNV2_FIXTURE}`],
          ...["--format", "hf", "--out", join(tmp, "cli"), "--push", "org/student"],
        ],
        env: { NO_COLOR: "1", HF_ENDPOINT: hub.endpoint, HF_TOKEN: tokens[1] },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stderr = new TextDecoder().decode(out.stderr);
      assertEquals(out.code, 2, stderr);
      assertStringIncludes(stderr, "bad credentials");
      assert(!stderr.includes(tokens[1]) && !stderr.includes("Bearer plain"), stderr);
    } finally {
      await hub.close();
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
