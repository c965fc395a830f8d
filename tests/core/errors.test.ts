import { test } from "../permissions.ts";
import { assertEquals } from "@std/assert";
import { hintedError, messageWithHint, UserError } from "../../lib/core/errors.ts";
import { specFlags, userFacingMessage } from "../../lib/cli/command.ts";

test("a flag's hint is shown only by commands with that flag, else its fallback", () => {
  const hint = { flag: "data", text: "pass --data DIR", otherwise: "set KD_DATA" };
  const e = new UserError("no beans", { hint });
  assertEquals(e.message, "no beans"); // library callers never see a flag
  assertEquals(messageWithHint(e, ["data", "json"]), "no beans; pass --data DIR");
  assertEquals(messageWithHint(e, ["json"]), "no beans; set KD_DATA");
  const bare = new UserError("bad row", { hint: { flag: "skip-bad-images", text: "skip it" } });
  assertEquals(messageWithHint(bare, []), "bad row");

  const spec = { usage: "", string: ["data"], boolean: ["quiet"], json: true, run: () => {} };
  assertEquals(specFlags(spec), ["data", "quiet", "help", "json"]);
  assertEquals(userFacingMessage(e, specFlags(spec)), "no beans; pass --data DIR");
  assertEquals(userFacingMessage(e), "no beans; set KD_DATA");
});

test("hintedError appends text hints and attaches flag hints", () => {
  assertEquals(hintedError("x", "fetch it first").message, "x; fetch it first");
  assertEquals(hintedError("x").message, "x");
  const e = hintedError("x", { flag: "labels", text: "use --labels" });
  assertEquals([e.message, e.hint?.flag], ["x", "labels"]);
});
