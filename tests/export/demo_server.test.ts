/**
 * The demo server's trust boundary (lib/export/demo_server.ts): only regular files that resolve
 * into its own folders are served, and names that are properties of every JavaScript object
 * (`constructor`, `toString`, `__proto__`) are unknown files like any other.
 */
import { test } from "../permissions.ts";
import { assert, assertEquals } from "@std/assert";
import { join } from "node:path";
import { startDemoServer } from "../../lib/export/demo_server.ts";

test({
  name: "demo server: symlinks out of the model folder and prototype names are 404, never 500",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const tmp = await Deno.makeTempDir({ prefix: "kd-demo-trust-" });
    const web = join(tmp, "web");
    await Deno.mkdir(web);
    await Deno.mkdir(join(tmp, "elsewhere"));
    const secret = "root:x:0:0:SECRET-BYTES";
    await Deno.writeTextFile(join(tmp, "passwd"), secret);
    await Deno.writeTextFile(join(tmp, "elsewhere", "weights.bin"), secret);
    // The least model.json the server starts with (it checks the demo's fields up front).
    const modelJson = '{"modelTopology":{},"userDefinedMetadata":{"preprocessing":{"size":32}}}';
    await Deno.writeTextFile(join(web, "model.json"), modelJson);
    await Deno.symlink(join(tmp, "passwd"), join(web, "passwd")); // absolute
    await Deno.symlink("../elsewhere/weights.bin", join(web, "group1-shard1of1.bin")); // relative
    await Deno.symlink("/etc", join(web, "etc")); // a folder
    await Deno.symlink("model.json", join(web, "alias.json")); // inside: still served
    // Errors the server logs (a stack trace there was the reported symptom) are collected.
    const logged: string[] = [];
    const error = console.error;
    console.error = (...a: unknown[]) => logged.push(a.join(" "));
    const server = await startDemoServer({ modelDir: web });
    try {
      const get = async (path: string) => {
        const r = await fetch(new URL(path, server.url));
        return { status: r.status, body: await r.text() };
      };
      assertEquals((await get("/model/model.json")).status, 200);
      assertEquals((await get("/model/alias.json")).body, modelJson);
      const bad = [
        "/model/passwd",
        "/model/group1-shard1of1.bin",
        "/model/etc",
        "/model/nothing.json",
      ];
      for (const dir of ["vendor", "samples", "model"]) {
        for (const name of ["constructor", "toString", "__proto__", "hasOwnProperty", "valueOf"]) {
          bad.push(`/${dir}/${name}`);
        }
      }
      for (const path of bad) {
        const r = await get(path);
        assertEquals(r.status, 404, path);
        assert(!r.body.includes("SECRET"), path);
      }
      assertEquals(logged, []);
    } finally {
      console.error = error;
      await server.close();
      await Deno.remove(tmp, { recursive: true });
    }
  },
});
