import { ALL_GRANTED, test } from "../permissions.ts";
import { assert, assertEquals, assertRejects } from "@std/assert";
import { join } from "node:path";
import { exportModel } from "../../lib/export/export.ts";
import { demoSamples, runDemoHeadless } from "../../lib/export/demo_check.ts";
import { startDemoServer } from "../../lib/export/demo_server.ts";
import { measureModel } from "../../lib/export/tradeoff.ts";
import { createModel } from "../../lib/models/registry.ts";
import { loadSplit } from "../../lib/data/dataset.ts";
import { subsetSplit } from "../../lib/data/subset.ts";
import { predictLogits } from "../../lib/predict.ts";
import { evaluateModel } from "../../lib/evaluate.ts";
import { findChromium } from "../../lib/core/chromium.ts";
import { UserError } from "../../lib/core/errors.ts";
import { TEST_DATA } from "../helpers.ts";
import { MNV2_FIXTURE, trainTinyStudent } from "./helpers.ts";

const chromium = ALL_GRANTED ? findChromium() : undefined;
if (ALL_GRANTED && !chromium) {
  console.error(
    "skipping the browser demo test: chromium is not installed (apt-get install chromium)",
  );
}

test({
  name: "demo in headless Chromium classifies validation leaves exactly like the toolkit",
  ignore: !chromium,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const tmp = await Deno.makeTempDir({ prefix: "kd-demo-test-" });
    try {
      const run = await trainTinyStudent(tmp);
      const web = join(tmp, "web");
      await exportModel({ model: run, format: "tfjs", out: web, quiet: true });
      const latencyOut = join(web, "browser_latency.json");
      const check = await runDemoHeadless({ modelDir: web, runs: 5, latencyOut });
      assertEquals(check.backend, "wasm");

      // The toolkit's own pipeline (what `deno task eval` runs) on the same validation rows.
      const model = await createModel(`dir:${join(run, "best")}`);
      const full = await loadSplit({
        data: TEST_DATA,
        split: "validation",
        preprocess: model.input,
        quiet: true,
      });
      const { samples } = await demoSamples();
      // The committed subset holds the three sample rows; find them by their file path.
      const split = subsetSplit(full, samples.map((s) => full.ids.indexOf(s.image_file_path)));
      assertEquals(split.ids, samples.map((s) => s.image_file_path));
      assertEquals(Array.from(split.labels), samples.map((s) => s.label));
      const logits = await predictLogits(model, split, { quiet: true });
      model.dispose();
      // What `deno task eval` predicts for the same images.
      const evaluation = await evaluateModel({
        model: run,
        data: TEST_DATA,
        split: "validation",
        quiet: true,
      });
      const evalPrediction = (id: string) => evaluation.predictions[evaluation.ids.indexOf(id)];

      assertEquals(check.predictions.length, 3);
      for (const [i, p] of check.predictions.entries()) {
        assertEquals(p.pixel_mismatches, 0, `${p.file}: the page prepared other pixels`);
        const ours = Array.from(logits.subarray(3 * i, 3 * i + 3));
        const diff = Math.max(...ours.map((v, j) => Math.abs(v - p.logits[j])));
        assert(diff <= 1e-4, `${p.file}: browser logits differ by ${diff}`);
        assertEquals(p.predicted, ours.indexOf(Math.max(...ours)), p.file);
        assertEquals(p.predicted, evalPrediction(samples[i].image_file_path), p.file);
      }
      // The model's outputs depend on the image, so equal predictions are not a given.
      const spread = Math.max(
        ...check.predictions.map((p) => Math.abs(p.logits[0] - check.predictions[0].logits[0])),
      );
      assert(spread > 1e-3);

      // The recorded browser latency is what the trade-off table reads for this export.
      const recorded = JSON.parse(await Deno.readTextFile(latencyOut));
      assert(recorded.median_ms > 0 && recorded.runs === 5 && recorded.image_size === 32);
      const row = await measureModel(run, {
        role: "student",
        web,
        minRuns: 1,
        minSeconds: 0,
        quiet: true,
      });
      assertEquals([row.browser_ms, row.browser_backend], [recorded.median_ms, "wasm"]);
      assert(row.web_bytes! > 1e6);

      // The same through the command line: --json prints only the result.
      const cli = await new Deno.Command(Deno.execPath(), {
        args: ["task", "-q", "demo", "--headless", "--model", web, "--runs", "2", "--json"],
        cwd: new URL("../../", import.meta.url).pathname,
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert(cli.success, new TextDecoder().decode(cli.stderr));
      const out = JSON.parse(new TextDecoder().decode(cli.stdout));
      assertEquals(
        out.predictions.map((p: { predicted: number }) => p.predicted),
        check.predictions.map((p) => p.predicted),
      );
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});

test({
  name: "demo server: loopback only, serves tfjs from node_modules, nothing outside its folders",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const tmp = await Deno.makeTempDir({ prefix: "kd-demo-server-" });
    try {
      const web = join(tmp, "web");
      await exportModel({ model: `hf-dir:${MNV2_FIXTURE}`, format: "tfjs", out: web, quiet: true });
      await assertRejects(
        () => startDemoServer({ modelDir: web, host: "0.0.0.0" }),
        UserError,
        "127.0.0.1",
      );
      await assertRejects(() => startDemoServer({ modelDir: tmp }), UserError, "no model.json");
      // A model.json that is no export of ours: one error here, not an exception in the page.
      const broken = join(tmp, "broken");
      await Deno.mkdir(broken);
      for (const body of ["null", "{garb", '{"modelTopology":{}}']) {
        await Deno.writeTextFile(join(broken, "model.json"), body);
        await assertRejects(
          () => startDemoServer({ modelDir: broken }),
          UserError,
          `${join(broken, "model.json")}: `,
        );
      }
      const server = await startDemoServer({ modelDir: web });
      try {
        assert(server.url.startsWith("http://127.0.0.1:"));
        const get = async (path: string) => {
          const r = await fetch(new URL(path, server.url));
          const body = new Uint8Array(await r.arrayBuffer());
          return { status: r.status, type: r.headers.get("content-type"), body };
        };
        const page = await get("/");
        assertEquals(page.status, 200);
        const html = new TextDecoder().decode(page.body);
        assert(!/(src|href)=["']https?:/.test(html), "the page loads something from the network");
        assertEquals((await get("/vendor/tf.min.js")).status, 200);
        assertEquals((await get("/vendor/tfjs-backend-wasm-simd.wasm")).type, "application/wasm");
        const app = new TextDecoder().decode((await get("/app.js")).body);
        assert(app.includes("PRECISION_BITS"), "the page script bundles the toolkit's PIL resize");
        assertEquals((await get("/model/model.json")).status, 200);
        assertEquals((await get("/samples/samples.json")).status, 200);
        for (const bad of ["/model/..%2Fweb%2Fmodel.json", "/model/../deno.json", "/vendor/x.js"]) {
          assertEquals((await get(bad)).status, 404, bad);
        }
      } finally {
        await server.close();
      }
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});
