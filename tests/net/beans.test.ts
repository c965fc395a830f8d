import { BEANS_MINI_ROWS } from "../fixture_paths.ts";
import { ALL_GRANTED, test } from "../permissions.ts";
import { assert, assertEquals, assertRejects, assertStringIncludes } from "@std/assert";
import { messageWithHint, UserError } from "../../lib/core/errors.ts";
import { beansSplitFiles, isSplitShard } from "../../lib/net/beans.ts";
import { resolveSplit } from "../../lib/data/resolve.ts";
import { hubFileUrl } from "../../lib/net/hub.ts";
import { BEANS_DIR } from "../data/helpers.ts";
import { withEnv, withFakeHub } from "./hub_env.ts";

const VALIDATION = ALL_GRANTED
  ? await Deno.readFile(`${BEANS_DIR}/validation.parquet`)
  : new Uint8Array();
/** What to do, added by the command: --data only where it has the flag, KD_DATA everywhere. */
function assertDataHint(e: Error) {
  const withData = messageWithHint(e as UserError, ["data"]);
  const without = messageWithHint(e as UserError, []);
  assertStringIncludes(withData, "; pass --data DIR (or set KD_DATA)");
  assertStringIncludes(without, "; set KD_DATA");
  assert(!without.includes("--data"), without);
}

const BEANS = {
  type: "dataset" as const,
  repo: "AI-Lab-Makerere/beans",
  files: { "data/validation-00000-of-00001.parquet": VALIDATION },
};

test("beans: the default dataset comes from the HF cache (datasets--AI-Lab-Makerere--beans)", async () => {
  await withFakeHub([BEANS], async (hub, cache) => {
    await withEnv({ KD_DATA: undefined }, async () => {
      const src = await resolveSplit({ split: "validation", quiet: true });
      assertEquals(src.labels.length, BEANS_MINI_ROWS.validation);
      assert(src.files[0].startsWith(`${cache}/datasets--AI-Lab-Makerere--beans/snapshots/`));
      assertEquals(await Deno.readFile(src.files[0]), VALIDATION);
      // Offline, the cached copy serves; nothing is asked.
      const n = hub.log.length;
      await withEnv(
        { HF_HUB_OFFLINE: "1" },
        () => resolveSplit({ split: "validation", quiet: true }),
      );
      assertEquals(hub.log.length, n);
    });
    // A split the repository lacks names the ones it has.
    const e = await assertRejects(() => beansSplitFiles("train", { quiet: true }), UserError);
    assertStringIncludes(e.message, `no "train" split (it has: validation)`);
    assertDataHint(e);
  });
});

test("beans: offline with an empty cache, or hub unreachable, names --data where the command has it", async () => {
  await withFakeHub([BEANS], async (hub) => {
    await withEnv({ HF_HUB_OFFLINE: "1", KD_DATA: undefined }, async () => {
      const e = await assertRejects(() => resolveSplit({ split: "train" }), UserError);
      assertStringIncludes(e.message, "HF_HUB_OFFLINE");
      assertDataHint(e);
    });
    assertEquals(hub.log.length, 0);
  });
  const port = (() => {
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const p = (l.addr as Deno.NetAddr).port;
    l.close();
    return p;
  })();
  await withFakeHub([], async () => {
    await withEnv({ HF_ENDPOINT: `http://127.0.0.1:${port}` }, async () => {
      const e = await assertRejects(() => beansSplitFiles("train", { quiet: true }), UserError);
      assertStringIncludes(e.message, "unreachable");
      assertDataHint(e);
    });
  });
});

test("beans: shard names and URLs follow the hub layout", () => {
  assert(isSplitShard("data/train-00000-of-00001.parquet", "train"));
  assert(isSplitShard("validation-00001-of-00002.parquet", "validation"));
  assert(!isSplitShard("data/train-00000-of-00001.parquet", "test"));
  assertEquals(
    hubFileUrl("AI-Lab-Makerere/beans", "README.md", { type: "dataset", revision: "abc" }).endsWith(
      "/datasets/AI-Lab-Makerere/beans/resolve/abc/README.md",
    ),
    true,
  );
});
