// Media calls and their answers, read defensively: the answers hold free-form JSON logged by
// users (descriptors, table cells), so every field is checked before it is used.
import { call, type CallArgs } from "../../api/client";

export type MediaKind = "image" | "images" | "table" | "histogram";

export interface MediaKey {
  key: string;
  kind: string;
  runs: number;
  last_step: number;
}

export interface MediaItem {
  media_id: string;
  state: string; // "stored" | "pending" | "missing"
  data: unknown;
  /** why the value is not there (missing) or could not be read */
  error: string | null;
  /** what the SDK changed or dropped when encoding (NaN pixels, unknown classes, ...) */
  warnings: string[];
}

export interface MediaAnswer {
  key: string;
  kind: string;
  steps: number[];
  step: number | null;
  items: MediaItem[];
}

export type ColumnType = "number" | "string" | "bool" | "image" | "histogram" | "mixed" | "null";

export interface TableRow {
  index: number;
  cells: unknown[];
}

export interface TableGroup {
  value: unknown;
  count: number;
  means: Record<string, number | null>;
}

export interface TableAnswer {
  key: string;
  step: number | null;
  steps: number[];
  state: string;
  error: string | null;
  columns: string[];
  types: Record<string, string>;
  total: number;
  rows_total: number;
  offset: number;
  limit: number;
  rows: TableRow[];
  groups: TableGroup[] | null;
}

export interface HistogramsAnswer {
  key: string;
  steps: number[];
  bins: number[][];
  counts: number[][];
}

type Dict = Record<string, unknown>;
const dict = (v: unknown): Dict => (v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Dict) : {});
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const nums = (v: unknown): number[] => list(v).filter((x): x is number => typeof x === "number");
const int = (v: unknown, fallback = 0): number => (typeof v === "number" && Number.isFinite(v) ? v : fallback);
const str = (v: unknown, fallback = ""): string => (typeof v === "string" ? v : fallback);

export function readKeys(raw: unknown): MediaKey[] {
  return list(dict(raw)["keys"])
    .map(dict)
    .filter((k) => typeof k["key"] === "string")
    .map((k) => ({ key: str(k["key"]), kind: str(k["kind"]), runs: int(k["runs"]), last_step: int(k["last_step"]) }));
}

export function readMedia(raw: unknown): MediaAnswer {
  const d = dict(raw);
  return {
    key: str(d["key"]),
    kind: str(d["kind"]),
    steps: nums(d["steps"]),
    step: typeof d["step"] === "number" ? d["step"] : null,
    items: list(d["items"])
      .map(dict)
      .map((it) => ({
        media_id: str(it["media_id"]),
        state: str(it["state"], "stored"),
        data: it["data"],
        error: typeof it["error"] === "string" && it["error"] ? it["error"] : null,
        warnings: list(it["warnings"]).filter((w): w is string => typeof w === "string"),
      })),
  };
}

export function readTable(raw: unknown): TableAnswer {
  const d = dict(raw);
  const columns = list(d["columns"]).map((c) => (typeof c === "string" ? c : String(c)));
  const types: Record<string, string> = {};
  for (const [k, v] of Object.entries(dict(d["types"]))) types[k] = str(v, "mixed");
  const groups = Array.isArray(d["groups"])
    ? d["groups"].map(dict).map((g) => {
        const means: Record<string, number | null> = {};
        for (const [k, v] of Object.entries(dict(g["means"]))) means[k] = typeof v === "number" ? v : null;
        return { value: g["value"], count: int(g["count"]), means };
      })
    : null;
  return {
    key: str(d["key"]),
    step: typeof d["step"] === "number" ? d["step"] : null,
    steps: nums(d["steps"]),
    state: str(d["state"], "stored"),
    error: typeof d["error"] === "string" && d["error"] ? d["error"] : null,
    columns,
    types,
    total: int(d["total"]),
    rows_total: int(d["rows_total"]),
    offset: int(d["offset"]),
    limit: int(d["limit"], 50),
    rows: list(d["rows"])
      .map(dict)
      .map((r, i) => ({ index: int(r["index"], i), cells: list(r["cells"]) })),
    groups,
  };
}

export function readHistograms(raw: unknown): HistogramsAnswer {
  const d = dict(raw);
  const toNums = (v: unknown) => list(v).map((x) => (typeof x === "number" ? x : NaN));
  return {
    key: str(d["key"]),
    steps: nums(d["steps"]),
    bins: list(d["bins"]).map(toNums),
    counts: list(d["counts"]).map(toNums),
  };
}

export async function getMediaKeys(project: string, runs: string[] | undefined, signal?: AbortSignal): Promise<MediaKey[]> {
  const args: CallArgs<"list_media_keys"> = {
    path: { project },
    query: runs && runs.length ? { runs: runs.join(",") } : {},
    signal,
  };
  return readKeys(await call("list_media_keys", args));
}

export async function getMedia(
  project: string,
  run: string,
  key: string,
  step: number | undefined,
  signal?: AbortSignal,
): Promise<MediaAnswer> {
  return readMedia(await call("get_media", { path: { project, run_id: run }, query: { key, step }, signal }));
}

export interface TableQuery {
  key: string;
  step?: number;
  filter?: string;
  sort?: string;
  desc?: boolean;
  offset?: number;
  limit?: number;
  group?: string;
}

export async function getTable(project: string, run: string, q: TableQuery, signal?: AbortSignal): Promise<TableAnswer> {
  const query = {
    key: q.key,
    step: q.step,
    filter: q.filter || undefined,
    sort: q.sort || undefined,
    desc: q.sort ? (q.desc ?? false) : undefined,
    offset: q.offset ?? 0,
    limit: q.limit ?? 50,
    group: q.group || undefined,
  };
  return readTable(await call("get_table", { path: { project, run_id: run }, query, signal }));
}

export async function getHistograms(project: string, run: string, key: string, signal?: AbortSignal): Promise<HistogramsAnswer> {
  return readHistograms(await call("get_histograms", { path: { project, run_id: run }, query: { key }, signal }));
}
