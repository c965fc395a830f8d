/**
 * Hugging Face image-classification Parquet files (`image` struct {bytes, path}, `labels` int64,
 * optional `image_file_path`), read with hyparquet. Class names come from the file's
 * `huggingface` key-value metadata (features.labels.names), or are given for a file without them.
 * @module
 */
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from "hyparquet";
import type { AsyncBuffer, FileMetaData } from "hyparquet";
import { UserError } from "../core/errors.ts";
import { checkLabels, type SplitSource } from "./source.ts";

const LABEL_COLUMNS = ["labels", "label"];

/** Convert whatever hyparquet returns for a BYTE_ARRAY value into a Uint8Array. */
export function toBytes(v: unknown): Uint8Array | undefined {
  if (v == null) return undefined;
  if (v instanceof Uint8Array) return v;
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  if (Array.isArray(v)) return Uint8Array.from(v as number[]);
  // Without `utf8: false` binary arrives as a string; latin1 keeps each byte.
  if (typeof v === "string") return Uint8Array.from(v, (c) => c.charCodeAt(0) & 0xff);
  return undefined;
}

interface OpenParquet {
  file: AsyncBuffer;
  meta: FileMetaData;
  columns: string[];
}

async function openParquet(path: string): Promise<OpenParquet> {
  let file: AsyncBuffer;
  try {
    file = await asyncBufferFromFile(path);
  } catch (e) {
    throw new UserError(`cannot read ${path}: ${(e as Error).message}`);
  }
  let meta: FileMetaData;
  try {
    meta = await parquetMetadataAsync(file);
  } catch (e) {
    throw new UserError(
      `${path} is not a readable Parquet file (truncated or corrupt?): ${(e as Error).message}`,
    );
  }
  // Top-level columns: direct children of the root schema element.
  const columns: string[] = [];
  let i = 1;
  const skip = (idx: number): number => {
    const n = meta.schema[idx].num_children ?? 0;
    let j = idx + 1;
    for (let c = 0; c < n; c++) j = skip(j);
    return j;
  };
  while (i < meta.schema.length) {
    columns.push(meta.schema[i].name);
    i = skip(i);
  }
  return { file, meta, columns };
}

/**
 * Class names stored by Hugging Face `datasets` in the file's key-value metadata, if any.
 * Duplicate names are refused (naming `path` and the list): two labels sharing a name would be
 * merged into one class.
 */
export function classNamesFromMetadata(
  meta: FileMetaData,
  path = "Parquet file",
): string[] | undefined {
  const kv = meta.key_value_metadata?.find((e) => e.key === "huggingface");
  if (!kv?.value) return undefined;
  let names: unknown;
  try {
    const features = JSON.parse(kv.value)?.info?.features ?? {};
    names = (features.labels ?? features.label)?.names;
  } catch {
    return undefined;
  }
  if (!Array.isArray(names) || !names.every((n) => typeof n === "string")) return undefined;
  if (new Set(names).size !== names.length) {
    throw new UserError(
      `${path}: duplicate class names [${names.join(", ")}] in the Parquet metadata ` +
        `(key "huggingface")`,
    );
  }
  return names;
}

/**
 * The class names of one file: its metadata's, else `labels`. `labels` only names classes of data
 * without metadata; differing from the file's own names is refused rather than silently relabelling.
 */
function fileClassNames(meta: FileMetaData, path: string, labels?: string[]): string[] {
  const stored = classNamesFromMetadata(meta, path);
  if (stored && labels && !sameList(stored, labels)) {
    throw new UserError(
      `${path}: --labels [${labels.join(", ")}] differs from the class names ` +
        `[${stored.join(", ")}] in the file's metadata; drop --labels (it is only for data ` +
        `without class names)`,
    );
  }
  const names = stored ?? labels;
  if (!names) {
    throw new UserError(`${path}: no class names in the Parquet metadata (key "huggingface")`, {
      hint: { flag: "labels", text: "pass them in label order with --labels a,b,c" },
    });
  }
  return names;
}

