// Pure helpers of the runs table: chosen columns (URL `cols`), the server sort spec (URL
// `order`) and the flat list of rows (group headers + runs) that the virtual list draws.
import type { Catalogue } from "../api/client";
import type { RunGroup } from "../lib/types";
import { decodeList, encodeList } from "../lib/url";

/** `cols` holds this when the user chose no extra columns (an absent `cols` means defaults). */
export const NO_COLUMNS = "-";
export const DEFAULT_SUMMARY_COLUMNS = 3;

export type Scope = "config" | "summary";

/** Column ids are ``config.<flattened key>`` or ``summary.<flattened key>``. */
export function columnId(scope: Scope, key: string): string {
  return `${scope}.${key}`;
}

export function splitColumnId(id: string): { scope: Scope; key: string } | undefined {
  const dot = id.indexOf(".");
  if (dot < 0) return undefined;
  const scope = id.slice(0, dot);
  if (scope !== "config" && scope !== "summary") return undefined;
  const key = id.slice(dot + 1);
  return key ? { scope, key } : undefined;
}

/** Default columns: the first few summary keys (config keys when there is no summary). */
export function defaultColumns(catalogue: Catalogue | undefined): string[] {
  if (!catalogue) return [];
  if (catalogue.summary.length > 0)
    return catalogue.summary.slice(0, DEFAULT_SUMMARY_COLUMNS).map((k) => columnId("summary", k));
  return catalogue.config.slice(0, DEFAULT_SUMMARY_COLUMNS).map((k) => columnId("config", k));
}

/** The chosen columns from the `cols` parameter (defaults when absent, none for "-"). */
export function parseColumns(param: string, catalogue: Catalogue | undefined): string[] {
  if (param === NO_COLUMNS) return [];
  if (!param) return defaultColumns(catalogue);
  const seen = new Set<string>();
  return decodeList(param).filter((id) => {
    if (seen.has(id) || !splitColumnId(id)) return false;
    seen.add(id);
    return true;
  });
}

export function encodeColumns(ids: readonly string[]): string {
  return ids.length === 0 ? NO_COLUMNS : encodeList(ids);
}

/** Adds or removes column ``id`` (added at the end). */
export function toggleColumn(ids: readonly string[], id: string, on: boolean): string[] {
  const rest = ids.filter((c) => c !== id);
  return on ? [...rest, id] : rest;
}

// --- sorting ---------------------------------------------------------------------------------

const BARE_SEGMENT = /^[A-Za-z_][A-Za-z0-9_\-/]*$/;

/** A server field path segment, in backticks when it is not a bare name. */
export function quoteSegment(segment: string): string {
  return BARE_SEGMENT.test(segment) ? segment : "`" + segment.replace(/`/g, "``") + "`";
}

/** Splits a server field (``summary.`val.loss`.x``) into its segments, unquoting backticks. */
export function splitField(field: string): string[] {
  const out: string[] = [];
  let i = 0;
  let current = "";
  while (i < field.length) {
    const ch = field[i] as string;
    if (ch === "`") {
      i += 1;
      while (i < field.length) {
        if (field[i] === "`") {
          if (field[i + 1] === "`") {
            current += "`";
            i += 2;
            continue;
          }
          i += 1;
          break;
        }
        current += field[i];
        i += 1;
      }
    } else if (ch === ".") {
      out.push(current);
      current = "";
      i += 1;
    } else {
      current += ch;
      i += 1;
    }
  }
  out.push(current);
  return out;
}

export function joinField(segments: readonly string[]): string {
  return segments.map((s, i) => (i === 0 ? s : quoteSegment(s))).join(".");
}

/** The server sort field of a config/summary column. A flattened key "a.b" is one literal key
 * when some run holds it as such (``literal``), else the path a -> b. */
export function columnSortField(id: string, literal: boolean): string {
  const parts = splitColumnId(id);
  if (!parts) return id;
  const path = literal ? [parts.key] : parts.key.split(".");
  return joinField([parts.scope, ...path]);
}

/** Whether any run stores ``key`` under ``scope`` as one literal key (holding a dot). */
export function isLiteralKey(runs: readonly unknown[], scope: Scope, key: string): boolean {
  if (!key.includes(".")) return true;
  for (const run of runs) {
    const obj = (run as Record<string, unknown> | null)?.[scope];
    if (obj && typeof obj === "object" && Object.prototype.hasOwnProperty.call(obj, key)) return true;
  }
  return false;
}

export interface SortKey {
  field: string;
  desc: boolean;
}

/** The first (most significant) key of an order spec like ``-summary.val/loss,name``. */
export function primarySort(order: string): SortKey | undefined {
  const first = order.split(",")[0]?.trim() ?? "";
  if (!first) return undefined;
  const desc = first.startsWith("-");
  const field = first.replace(/^[+-]/, "").trim();
  return field ? { field, desc } : undefined;
}

/** Whether two server fields name the same thing (ignoring optional backticks). */
export function sameField(a: string, b: string): boolean {
  const sa = splitField(a);
  const sb = splitField(b);
  return sa.length === sb.length && sa.every((s, i) => s === sb[i]);
}

/** The direction ``field`` is sorted in by ``order``, if it is the primary key. */
export function sortDirection(order: string, field: string): "asc" | "desc" | undefined {
  const key = primarySort(order);
  if (!key || !sameField(key.field, field)) return undefined;
  return key.desc ? "desc" : "asc";
}

/** The order after clicking the header of ``field``: ascending first, then it flips. */
export function nextOrder(order: string, field: string): string {
  const dir = sortDirection(order, field);
  return dir === "asc" ? `-${field}` : field;
}

// --- rows --------------------------------------------------------------------------------------

export type TableItem<R> =
  | { kind: "group"; group: RunGroup; collapsed: boolean; runs: R[] }
  | { kind: "run"; run: R; group?: string };

/** The rows the table draws, in order: each group's header then (unless collapsed) its runs. */
export function tableItems<R extends { id: string }>(
  runs: readonly R[],
  groups: readonly RunGroup[] | null,
  collapsed: ReadonlySet<string>,
): TableItem<R>[] {
  if (!groups) return runs.map((run) => ({ kind: "run", run }));
  const byId = new Map(runs.map((r) => [r.id, r]));
  const items: TableItem<R>[] = [];
  for (const group of groups) {
    const members = group.runIds.map((id) => byId.get(id)).filter((r): r is R => r !== undefined);
    const isCollapsed = collapsed.has(group.key);
    items.push({ kind: "group", group, collapsed: isCollapsed, runs: members });
    if (!isCollapsed) for (const run of members) items.push({ kind: "run", run, group: group.key });
  }
  return items;
}
