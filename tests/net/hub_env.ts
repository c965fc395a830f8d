/** Running code against the fake hub with a fresh, private Hugging Face cache. */
import { type FakeRepo, startFakeHub } from "./fake_hub.ts";

const VARS = ["HF_ENDPOINT", "HF_HUB_CACHE", "HF_HOME", "HF_HUB_OFFLINE", "HF_TOKEN"];

/** Set env vars (undefined deletes) for the duration of `fn`, then restore them. */
export async function withEnv<T>(
  vars: Record<string, string | undefined>,
  fn: () => Promise<T>,
): Promise<T> {
  const old = Object.fromEntries(Object.keys(vars).map((k) => [k, Deno.env.get(k)]));
  const set = (v: Record<string, string | undefined>) => {
    for (const [k, x] of Object.entries(v)) {
      x === undefined ? Deno.env.delete(k) : Deno.env.set(k, x);
    }
  };
  set(vars);
  try {
    return await fn();
  } finally {
    set(old);
  }
}

/** Serve `repos`, point HF_ENDPOINT at them and HF_HUB_CACHE at a new temp folder, run `fn`. */
export async function withFakeHub<T>(
  repos: FakeRepo[],
  fn: (hub: ReturnType<typeof startFakeHub>, cache: string) => Promise<T>,
  opts: Parameters<typeof startFakeHub>[1] = {},
): Promise<T> {
  const hub = startFakeHub(repos, opts);
  const cache = await Deno.makeTempDir({ prefix: "kd-hf-cache-" });
  try {
    const vars = Object.fromEntries(VARS.map((k) => [k, undefined])) as Record<
      string,
      string | undefined
    >;
    return await withEnv(
      { ...vars, HF_ENDPOINT: hub.base, HF_HUB_CACHE: cache },
      () => fn(hub, cache),
    );
  } finally {
    await hub.close();
    await Deno.remove(cache, { recursive: true });
  }
}
