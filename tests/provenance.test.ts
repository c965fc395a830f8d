import { assert, assertEquals } from "@std/assert";
import { cpuSignature, cpuSignatureOf, runEnvironment } from "../lib/provenance.ts";

/** Two processors of a /proc/cpuinfo as Linux prints it (fields tab-aligned, flags on one line). */
const INTEL = [0, 1].map((p) =>
  [
    `processor\t: ${p}`,
    "vendor_id\t: GenuineIntel",
    "cpu family\t: 6",
    "model\t\t: 143",
    "model name\t: Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz",
    "stepping\t: 8",
    "flags\t\t: fpu sse sse4_2 avx avx2 avx512f avx512bw avx512_bf16 amx_tile",
  ].join("\n")
).join("\n\n");

Deno.test("cpuSignatureOf: family, model, stepping and the newest extension oneDNN uses", () => {
  assertEquals(cpuSignatureOf(INTEL), "family 6 model 143 stepping 8, amx_tile");
  // `model name` is not `model`, and a machine without AVX-512 says what it has.
  const amd = "cpu family\t: 25\nmodel name\t: AMD EPYC\nmodel\t\t: 1\nflags\t\t: sse4_2 avx avx2";
  assertEquals(cpuSignatureOf(amd), "family 25 model 1, avx2");
  assertEquals(cpuSignatureOf(""), null);
});

Deno.test("a run's environment records the CPU signature (Linux)", async () => {
  const env = await runEnvironment();
  assertEquals(env.cpu_signature, cpuSignature());
  if (Deno.build.os === "linux") assert(typeof env.cpu_signature === "string");
});
