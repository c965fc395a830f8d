/**
 * Every `deno task` keeps one contract (lib/cli/command.ts): `--help` prints usage on stdout and
 * exits 0; an unknown flag or a bad value exits 2 with one `error:` line and no stack trace;
 * `--json`, where the help offers it, prints only parseable JSON on stdout.
 */
import { test } from "../permissions.ts";
import denoJson from "../../deno.json" with { type: "json" };
import { assert, assertEquals, assertThrows } from "@std/assert";
import { join } from "node:path";
import { writeSyntheticSweep } from "../../lib/report/synthetic.ts";
import { BEANS_CLASSES, BEANS_DIR, validationRows, writeImageParquet } from "../data/helpers.ts";
import { tfjsBackbone } from "../helpers.ts";
import { FIXTURES } from "../fixture_paths.ts";
import { parseCommandArgs } from "../../lib/cli/command.ts";
import { parseLabelList } from "../../lib/data/source.ts";
import { intFlag, mapFlag, numberFlag, numberListFlag } from "../../lib/cli/flags.ts";
import { UserError } from "../../lib/core/errors.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const VIT_TINY = `${FIXTURES}/vit_tiny`;
/** The toolkit's commands: the deno.json tasks that run a `lib/cli/` entry point (not Deno's tools). */
const tasks = Object.entries(denoJson.tasks as Record<string, string>)
  .filter(([, cmd]) => /^deno run -A lib\/cli\/\w+\.ts$/.test(cmd)).map(([name]) => name);

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function task(args: string[], env: Record<string, string> = {}): Promise<Result> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "-q", ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

function assertOneLineError(r: Result, what: string) {
  assertEquals(r.code, 2, `${what}: exit ${r.code}\n${r.stderr}`);
  const lines = r.stderr.trim().split("\n");
  assert(lines.at(-1)!.startsWith("error: "), `${what}: last stderr line: ${lines.at(-1)}`);
  assert(!/\n\s+at /.test(r.stderr), `${what}: stack trace on stderr:\n${r.stderr}`);
  assertEquals(r.stdout.trim(), "", `${what}: stdout should be empty`);
}

/** Sub-commands a task's usage lists (`deno task data info …` → `info`). */
function subcommands(name: string, usage: string): string[] {
  const re = new RegExp(`deno task ${name} ([a-z][\\w-]*)`, "g");
  return [...new Set([...usage.matchAll(re)].map((m) => m[1]))];
}

const helps = new Map<string, string>();

for (const name of tasks) {
  test(`deno task ${name}: --help, unknown flag`, async () => {
    const help = await task([name, "--help"]);
    assertEquals(help.code, 0, help.stderr);
    assert(help.stdout.startsWith("usage:"), `${name} --help: ${help.stdout.slice(0, 200)}`);
    helps.set(name, help.stdout);
    const subs = subcommands(name, help.stdout);
    for (const args of subs.length ? subs.map((s) => [name, s]) : [[name]]) {
      if (subs.length) {
        const h = await task([...args, "--help"]);
        assertEquals(h.code, 0, `${args.join(" ")} --help: ${h.stderr}`);
        assert(h.stdout.startsWith("usage:"), `${args.join(" ")} --help: ${h.stdout}`);
        helps.set(args.join(" "), h.stdout);
      }
      assertOneLineError(
        await task([...args, "--no-such-flag"]),
        `${args.join(" ")} --no-such-flag`,
      );
    }
  });
}

