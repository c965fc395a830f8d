/** Data locations and small real-file builders for the data tests. */
import { parquetReadObjects } from "hyparquet";
import { parquetWriteBuffer } from "hyparquet-writer";

import { BEANS_MINI } from "../fixture_paths.ts";

/** Folder with the committed beans subset's train/validation Parquet files. */
export const BEANS_DIR: string = BEANS_MINI;
/** The committed subset's validation split (12 real JPEGs, HF parquet schema). */
export const VALIDATION = `${BEANS_DIR}/validation.parquet`;

/** Class names of beans, as the dataset card lists them. */
export const BEANS_CLASSES = ["angular_leaf_spot", "bean_rust", "healthy"];

/** Real JPEG bytes, labels and paths of validation rows [start, end) (of `path`: the subset's). */
export async function validationRows(start: number, end: number, path = VALIDATION) {
  const file = (await Deno.readFile(path)).buffer;
  const rows = await parquetReadObjects({ file, utf8: false, rowStart: start, rowEnd: end });
  return rows.map((r) => ({
    bytes: new Uint8Array((r.image as { bytes: Uint8Array }).bytes),
    label: Number(r.labels),
    path: r.image_file_path as string,
  }));
}

/** The `huggingface` key-value metadata that `datasets` writes for a ClassLabel column. */
export function hfMetadata(names: string[]) {
  return [{
    key: "huggingface",
    value: JSON.stringify({
      info: {
        features: {
          image_file_path: { dtype: "string", _type: "Value" },
          image: { _type: "Image" },
          labels: { names, _type: "ClassLabel" },
        },
      },
    }),
  }];
}

/** Write a beans-layout Parquet file (image struct, labels int64, optional image_file_path). */
export function writeImageParquet(
  path: string,
  rows: { bytes: Uint8Array; label: number; path?: string }[],
  opts: { classNames?: string[]; withPaths?: boolean } = {},
) {
  const columnData = [
    ...(opts.withPaths === false ? [] : [{
      name: "image_file_path",
      data: rows.map((r) => r.path ?? null),
      type: "STRING" as const,
    }]),
    { name: "image", data: rows.map((r) => ({ bytes: r.bytes, path: r.path ?? null })) },
    { name: "labels", data: rows.map((r) => BigInt(r.label)), type: "INT64" as const },
  ];
  const buf = parquetWriteBuffer({
    columnData,
    kvMetadata: opts.classNames ? hfMetadata(opts.classNames) : undefined,
  });
  Deno.writeFileSync(path, new Uint8Array(buf));
}
