import { assertEquals, assertRejects } from "@std/assert";
import { UserError } from "../../lib/core/errors.ts";
import { beansUrl, ensureBeans } from "../../lib/net/beans.ts";
import { hubFileUrl } from "../../lib/net/hub.ts";
import { serveBytes } from "./server.ts";

const SHARED = Deno.env.get("KD_SHARED") ?? new URL("../../../shared/", import.meta.url).pathname;

async function withEndpoint<T>(endpoint: string, fn: () => Promise<T>): Promise<T> {
  const old = Deno.env.get("HF_ENDPOINT");
  Deno.env.set("HF_ENDPOINT", endpoint);
  try {
    return await fn();
  } finally {
    if (old === undefined) Deno.env.delete("HF_ENDPOINT");
    else Deno.env.set("HF_ENDPOINT", old);
  }
}

Deno.test("beans URLs follow the hub layout and honour HF_ENDPOINT", async () => {
  const url = await withEndpoint(
    "http://mirror.example/",
    () => Promise.resolve(beansUrl("train")),
  );
  assertEquals(
    url,
    "http://mirror.example/datasets/AI-Lab-Makerere/beans/resolve/main/data/train-00000-of-00001.parquet",
  );
});

Deno.test("ensureBeans downloads missing splits from the endpoint into <dir>/<split>.parquet", async () => {
  const bytes = await Deno.readFile(`${SHARED}datasets/beans/validation.parquet`);
  const path =
    "/datasets/AI-Lab-Makerere/beans/resolve/main/data/validation-00000-of-00001.parquet";
  const srv = serveBytes({ [path]: bytes });
  const dir = await Deno.makeTempDir();
  try {
    const files = await withEndpoint(
      srv.base,
      () => ensureBeans(dir, ["validation", "nonsense"], { quiet: true }),
    );
    assertEquals(files, [`${dir}/validation.parquet`]);
    assertEquals(await Deno.readFile(`${dir}/validation.parquet`), bytes);
    // Already there: nothing requested.
    const before = srv.log.length;
    await withEndpoint(srv.base, () => ensureBeans(dir, ["validation"], { quiet: true }));
    assertEquals(srv.log.length, before);
  } finally {
    await srv.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("hub unreachable: one UserError that says to pass --data DIR", async () => {
  const srv = serveBytes({});
  const port = new URL(srv.base).port;
  await srv.close();
  const dir = await Deno.makeTempDir();
  try {
    await assertRejects(
      () =>
        withEndpoint(
          `http://127.0.0.1:${port}`,
          () => ensureBeans(dir, ["train"], { quiet: true }),
        ),
      UserError,
      "--data DIR",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("hubFileUrl builds model and dataset URLs", async () => {
  const urls = await withEndpoint("https://hf-mirror.example", () =>
    Promise.resolve([
      hubFileUrl("google/vit-base-patch16-224", "config.json"),
      hubFileUrl("AI-Lab-Makerere/beans", "README.md", { type: "dataset", revision: "abc" }),
    ]));
  assertEquals(urls, [
    "https://hf-mirror.example/google/vit-base-patch16-224/resolve/main/config.json",
    "https://hf-mirror.example/datasets/AI-Lab-Makerere/beans/resolve/abc/README.md",
  ]);
});