test("bad values and missing arguments are one line, exit 2", async () => {
  const cases: string[][] = [
    ["train", "--out", "/tmp/x", "--epochs", "abc"],
    ["train", "--out", "/tmp/x", "--dropout", "1.5"],
    ["train", "--out", "/tmp/x", "--warmup-ratio", "5"],
    ["train", "--out", "/tmp/x", "--backend", "nope"],
    ["train", "--out", "/tmp/x", "--augment", "rotate"],
    ["train", "--epochs"],
    ["eval", "--split", "validation"],
    ["sweep", "--profile", "nope", "--out", "/tmp/kd-contract-nope"],
    ["sweep", "--jobs", "0", "--out", "/tmp/kd-contract-jobs"],
    ["report", "/nonexistent/sweep"],
    ["data", "frobnicate"],
    ["data", "info", "--data", "/nonexistent/beans"],
    ["logits", "--model", "nope:x", "--input", "a", "--out", "b"],
    // A folder that cannot be written (root ignores permission bits; /sys refuses anyone).
    [
      "train",
      "--preset",
      "smoke",
      "--student",
      "mobilenet_v2@0.35",
      "--data",
      BEANS_DIR,
      "--max-images",
      "16",
      "--out",
      "/sys/kd-contract/run",
    ],
  ];
  for (const args of cases) assertOneLineError(await task(args), args.join(" "));
  // Commands that start a backend hold its line back: a bad value is exactly one line.
  const backed: string[][] = [
    ["train", "--out", "/tmp/x", "--epochs", "abc"],
    ["eval", "--model", "mobilenet_v2", "--split", "a/b"],
    ["logits", "--model", "mobilenet_v2", "--input", "a", "--out", "b", "--batch-size", "x"],
    ["export", "--model", "/nonexistent/run", "--format", "hf", "--out", "/tmp/kd-x"],
    ["bench", "train", "--steps", "abc"],
    // An --out that cannot be written is found before the teacher is built, not after.
    ["teacher", "--out", "/sys/kd-contract/teacher", "--data", BEANS_DIR],
  ];
  for (const args of backed) {
    const r = await task(args);
    assertOneLineError(r, args.join(" "));
    assertEquals(r.stderr.trim().split("\n").length, 1, `${args.join(" ")}:\n${r.stderr}`);
  }
});

test("a renamed flag is refused in one line naming its one spelling now", async () => {
  for (
    const [args, line] of [
      [
        ["teacher", "--from", "tfjs-dir:/x"],
        "error: --from is now --backbone (same meaning; see --help)",
      ],
      [
        ["bench", "train", "--profile"],
        "error: --profile is now --kernel-times (same meaning; see --help)",
      ],
      [
        ["bench", "train", "--profile=true"],
        "error: --profile is now --kernel-times (same meaning; see --help)",
      ],
    ] as const
  ) {
    const r = await task([...args]);
    assertOneLineError(r, args.join(" "));
    assertEquals(r.stderr.trim().split("\n").at(-1), line);
  }
});

/** Cheap invocations of every task whose help offers --json (stdout must be JSON only). */
async function jsonCases(dir: string): Promise<Record<string, string[]>> {
  await writeSyntheticSweep(join(dir, "sweep"), { teachers: ["t"], temperatures: [2], seeds: [0] });
  // A Hugging Face cache holding beans validation, as Python would leave it (fetch reads it offline).
  const beans = join(dir, "hf", "datasets--AI-Lab-Makerere--beans");
  const commit = "c".repeat(40);
  await Deno.mkdir(join(beans, "snapshots", commit, "data"), { recursive: true });
  await Deno.mkdir(join(beans, "refs"));
  await Deno.writeTextFile(join(beans, "refs", "main"), commit);
  await Deno.copyFile(
    `${BEANS_DIR}/validation.parquet`,
    join(beans, "snapshots", commit, "data", "validation-00000-of-00001.parquet"),
  );
  return {
    "fetch beans": ["fetch", "beans", "--split", "validation", "--json"],
    "data info": ["data", "info", "--data", BEANS_DIR, "--json"],
    "data prepare": [
      "data",
      "prepare",
      "--data",
      BEANS_DIR,
      "--split",
      "validation",
      "--image-size",
      "32",
      "--json",
    ],
    logits: [
      "logits",
      "--model",
      `hf-dir:${VIT_TINY}`,
      "--input",
      `${VIT_TINY}/io.safetensors`,
      "--out",
      join(dir, "logits.safetensors"),
      "--json",
    ],
    eval: ["eval", "--model", `hf-dir:${VIT_TINY}`, "--data", BEANS_DIR, "--json"],
    train: [
      "train",
      "--preset",
      "smoke",
      "--student",
      "mobilenet_v2@0.35",
      "--max-images",
      "16",
      "--epochs",
      "1",
      "--data",
      BEANS_DIR,
      "--out",
      join(dir, "run"),
      "--json",
    ],
    report: ["report", join(dir, "sweep"), "--json"],
  };
}

