/** lib/core/project.ts: default output folders, in a checkout and when imported from a URL. */
import { assertEquals } from "@std/assert";
import { fileURLToPath } from "node:url";
import { test } from "../permissions.ts";
import { defaultCacheDir, projectPath, projectRoot } from "../../lib/core/project.ts";
import { cacheDir } from "../../lib/data/image_cache.ts";
import { withEnv } from "../net/hub_env.ts";

test("defaults live in the checkout; imported from a URL, in the user's cache folder", async () => {
  const repo = fileURLToPath(new URL("../../", import.meta.url)).replace(/\/$/, "");
  assertEquals(projectRoot(), repo);
  // Decoded: a checkout in "My Projects" is not "My%20Projects".
  assertEquals(projectRoot(new URL("file:///home/u/My%20Projects/kd/")), "/home/u/My Projects/kd");
  const jsr = new URL("https://jsr.io/@kd/vision/0.1.0/");
  await withEnv({ XDG_CACHE_HOME: "/x", HOME: "/home/u" }, () => {
    // Before: new URL("../../data/cache", url).pathname was "/data/cache", at the root.
    assertEquals(projectPath("data/cache", jsr), "/x/kd-vision/data/cache");
    return Promise.resolve();
  });
  await withEnv({ XDG_CACHE_HOME: undefined, HOME: "/home/u" }, () => {
    assertEquals(projectRoot(jsr), "/home/u/.cache/kd-vision");
    return Promise.resolve();
  });
  await withEnv({ KD_CACHE_DIR: "/c" }, () => {
    assertEquals([defaultCacheDir(), cacheDir()], ["/c", "/c"]);
    return Promise.resolve();
  });
  await withEnv({ KD_CACHE_DIR: undefined }, () => {
    assertEquals(cacheDir(), `${repo}/data/cache`);
    return Promise.resolve();
  });
});
