// Client-side quick search and grouping of runs by a config (or any dotted) key.
import type { RunRead } from "../api/client";
import { colorAt } from "./colors";
import { formatValue, getPath } from "./format";
import type { RunGroup } from "./types";

/** Runs whose name, id, tags or group contain every word of ``q`` (case-insensitive). */
export function quickSearch<T extends Pick<RunRead, "name" | "id" | "tags" | "group">>(runs: T[], q: string): T[] {
  const words = q.toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) return runs;
  return runs.filter((r) => {
    const hay = [r.name, r.id, r.group ?? "", ...r.tags].join("\u0000").toLowerCase();
    return words.every((w) => hay.includes(w));
  });
}

export const NO_VALUE = "(none)";

/** Run fields that can be grouped on directly (anything else is a config key). */
const RUN_FIELDS = new Set(["state", "group", "job_type", "name"]);

/** The dotted path a grouping key reads: ``lr`` and ``config.lr`` both mean ``config.lr``;
 * ``summary.x`` and plain run fields (``state``, ``group``, ``job_type``) are kept. */
export function groupPath(key: string): string {
  if (key.startsWith("config.") || key.startsWith("summary.") || RUN_FIELDS.has(key)) return key;
  return `config.${key}`;
}

/** The grouping value of a run as text; objects are compared by their JSON. */
export function groupValue(run: unknown, key: string): string {
  const value = getPath(run, groupPath(key));
  if (value === undefined || value === null) return NO_VALUE;
  return formatValue(value);
}

/** The number a group value reads as, or undefined for text ("inf"/"-inf" count as numbers). */
export function numericValue(text: string): number | undefined {
  if (text === "inf") return Infinity;
  if (text === "-inf") return -Infinity;
  if (text.trim() === "") return undefined;
  const n = Number(text);
  return Number.isNaN(n) ? undefined : n;
}

/** Orders group values: numbers numerically, then text alphabetically, "(none)" last. */
export function compareGroupValues(a: string, b: string): number {
  if (a === b) return 0;
  if (a === NO_VALUE) return 1;
  if (b === NO_VALUE) return -1;
  const na = numericValue(a);
  const nb = numericValue(b);
  if (na !== undefined && nb !== undefined) return na - nb || a.localeCompare(b);
  if (na !== undefined) return -1;
  if (nb !== undefined) return 1;
  return a.localeCompare(b);
}

/** Groups in a stable order (see compareGroupValues); runs keep their order inside a group. */
export function groupRuns<T extends { id: string }>(runs: T[], key: string): RunGroup[] {
  const byValue = new Map<string, string[]>();
  for (const run of runs) {
    const v = groupValue(run, key);
    const ids = byValue.get(v);
    if (ids) ids.push(run.id);
    else byValue.set(v, [run.id]);
  }
  const label = groupPath(key);
  const keys = [...byValue.keys()].sort(compareGroupValues);
  return keys.map((k, i) => ({
    key: k,
    label: `${label} = ${k}`,
    color: colorAt(i), // by position: hashing could give two groups one colour
    runIds: byValue.get(k) ?? [],
  }));
}

/** Mean of the finite numbers among ``values``; undefined when there are none. */
export function meanOf(values: Iterable<unknown>): number | undefined {
  let sum = 0;
  let n = 0;
  for (const v of values) {
    if (typeof v === "number" && Number.isFinite(v)) {
      sum += v;
      n += 1;
    }
  }
  return n > 0 ? sum / n : undefined;
}