test("--json prints only JSON on stdout, for every command that offers it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const cases = await jsonCases(dir);
    const hasSubcommands = (n: string) => [...helps.keys()].some((k) => k.startsWith(`${n} `));
    const offering = [...helps].filter(([n, usage]) =>
      usage.includes("--json") && !hasSubcommands(n)
    )
      .map(([n]) => n);
    // A command may be checked elsewhere when a run here would take minutes (named here).
    const elsewhere = new Set(["sweep", "notebooks", "teacher", "bench", "export", "demo"]);
    const unchecked = offering.filter((n) => !cases[n] && !elsewhere.has(n.split(" ")[0]));
    assertEquals(unchecked, [], "add a cheap --json invocation for these commands");
    for (const [name, args] of Object.entries(cases)) {
      const r = await task(args, {
        KD_CACHE_DIR: join(dir, "cache"),
        HF_HUB_CACHE: join(dir, "hf"),
        HF_HUB_OFFLINE: "1",
      });
      assertEquals(r.code, 0, `${name}: ${r.stderr}`);
      const lines = r.stdout.trim().split("\n");
      assertEquals(lines.length, 1, `${name}: stdout is not one JSON line:\n${r.stdout}`);
      JSON.parse(lines[0]);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

test("the README's logits command works without --backend", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const out = join(dir, "x.safetensors");
    const r = await task([
      "logits",
      "--model",
      `hf-dir:${VIT_TINY}`,
      "--input",
      `${VIT_TINY}/io.safetensors`,
      "--out",
      out,
    ]);
    assertEquals(r.code, 0, r.stderr);
    assert((await Deno.stat(out)).size > 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

test("an empty flag value is refused naming the flag, never replaced by a default", async () => {
  const spec = {
    usage: "usage: x",
    string: ["epochs", "lr", "out", "split"],
    collect: ["split"],
    run: () => {},
  };
  for (
    const args of [
      ["--epochs", "", "--lr", ""],
      ["--epochs="],
      ["--out", "x", "--epochs", ""],
      ["--split", "train", "--split", ""],
    ]
  ) {
    const e = assertThrows(() => parseCommandArgs(spec, args), UserError);
    assert(/^--(epochs|split) needs a value, got an empty one/.test(e.message), e.message);
  }
  assertEquals(parseCommandArgs(spec, ["--epochs", "3"]).epochs, "3");
  // Library callers of the flag parsers get the same answer.
  for (const parse of [numberFlag, intFlag, numberListFlag, mapFlag]) {
    assertThrows(() => parse("lr", ""), UserError, "--lr needs a value");
    assertThrows(() => parse("lr", "  "), UserError, "--lr needs a value");
  }
  assertThrows(() => numberListFlag("temperatures", "2,,5"), UserError, "empty item");
  // Decimal numbers only: Number() also reads hex, binary and octal.
  for (const v of ["0x10", "0b11", "0o7", "1_000", "Infinity", "1e999", "abc"]) {
    assertThrows(() => numberFlag("lr", v), UserError, `--lr must be a number, got "${v}"`);
  }
  assertEquals(["3", "-1", "+2", "0.5", ".5", "5.", "3e-4", " 7 "].map((v) => numberFlag("x", v)), [
    3,
    -1,
    2,
    0.5,
    0.5,
    5,
    3e-4,
    7,
  ]);
  // A negative number after a flag that takes a value is that value, as with `--lr=-1`.
  const neg = parseCommandArgs(spec, ["--lr", "-1", "--epochs", "-2.5", "--split", "-3"]);
  assertEquals([neg.lr, neg.epochs, neg.split], ["-1", "-2.5", ["-3"]]);
  assertThrows(() => parseLabelList(","), UserError, "an empty class name");
  assertThrows(() => parseLabelList("a,,b"), UserError, "an empty class name");
  assertEquals(parseLabelList("a, b"), ["a", "b"]);

  // The commands: one line naming the first empty flag, exit 2.
  const cases: [string[], string][] = [
    [["train", "--epochs", "", "--lr", "", "--out", "/nonexistent/run"], "--epochs"],
    [["train", "--lr=", "--out", "/nonexistent/run"], "--lr"],
    [["eval", "--model", "mobilenet_v2", "--split", ""], "--split"],
    [["export", "--model", "mobilenet_v2", "--format", "hf", "--out", ""], "--out"],
    [["teacher", "--train-fraction", ""], "--train-fraction"],
  ];
  for (const [args, flag] of cases) {
    const r = await task(args);
    assertOneLineError(r, args.join(" "));
    assertEquals(
      r.stderr.trim().split("\n").at(-1),
      `error: ${flag} needs a value, got an empty one (see --help)`,
    );
  }
});

/**
 * `--flags` the README gives each command: on a `deno task NAME [SUB]` line (code spans, table
 * rows, `\`-continued code blocks; a `#` comment ends the command), and the flags of the
 * distillation methods table, which are `deno task train`'s.
 */
function readmeFlags(readme: string, tasks: string[]): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  const add = (cmd: string, text: string) => {
    const flags = [...text.matchAll(/(?<![\w-])--([a-z][a-z0-9-]*)/g)].map((f) => f[1]);
    out.set(cmd, new Set([...(out.get(cmd) ?? []), ...flags]));
  };
  for (const line of readme.replace(/\\\n/g, " ").split("\n")) {
    // `deno task bench data\|models [--vs-torch]`: a flag of any of the alternatives.
    const re = /deno task ([a-z][\w:-]*)((?: [a-z][\w-]*(?:\\\|[a-z][\w-]*)*)?)([^`#]*)/g;
    for (const m of line.matchAll(re)) {
      if (!tasks.includes(m[1])) continue;
      // A table row ends at the next unescaped cell border.
      add(`${m[1]}${m[2]}`, m[3].split(/(?<!\\)\|/)[0]);
    }
  }
  const methods = /\*\*Distillation methods and views\*\*[\s\S]*?\n\n([\s\S]*?)\n\n/.exec(readme);
  if (!methods) throw new Error("README: the distillation methods table is missing");
  add("train", methods[1]);
  return out;
}

test("every --flag the README gives a command exists in that command's --help", async () => {
  const readme = await Deno.readTextFile(join(ROOT, "README.md"));
  const missing: string[] = [];
  for (const [cmd, flags] of readmeFlags(readme, tasks)) {
    const [name, alternatives] = cmd.split(" ");
    let help = (await task([name, "--help"])).stdout;
    // `deno task bench train ...`: the sub-commands' own help, where they have one.
    const subs = (alternatives ?? "").split("\\|").filter((a) =>
      subcommands(name, help).includes(a)
    );
    for (const sub of subs) help += (await task([name, sub, "--help"])).stdout;
    const given = new Set([...help.matchAll(/--([a-z][a-z0-9-]*)/g)].map((m) => m[1]));
    for (const f of flags) if (!given.has(f)) missing.push(`${cmd} --${f}`);
  }
  assertEquals(missing, []);
});

/** The last stderr line of a one-line error, checked to name each of `want` and none of `never`. */
function assertErrorNames(r: Result, what: string, want: string[], never: string[] = []) {
  assertOneLineError(r, what);
  const line = r.stderr.trim().split("\n").at(-1)!;
  for (const w of want) assert(line.includes(w), `${what}: "${w}" missing in: ${line}`);
  for (const n of never) assert(!line.includes(n), `${what}: names "${n}": ${line}`);
}

test("an error names a flag only where the command has it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // Data without class names, and data with an undecodable image.
    const rows = await validationRows(0, 3);
    await Deno.mkdir(join(dir, "plain"));
    await Deno.mkdir(join(dir, "bad"));
    for (const split of ["train", "validation"]) {
      writeImageParquet(join(dir, "plain", `${split}.parquet`), rows, { withPaths: false });
      const bad = rows.map((r, i) => i === 1 ? { ...r, bytes: r.bytes.subarray(0, 100) } : r);
      writeImageParquet(join(dir, "bad", `${split}.parquet`), bad, { classNames: BEANS_CLASSES });
    }
    const env = { KD_CACHE_DIR: join(dir, "cache") };
    const plain = ["--data", join(dir, "plain")], bad = ["--data", join(dir, "bad")];
    const backbone = `tfjs-dir:${await tfjsBackbone()}`; // 1001 labels: not beans' 3
    const stray = join(dir, "sweep", "teachers", "mnv2-ft-all-s96");
    await Deno.mkdir(stray, { recursive: true });
    await Deno.writeTextFile(join(stray, "notes.txt"), "mine");

    // Offline without the dataset: --data where the command has it, KD_DATA everywhere.
    const offline = { HF_HUB_OFFLINE: "1", HF_HUB_CACHE: join(dir, "hf"), KD_DATA: "" };
    const cases: [string[], string[], string[], Record<string, string>?][] = [
      // [args, named, not named, env]
      [["data", "info"], ["pass --data DIR"], [], offline],
      [["notebooks"], ["set KD_DATA"], ["--data"], offline],
      [["data", "info", ...plain], ["no class names", "--labels a,b,c"], []],
      [["teacher", ...plain, "--out", join(dir, "t")], ["no class names"], ["--labels"]],
      [["data", "prepare", ...bad, "--image-size", "32"], ["row 1", "--skip-bad-images"], []],
      [["bench", "data", ...bad, "--image-size", "32"], ["row 1"], ["--skip-bad-images"]],
      [
        ["teacher", ...bad, "--backbone", backbone, "--image-size", "32", "--out", join(dir, "t")],
        ["row 1"],
        ["--skip-bad-images"],
      ],
      [
        ["eval", "--model", backbone, "--data", BEANS_DIR],
        ["1001 labels but the dataset has 3"],
        ["--reinit-head"],
      ],
      [
        ["train", "--student", backbone, "--data", BEANS_DIR, "--out", join(dir, "run")],
        ["1001 labels but the dataset has 3", "--reinit-head"],
        [],
      ],
      // A sweep's teacher folder holding someone's files: the sweep has no --force to offer.
      [
        [
          "sweep",
          ...["--profile", "smoke", "--teachers", "mnv2-ft-all-s96", "--data", BEANS_DIR],
          ...["--backbone", `hf-dir:${FIXTURES}/mobilenet_v2_tiny`, "--out", join(dir, "sweep")],
        ],
        ["teachers/mnv2-ft-all-s96 holds files but no built teacher", "delete or empty it"],
        ["--force"],
      ],
      // `--size` is bench train's alias: another sub-command names the flag the user typed.
      [["bench", "models", "--size", "96"], ["--size"], ["--image-size"]],
    ];
    const problems: string[] = [];
    for (const [args, want, never, caseEnv] of cases) {
      try {
        assertErrorNames(await task(args, caseEnv ?? env), args.join(" "), want, never);
      } catch (e) {
        problems.push((e as Error).message);
      }
    }
    assertEquals(problems, []);
    assertEquals(await Deno.readTextFile(join(stray, "notes.txt")), "mine");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

test("out-of-range values are refused naming the flag and what it accepts", async () => {
  const offline = { HF_HUB_OFFLINE: "1", HF_HUB_CACHE: "/nonexistent/hf" };
  const models = ["--student", "dir:/nonexistent/s", "--teacher", "dir:/nonexistent/t"];
  const cases: [string[], string][] = [
    [["bench", "tradeoff", ...models, "--runs", "0"], `--runs must be 1 or more, got "0"`],
    [["bench", "tradeoff", ...models, "--seconds=-1"], `--seconds must be 0 or more, got "-1"`],
    [["notebooks", "--profile", "hf-guide"], `--profile must be smoke or cpu-fast, got "hf-guide"`],
    [["notebooks", "--timeout", "0.5"], `--timeout must be an integer, got "0.5"`],
    [["train", "--out", "/nonexistent/run", "--lr", "-1"], "--lr must be a number > 0, got -1"],
    [["teacher", "--seed=-1", "--out", "/nonexistent/t"], "--seed must be an integer >= 0"],
  ];
  const problems: string[] = [];
  for (const [args, want] of cases) {
    const r = await task(args, offline);
    try {
      assertErrorNames(r, args.join(" "), [want]);
    } catch (e) {
      problems.push((e as Error).message);
    }
  }
  assertEquals(problems, []);
});

test("help lists every flag a command accepts; fetch's error lists only what fetch takes", async () => {
  const helpFlags: [string[], string[]][] = [
    [["demo"], ["--backend", "--quiet"]],
    [["fetch"], ["--quiet"]],
    [["bench", "tradeoff"], ["--runs", "--seconds", "--quiet"]],
  ];
  for (const [args, flags] of helpFlags) {
    const help = (await task([...args, "--help"])).stdout;
    for (const f of flags) assert(help.includes(f), `${args.join(" ")} --help lacks ${f}`);
  }
  assertErrorNames(
    await task(["fetch", "bogus"]),
    "fetch bogus",
    [`unknown fetch target "bogus"; expected beans or hf:ORG/NAME[@REV]`],
    ["hf-dir:", "mobilenet_v2", "tfjs-dir:"],
  );
});
