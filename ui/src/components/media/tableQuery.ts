// Pure helpers of the table viewer: filter expressions built by the UI (group value clicks,
// aligning two runs by a key column), sort cycling, and matching rows of two runs by key.
import type { TableRow } from "./api";

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;
const WORDS = new Set(["and", "or", "not", "in", "true", "false", "null"]);

/** A column name as the filter language reads it: bare when it is a plain identifier, else in
 * backticks (a backtick inside is doubled). */
export function quoteColumn(name: string): string {
  if (IDENT.test(name) && !WORDS.has(name.toLowerCase())) return name;
  return "`" + name.replace(/`/g, "``") + "`";
}

/** A value as a filter literal, or null when the language has none for it (NaN, objects). */
export function literal(value: unknown): string | null {
  if (typeof value === "number") return Number.isFinite(value) ? String(value) : null;
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "boolean") return value ? "true" : "false";
  return null;
}

/** ``col = value`` (or null when the value has no literal). */
export function equalsFilter(column: string, value: unknown): string | null {
  const lit = literal(value);
  return lit === null ? null : `${quoteColumn(column)} = ${lit}`;
}

/** ``col in [v1, v2, ...]`` over the distinct values that have a literal; null when none has. */
export function inFilter(column: string, values: readonly unknown[]): string | null {
  const lits = [...new Set(values.map(literal).filter((x): x is string => x !== null))];
  return lits.length ? `${quoteColumn(column)} in [${lits.join(", ")}]` : null;
}

/** Both expressions must hold. */
export function andFilter(a: string, b: string | null): string {
  if (!b) return a;
  if (!a.trim()) return b;
  return `(${a}) and ${b}`;
}

/** Sort in the URL: "+col" ascending, "-col" descending, "" none. */
export function parseSort(raw: string): { column: string; desc: boolean } | null {
  if (raw.length < 2 || (raw[0] !== "+" && raw[0] !== "-")) return null;
  return { column: raw.slice(1), desc: raw[0] === "-" };
}

/** A click on a header: none -> ascending -> descending -> none (another column: ascending). */
export function nextSort(raw: string, column: string): string {
  const cur = parseSort(raw);
  if (!cur || cur.column !== column) return `+${column}`;
  return cur.desc ? "" : `-${column}`;
}

/** A key value as a map key: numbers and strings that look alike stay apart. */
export function keyOf(value: unknown): string {
  return `${typeof value}:${typeof value === "number" ? String(value) : JSON.stringify(value)}`;
}

/** The first row of ``rows`` per key value of column ``at``. */
export function rowsByKey(rows: readonly TableRow[], at: number): Map<string, TableRow> {
  const out = new Map<string, TableRow>();
  if (at < 0) return out;
  for (const row of rows) {
    const k = keyOf(row.cells[at]);
    if (!out.has(k)) out.set(k, row);
  }
  return out;
}

/** Whether two cells differ (numbers with a relative tolerance; NaN equals NaN). */
export function cellsDiffer(a: unknown, b: unknown): boolean {
  if (typeof a === "number" && typeof b === "number") {
    if (Number.isNaN(a) && Number.isNaN(b)) return false;
    if (a === b) return false;
    return !(Math.abs(a - b) <= 1e-12 * Math.max(Math.abs(a), Math.abs(b)));
  }
  if (a !== null && b !== null && typeof a === "object" && typeof b === "object") {
    const sa = (a as Record<string, unknown>)["sha256"];
    const sb = (b as Record<string, unknown>)["sha256"];
    if (typeof sa === "string" || typeof sb === "string") return sa !== sb;
    return JSON.stringify(a) !== JSON.stringify(b);
  }
  return a !== b;
}
