import { ALL_GRANTED, test } from "../permissions.ts";
import { VALIDATION } from "../data/helpers.ts";
import { assert, assertEquals, assertRejects } from "@std/assert";
import { createHash } from "node:crypto";
import { DownloadError, downloadFile, sha256FromEtag } from "../../lib/net/download.ts";
import { serveBytes } from "./server.ts";

const FILE = ALL_GRANTED ? await Deno.readFile(VALIDATION) : new Uint8Array();
const SHA = createHash("sha256").update(FILE).digest("hex");
const FAST = { backoffMs: 5, quiet: true };

async function withTemp(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "kd-net-test-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function exists(p: string): boolean {
  try {
    Deno.statSync(p);
    return true;
  } catch {
    return false;
  }
}

test("downloads and verifies against an expected sha256; no .part left", async () => {
  const srv = serveBytes({ "/v.parquet": FILE });
  await withTemp(async (dir) => {
    const r = await downloadFile(`${srv.base}/v.parquet`, `${dir}/sub/v.parquet`, {
      ...FAST,
      sha256: SHA,
    });
    assertEquals([r.sha256, r.bytes, r.skipped], [SHA, FILE.length, false]);
    assertEquals(await Deno.readFile(`${dir}/sub/v.parquet`), FILE);
    assertEquals(exists(`${dir}/sub/v.parquet.part`), false);
    // Present and matching: not downloaded again.
    const again = await downloadFile(`${srv.base}/v.parquet`, `${dir}/sub/v.parquet`, {
      ...FAST,
      sha256: SHA,
    });
    assertEquals(again.skipped, true);
    assertEquals(srv.gets().length, 1);
  });
  await srv.close();
});

test("a connection dropped midway is resumed with an HTTP Range request", async () => {
  const half = Math.floor(FILE.length / 2);
  const srv = serveBytes({ "/v.parquet": FILE }, { dropAfter: half });
  await withTemp(async (dir) => {
    const r = await downloadFile(`${srv.base}/v.parquet`, `${dir}/v.parquet`, {
      ...FAST,
      sha256: SHA,
    });
    assertEquals(r.sha256, SHA);
    assertEquals(await Deno.readFile(`${dir}/v.parquet`), FILE);
    const gets = srv.gets();
    assertEquals(gets.length, 2);
    assertEquals(gets[0].range, null);
    // The first response was cut after `half` bytes; the retry asks for the rest only.
    assertEquals(gets[1].range, `bytes=${half}-`);
  });
  await srv.close();
});

test("a .part left by an earlier run is continued, and verified as a whole", async () => {
  const srv = serveBytes({ "/v.parquet": FILE });
  await withTemp(async (dir) => {
    await Deno.writeFile(`${dir}/v.parquet.part`, FILE.subarray(0, 1000));
    await downloadFile(`${srv.base}/v.parquet`, `${dir}/v.parquet`, { ...FAST, sha256: SHA });
    assertEquals(srv.gets()[0].range, "bytes=1000-");
    assertEquals(await Deno.readFile(`${dir}/v.parquet`), FILE);
  });
  await srv.close();
});

test("a server that ignores Range restarts from zero and still ends correct", async () => {
  const srv = serveBytes({ "/v.parquet": FILE }, { dropAfter: 100_000, noRange: true });
  await withTemp(async (dir) => {
    await downloadFile(`${srv.base}/v.parquet`, `${dir}/v.parquet`, { ...FAST, sha256: SHA });
    assertEquals(await Deno.readFile(`${dir}/v.parquet`), FILE);
  });
  await srv.close();
});

test("wrong checksum: fails, leaves neither the file nor a .part", async () => {
  const srv = serveBytes({ "/v.parquet": FILE });
  await withTemp(async (dir) => {
    const wrong = createHash("sha256").update("something else").digest("hex");
    const e = await assertRejects(
      () => downloadFile(`${srv.base}/v.parquet`, `${dir}/v.parquet`, { ...FAST, sha256: wrong }),
      DownloadError,
      "sha256 mismatch",
    );
    assertEquals((e as DownloadError).kind, "checksum");
    assertEquals(exists(`${dir}/v.parquet`), false);
    assertEquals(exists(`${dir}/v.parquet.part`), false);
  });
  await srv.close();
});

test("hub-style redirect: the X-Linked-Etag sha256 is used for verification", async () => {
  const wrong = "0".repeat(64);
  for (const [etag, ok] of [[SHA, true], [wrong, false]] as const) {
    const srv = serveBytes({ "/v.parquet": FILE }, { linkedEtag: etag });
    await withTemp(async (dir) => {
      const run = () => downloadFile(`${srv.base}/resolve/v.parquet`, `${dir}/v.parquet`, FAST);
      if (ok) assertEquals((await run()).sha256, SHA);
      else await assertRejects(run, DownloadError, `expected ${wrong}`);
      assertEquals(exists(`${dir}/v.parquet`), ok);
    });
    assert(srv.log.some((l) => l.method === "HEAD" && l.path === "/resolve/v.parquet"));
    await srv.close();
  }
});

test("404 fails at once; an unreachable server fails after the retries", async () => {
  const srv = serveBytes({});
  await withTemp(async (dir) => {
    const e = await assertRejects(
      () => downloadFile(`${srv.base}/missing`, `${dir}/m`, FAST),
      DownloadError,
      "404",
    );
    assertEquals((e as DownloadError).kind, "http");
    assertEquals(srv.gets().length, 1);
  });
  const port = new URL(srv.base).port;
  await srv.close();
  await withTemp(async (dir) => {
    const e = await assertRejects(
      () => downloadFile(`http://127.0.0.1:${port}/x`, `${dir}/x`, { ...FAST, retries: 1 }),
      DownloadError,
      "unreachable",
    );
    assertEquals((e as DownloadError).kind, "unreachable");
    assertEquals(exists(`${dir}/x`), false);
  });
});

test("sha256FromEtag accepts quoted and weak sha256 ETags only", () => {
  assertEquals(sha256FromEtag(`"${SHA}"`), SHA);
  assertEquals(sha256FromEtag(`W/"${SHA.toUpperCase()}"`), SHA);
  assertEquals(sha256FromEtag(`"abc123"`), undefined);
  assertEquals(sha256FromEtag(null), undefined);
});
