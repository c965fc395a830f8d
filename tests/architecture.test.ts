/**
 * The import graph keeps the layering the README describes: `lib/core/` at the bottom, nothing
 * outside `lib/cli/` importing `lib/cli/`, no import cycles, and model/optimizer code that names
 * the native kernels without loading oneDNN.
 */
import { ALL_GRANTED, test } from "./permissions.ts";
import { assertEquals } from "@std/assert";
import { join, relative } from "node:path";

const ROOT = new URL("../", import.meta.url).pathname;
const LIB = `file://${ROOT}lib/`;

function libFiles(dir = join(ROOT, "lib")): string[] {
  return [...Deno.readDirSync(dir)].flatMap((e) =>
    e.isDirectory ? libFiles(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : []
  );
}

/** Module → the lib modules it imports (relative to lib/), from `deno info --json`. */
async function importGraph(): Promise<Map<string, string[]>> {
  const entry = await Deno.makeTempFile({ suffix: ".ts" });
  await Deno.writeTextFile(entry, libFiles().map((f) => `import "file://${f}";`).join("\n"));
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", entry],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
    const info = JSON.parse(new TextDecoder().decode(out.stdout));
    const graph = new Map<string, string[]>();
    for (const m of info.modules as { specifier: string; dependencies?: unknown[] }[]) {
      if (!m.specifier.startsWith(LIB)) continue;
      const deps = (m.dependencies ?? []).flatMap((d) => {
        const dep = d as { code?: { specifier?: string }; type?: { specifier?: string } };
        return [dep.code?.specifier, dep.type?.specifier].filter((s): s is string =>
          !!s?.startsWith(LIB)
        );
      });
      graph.set(m.specifier.slice(LIB.length), [...new Set(deps.map((s) => s.slice(LIB.length)))]);
    }
    return graph;
  } finally {
    await Deno.remove(entry);
  }
}

const graph = ALL_GRANTED ? await importGraph() : new Map<string, string[]>();

test("no module outside lib/cli/ imports lib/cli/", () => {
  const bad = [...graph].flatMap(([m, deps]) =>
    m.startsWith("cli/") ? [] : deps.filter((d) => d.startsWith("cli/")).map((d) => `${m} → ${d}`)
  );
  assertEquals(bad, []);
});

test("lib/core/ imports nothing above it", () => {
  // `tf.ts` is TensorFlow.js re-exported, a leaf below every layer (it imports only npm), so core
  // may name its types.
  const below = (d: string) => d.startsWith("core/") || d === "tf.ts";
  assertEquals(graph.get("tf.ts"), [], "tf.ts must stay a leaf");
  const bad = [...graph].flatMap(([m, deps]) =>
    m.startsWith("core/") ? deps.filter((d) => !below(d)).map((d) => `${m} → ${d}`) : []
  );
  assertEquals(bad, []);
});

test("the lib import graph has no cycle", () => {
  // Tarjan's strongly connected components; any component of more than one module is a cycle.
  const index = new Map<string, number>(), low = new Map<string, number>();
  const stack: string[] = [], onStack = new Set<string>(), cycles: string[][] = [];
  let next = 0;
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const comp: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1 || (graph.get(v) ?? []).includes(v)) cycles.push(comp.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  assertEquals(cycles, []);
});

test("models and the optimizer name native kernels without loading oneDNN", () => {
  const reach = (from: string, seen = new Set<string>()): Set<string> => {
    if (seen.has(from)) return seen;
    seen.add(from);
    for (const d of graph.get(from) ?? []) reach(d, seen);
    return seen;
  };
  for (const m of ["models/mobilenet_v2.ts", "optim.ts"]) {
    const loaded = [...reach(m)].filter((d) => d === "backends/native/dnnl.ts");
    assertEquals(loaded, [], `${m} reaches oneDNN`);
  }
});

/** The package's entry points (`deno.json` `exports`) as import specifiers: `@kd/vision/data`… */
function entryPoints(): Set<string> {
  const config = JSON.parse(Deno.readTextFileSync(join(ROOT, "deno.json")));
  return new Set(
    Object.keys(config.exports).map((k) =>
      k === "." ? config.name : `${config.name}/${k.slice(2)}`
    ),
  );
}

