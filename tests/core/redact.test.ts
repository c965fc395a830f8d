import { test } from "../permissions.ts";
import { assert, assertEquals } from "@std/assert";
import { printable, redactSecrets, scrubError } from "../../lib/core/redact.ts";
import { withEnv } from "../net/hub_env.ts";

test("redact: tokens, Bearer credentials and JSON file excerpts never reach an error line", async () => {
  const hf = `hf_${"xY9".repeat(12)}`;
  await withEnv({ HF_TOKEN: "my-own-token-123" }, () => {
    const said = `401: {"authorization":"Bearer ${hf}","echo":"my-own-token-123"} ` +
      `basic=Basic dXNlcjpwYXNz token=${hf}`;
    const out = redactSecrets(`${said} short=hf_AbC123x`);
    assert(!out.includes("AbC123x"), out);
    for (const secret of [hf, "my-own-token-123", "dXNlcjpwYXNz", "xY9xY9"]) {
      assert(!out.includes(secret), out);
    }
    assert(out.includes("Bearer ***") && out.includes("401:"), out);
    // Ordinary words that only look alike survive: short hf_ names, file names.
    assertEquals(
      redactSecrets("lib/models/hf_checkpoint.ts: hf_hub_download"),
      "lib/models/hf_checkpoint.ts: hf_hub_download",
    );
    return Promise.resolve();
  });
  let err: Error;
  try {
    JSON.parse("root:x:0:0:root:/root:/bin/bash\n");
    throw new Error("unreachable");
  } catch (e) {
    err = e as Error;
  }
  const line = printable(`config.json: cannot read (${err.message})`);
  assert(!line.includes("root:x"), line);
  assert(line.includes("not valid JSON"), line);
  const bug = scrubError(new Error(`request with Bearer ${hf} failed`));
  assert(!bug.message.includes(hf) && !bug.stack!.includes(hf), bug.stack);
});