function sameList(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * Make duplicate `image_file_path` ids unique by row: ids key the teacher-logit cache, so two rows
 * sharing one id would share one teacher output.
 */
function uniqueIds(ids: string[]): void {
  const count = new Map<string, number>();
  for (const id of ids) count.set(id, (count.get(id) ?? 0) + 1);
  ids.forEach((id, i) => {
    if (count.get(id)! > 1) ids[i] = `row:${i}:${id}`;
  });
}

async function readRows(
  p: OpenParquet,
  path: string,
  columns: string[],
): Promise<Record<string, unknown>[]> {
  try {
    return await parquetReadObjects({ file: p.file, metadata: p.meta, columns, utf8: false });
  } catch (e) {
    throw new UserError(
      `${path}: failed to read columns ${columns.join(", ")}: ${(e as Error).message}`,
    );
  }
}

/**
 * Index one or more Parquet shards of a split: labels, ids and class names, without reading
 * image bytes; `images()` reads them on demand.
 */
export async function openParquetSplit(
  name: string,
  paths: string[],
  opts: { labels?: string[] } = {},
): Promise<SplitSource> {
  const opened: OpenParquet[] = [];
  const ids: string[] = [];
  const labels: number[] = [];
  let classNames: string[] | undefined;
  for (const path of paths) {
    const p = await openParquet(path);
    const labelCol = LABEL_COLUMNS.find((c) => p.columns.includes(c));
    if (!p.columns.includes("image") || !labelCol) {
      throw new UserError(
        `${path}: expected columns "image" (struct {bytes, path}) and "labels" (int), ` +
          `found ${p.columns.map((c) => `"${c}"`).join(", ") || "none"}`,
      );
    }
    const names = fileClassNames(p.meta, path, opts.labels);
    classNames ??= names;
    // Shards written separately may order their ClassLabel names differently: align by name.
    const remap = names.map((c) => classNames!.indexOf(c));
    const hasPath = p.columns.includes("image_file_path");
    const rows = await readRows(p, path, hasPath ? [labelCol, "image_file_path"] : [labelCol]);
    for (const [i, r] of rows.entries()) {
      const v = r[labelCol];
      const label = typeof v === "bigint" ? Number(v) : typeof v === "number" ? v : NaN;
      const id = hasPath && typeof r.image_file_path === "string" && r.image_file_path
        ? r.image_file_path
        : `row:${ids.length}`;
      if (!Number.isInteger(label)) {
        throw new UserError(`${path}: row ${i} (${id}) has no integer label (got ${String(v)})`);
      }
      if (label >= 0 && label < names.length && remap[label] < 0) {
        throw new UserError(
          `${path}: classes [${names.join(", ")}] do not match [${classNames.join(", ")}] of ` +
            `${paths[0]} (row ${i} is ${names[label]})`,
        );
      }
      ids.push(id);
      labels.push(label >= 0 && label < names.length ? remap[label] : label);
    }
    opened.push(p);
  }
  if (!classNames) throw new UserError(`no Parquet files for split "${name}"`);
  uniqueIds(ids);
  const labelArr = Int32Array.from(labels);
  const source = paths.length === 1 ? paths[0] : paths.join(", ");
  checkLabels(source, ids, labelArr, classNames);
  return {
    name,
    source,
    files: [...paths],
    classNames,
    ids,
    labels: labelArr,
    async images() {
      const out: (Uint8Array | undefined)[] = [];
      for (const [k, p] of opened.entries()) {
        for (const r of await readRows(p, paths[k], ["image"])) {
          const img = r.image as { bytes?: unknown } | Uint8Array | null | undefined;
          out.push(toBytes(img && !(img instanceof Uint8Array) ? img.bytes : img));
        }
      }
      return out;
    },
  };
}
