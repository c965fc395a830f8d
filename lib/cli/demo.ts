/**
 * `deno task demo [--model DIR] [--port N] [--host 127.0.0.1]`: serve the browser demo (the
 * student classifying a dropped, picked or bundled sample leaf with TensorFlow.js) until
 * interrupted. `--headless` instead drives it once in headless Chromium: it classifies the
 * bundled samples, times inference, writes `browser_latency.json` into a tfjs export folder
 * (read by `deno task bench tradeoff --web DIR`), and with `--screenshot FILE` saves a PNG.
 * @module
 */
import { join } from "node:path";
import { UserError } from "../core/errors.ts";
import { intFlag } from "./flags.ts";
import { runCommand } from "./command.ts";
import { DEMO_HOST, startDemoServer } from "../export/demo_server.ts";
import { prepareDemoModel } from "../export/demo_model.ts";
import { type DemoCheck, runDemoHeadless } from "../export/demo_check.ts";
import { findChromium, noChromiumMessage } from "../core/chromium.ts";

const USAGE = `usage: deno task demo [--model DIR|RUN_DIR|SPEC] [--port N] [--host ${DEMO_HOST}]
                      [--backend NAME] [--quiet]
       deno task demo --headless [--model ...] [--web-backend wasm|webgl] [--runs N]
                      [--screenshot FILE.png] [--backend NAME] [--quiet] [--json]

  --model        a tfjs export folder (deno task export --format tfjs), or a run directory or
                 model spec (exported to a temporary tfjs folder first); default: the newest
                 run under runs/
  --port         port on ${DEMO_HOST} (default: a free one)
  --headless     classify the bundled samples in headless Chromium, report predictions and the
                 median inference time; a tfjs export folder gets browser_latency.json
  --web-backend  tfjs backend in the page for --headless (default wasm)
  --backend      the toolkit's backend, for exporting a run or spec to tfjs first
  --quiet        no progress lines while exporting`;

if (import.meta.main) {
  await runCommand<DemoCheck | { url: string }>({
    usage: USAGE,
    string: ["model", "port", "host", "web-backend", "runs", "screenshot"],
    boolean: ["headless", "quiet"],
    json: true,
    backend: true,
    async run(f, ctx) {
      const port = intFlag("port", f.port);
      const host = (f.host as string | undefined) ?? DEMO_HOST;
      if (host !== DEMO_HOST) {
        throw new UserError(`--host must be ${DEMO_HOST}: the demo binds to loopback only`);
      }
      if (!f.headless) {
        for (const flag of ["web-backend", "runs", "screenshot"]) {
          if (f[flag] !== undefined) throw new UserError(`--${flag} needs --headless`);
        }
      }
      const runs = intFlag("runs", f.runs);
      if (runs !== undefined && runs < 1) throw new UserError(`--runs must be ≥ 1, got ${runs}`);
      if (f.headless && !findChromium()) throw new UserError(noChromiumMessage());
      const model = await prepareDemoModel(f.model as string | undefined, {
        quiet: (f.quiet as boolean) || ctx.json,
      });
      try {
        if (f.headless) {
          return await runDemoHeadless({
            modelDir: model.dir,
            webBackend: f["web-backend"] as string | undefined,
            runs,
            port,
            screenshot: f.screenshot as string | undefined,
            latencyOut: model.temporary ? undefined : join(model.dir, "browser_latency.json"),
          });
        }
        const server = await startDemoServer({ modelDir: model.dir, port, host });
        console.log(`demo of ${model.source}: ${server.url} (Ctrl-C to stop)`);
        await new Promise<void>((resolve) => {
          const stop = () => resolve();
          Deno.addSignalListener("SIGINT", stop);
          Deno.addSignalListener("SIGTERM", stop);
        });
        await server.close();
        return { url: server.url };
      } finally {
        await model.cleanup();
      }
    },
    print(r) {
      if (!("predictions" in r)) return;
      console.log(`headless demo (${r.backend} backend in Chromium):`);
      for (const p of r.predictions) {
        console.log(
          `  ${p.file.padEnd(24)} → ${p.class_name.padEnd(18)} ${
            (100 * p.probabilities[p.predicted]).toFixed(1).padStart(5)
          }%  (${
            p.pixel_mismatches === 0
              ? "pixels identical to the toolkit's"
              : `${p.pixel_mismatches} pixel bytes differ from the toolkit's`
          })`,
        );
      }
      console.log(
        `  inference: median ${
          r.latency.median_ms.toFixed(2)
        } ms over ${r.latency.runs} runs at ${r.latency.image_size} px`,
      );
    },
  });
}