/** Every module specifier a TypeScript source imports (static, side-effect and dynamic). */
function importSpecifiers(source: string): string[] {
  const found = source.matchAll(
    /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)["']([^"']+)["']/gm,
  );
  return [...new Set([...found].map((m) => m[1]))];
}

/** Code cells of a notebook, joined. */
function notebookCode(path: string): string {
  const nb = JSON.parse(Deno.readTextFileSync(path)) as {
    cells: { cell_type: string; source: string | string[] }[];
  };
  return nb.cells.filter((c) => c.cell_type === "code")
    .map((c) => Array.isArray(c.source) ? c.source.join("") : c.source).join("\n");
}

Deno.test("importSpecifiers finds static, side-effect and dynamic imports", () => {
  const src = 'import { a } from "x";\nimport "y";\nconst m = await import("z");\n' +
    'import {\n  b,\n} from "@kd/vision/data";\n// "not" an import';
  assertEquals(importSpecifiers(src), ["x", "y", "z", "@kd/vision/data"]);
});

test("experiments and notebooks import the toolkit only through its entry points", () => {
  const allowed = entryPoints();
  const sources: [string, string][] = [
    ...[...Deno.readDirSync(join(ROOT, "experiments"))].filter((e) => e.name.endsWith(".ts"))
      .map((e): [string, string] => [
        `experiments/${e.name}`,
        Deno.readTextFileSync(join(ROOT, "experiments", e.name)),
      ]),
    ...[...Deno.readDirSync(join(ROOT, "notebooks"))].filter((e) => e.name.endsWith(".ipynb"))
      .map((e): [string, string] => [
        `notebooks/${e.name}`,
        notebookCode(join(ROOT, "notebooks", e.name)),
      ]),
  ];
  assertEquals(sources.length >= 4, true, "expected the experiments and the three notebooks");
  const bad = sources.flatMap(([file, src]) => {
    const specs = importSpecifiers(src);
    if (specs.length === 0) return [`${file}: imports nothing`];
    // node: built-ins are the platform, not the toolkit; anything else must be an entry point.
    return specs.filter((s) => !s.startsWith("node:") && !allowed.has(s)).map((s) =>
      `${file} → ${s}`
    );
  });
  assertEquals(bad, []);
});

/** The builder: the one module that may call oneDNN (see its module doc). */
const BUILDER = "lib/backends/native/dnnl.ts";

/** Source code without its comments (string contents are kept). */
function stripComments(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:])\/\/.*$/gm, "$1");
}

/** The oneDNN C functions (`dnnl_*` FFI symbols) a TypeScript source names in code. */
function dnnlCalls(source: string): string[] {
  return [...new Set(stripComments(source).match(/\bdnnl_\w+/g) ?? [])];
}

Deno.test("dnnlCalls finds oneDNN symbols in code, not in comments", () => {
  const src = "/** wraps `dnnl_sgemm` */\nconst { lib } = ctx();\n" +
    "lib.dnnl_primitive_desc_destroy(pd); // dnnl_memory_destroy too\n" +
    'check(lib.dnnl_stream_wait(s), "x"); const url = "https://x.org/a";';
  assertEquals(dnnlCalls(src), ["dnnl_primitive_desc_destroy", "dnnl_stream_wait"]);
});

test("only the builder calls oneDNN or frees native objects", () => {
  const calls = new Map(
    [...libFiles(), ...libFiles(join(ROOT, "experiments"))].map((f) => [
      relative(ROOT, f),
      dnnlCalls(Deno.readTextFileSync(f)),
    ]),
  );
  const others = [...calls].filter(([f, c]) => f !== BUILDER && c.length > 0);
  assertEquals(others.map(([f, c]) => `${f}: ${c.join(", ")}`), []);
  // The scan sees the builder's own calls, so it would see anyone else's.
  assertEquals((calls.get(BUILDER) ?? []).includes("dnnl_primitive_destroy"), true);
});

test("only the builder and the allocator tuning open native libraries", () => {
  const opened = libFiles().filter((f) =>
    /\bDeno\.dlopen\b/.test(stripComments(Deno.readTextFileSync(f)))
  )
    .map((f) => relative(ROOT, f)).sort();
  assertEquals(opened, [BUILDER, "lib/backends/native/malloc.ts"]);
});
