/**
 * A minimal Chrome DevTools Protocol driver for headless Chromium: open one page, evaluate
 * expressions in it (awaiting promises), take a screenshot, and collect what the page logged.
 * Hand-written because the usual drivers (puppeteer, playwright) download their own browser,
 * which is neither possible nor wanted here: Debian's Chromium speaks the same protocol over a
 * WebSocket that Deno has built in.
 * @module
 */
import {
  chromiumError,
  chromiumHome,
  chromiumReason,
  findChromium,
  headlessArgs,
  noChromiumMessage,
  spawnChromium,
} from "../core/chromium.ts";
import { UserError } from "../core/errors.ts";
import { decodeBase64 } from "../core/base64.ts";

/** An open page. */
export interface HeadlessPage {
  /** Evaluate `expression` in the page (promises awaited) and return its JSON value. */
  evaluate<T = unknown>(expression: string): Promise<T>;
  /** PNG of the viewport. */
  screenshot(): Promise<Uint8Array>;
  /** Console messages and uncaught exceptions so far. */
  log: string[];
  /** The browser's user agent. */
  userAgent: string;
}

/** Options of {@linkcode withHeadlessPage}. */
export interface HeadlessOptions {
  chromium?: string;
  width?: number;
  height?: number;
  /** Give up after this long in total (default 120 s). */
  timeoutMs?: number;
  /** Extra Chromium flags. */
  args?: string[];
}

async function devtoolsUrl(
  chromium: string,
  stderr: ReadableStream<Uint8Array>,
  seen: string[],
): Promise<string> {
  const reader = stderr.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  while (true) {
    const { value, done } = await reader.read();
    if (done) {
      throw chromiumError(
        chromium,
        "exited before DevTools started",
        chromiumReason([...seen, buf].join("\n")),
      );
    }
    buf += value;
    const lines = buf.split("\n");
    buf = lines.pop()!;
    for (const l of lines) {
      seen.push(l);
      const m = /DevTools listening on (ws:\/\/\S+)/.exec(l);
      if (m) {
        // Keep draining stderr so Chromium never blocks on a full pipe.
        (async () => {
          try {
            while (!(await reader.read()).done) { /* discard */ }
          } catch { /* closed */ }
        })();
        return m[1];
      }
    }
  }
}

/** Run `fn` with `url` open in a fresh headless Chromium; the browser is always cleaned up. */
export async function withHeadlessPage<T>(
  url: string,
  fn: (page: HeadlessPage) => Promise<T>,
  opts: HeadlessOptions = {},
): Promise<T> {
  const chromium = opts.chromium ?? findChromium();
  if (!chromium) throw new UserError(noChromiumMessage());
  const home = await chromiumHome();
  let child: Deno.ChildProcess;
  try {
    child = spawnChromium(chromium, [
      ...headlessArgs(home.profile),
      "--remote-debugging-port=0",
      `--window-size=${opts.width ?? 1000},${opts.height ?? 700}`,
      ...(opts.args ?? []),
      "about:blank",
    ], home);
  } catch (e) {
    await home.remove();
    throw e;
  }
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  }, opts.timeoutMs ?? 120_000);
  let ws: WebSocket | null = null;
  const stderrLines: string[] = [];
  try {
    const browserWs = await devtoolsUrl(chromium, child.stderr, stderrLines);
    const base = browserWs.replace(/^ws:\/\//, "http://").replace(/\/devtools\/.*$/, "");
    let targets: { type: string; webSocketDebuggerUrl: string }[];
    try {
      targets = await (await fetch(`${base}/json/list`)).json();
    } catch (e) {
      throw chromiumError(chromium, "stopped answering DevTools", (e as Error).message);
    }
    const target = targets.find((t) => t.type === "page");
    if (!target) throw chromiumError(chromium, "opened no page", "");
    ws = new WebSocket(target.webSocketDebuggerUrl);
    await new Promise((res, rej) => {
      ws!.onopen = res;
      ws!.onerror = () => rej(chromiumError(chromium, "refused the DevTools WebSocket", ""));
    });
    let nextId = 1;
    const pending = new Map<number, { res: (v: unknown) => void; rej: (e: Error) => void }>();
    const log: string[] = [];
    ws.onmessage = (ev) => {
      const msg = JSON.parse(ev.data as string);
      if (msg.id !== undefined) {
        const p = pending.get(msg.id);
        pending.delete(msg.id);
        if (msg.error) p?.rej(new Error(`DevTools: ${msg.error.message}`));
        else p?.res(msg.result);
      } else if (msg.method === "Runtime.consoleAPICalled") {
        log.push(
          `${msg.params.type}: ${
            msg.params.args.map((a: { value?: unknown; description?: string }) =>
              a.value ?? a.description
            ).join(" ")
          }`,
        );
      } else if (msg.method === "Runtime.exceptionThrown") {
        const d = msg.params.exceptionDetails;
        log.push(`exception: ${d.exception?.description ?? d.text}`);
      }
    };
    ws.onclose = () => {
      for (const p of pending.values()) p.rej(new Error("the DevTools connection closed"));
      pending.clear();
    };
    const send = (method: string, params: Record<string, unknown> = {}) =>
      new Promise<Record<string, unknown>>((res, rej) => {
        const id = nextId++;
        pending.set(id, { res: res as (v: unknown) => void, rej });
        ws!.send(JSON.stringify({ id, method, params }));
      });
    await send("Runtime.enable");
    await send("Page.enable");
    // The window size is not the viewport in new headless mode; pin the viewport itself.
    await send("Emulation.setDeviceMetricsOverride", {
      width: opts.width ?? 1000,
      height: opts.height ?? 700,
      deviceScaleFactor: 1,
      mobile: false,
    });
    const version = await send("Runtime.evaluate", {
      expression: "navigator.userAgent",
      returnByValue: true,
    }) as { result: { value: string } };
    await send("Page.navigate", { url });
    const page: HeadlessPage = {
      log,
      userAgent: version.result.value,
      async evaluate<R>(expression: string): Promise<R> {
        const r = await send("Runtime.evaluate", {
          expression,
          awaitPromise: true,
          returnByValue: true,
        }) as {
          result: { value?: unknown };
          exceptionDetails?: { text: string; exception?: { description?: string } };
        };
        if (r.exceptionDetails) {
          const d = r.exceptionDetails;
          throw new Error(`in the page: ${d.exception?.description ?? d.text}`);
        }
        return r.result.value as R;
      },
      async screenshot() {
        const r = await send("Page.captureScreenshot", { format: "png" }) as { data: string };
        return decodeBase64(r.data);
      },
    };
    return await fn(page);
  } finally {
    clearTimeout(timer);
    try {
      ws?.close();
    } catch { /* closed */ }
    try {
      child.kill("SIGTERM");
    } catch { /* gone */ }
    await child.status;
    await home.remove();
  }
}
