// Client-side quick search and grouping of runs by a config (or any dotted) key.
import type { RunRead } from "../api/client";
import { colorFor } from "./colors";
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

/** The grouping value of a run as text; objects are compared by their JSON. */
export function groupValue(run: unknown, key: string): string {
  const path = key.includes(".") ? key : `config.${key}`;
  const value = getPath(run, path);
  if (value === undefined || value === null) return NO_VALUE;
  return formatValue(value);
}

/** Groups in a stable order: numbers numerically, then text, "(none)" last. */
export function groupRuns<T extends { id: string }>(runs: T[], key: string): RunGroup[] {
  const byValue = new Map<string, string[]>();
  for (const run of runs) {
    const v = groupValue(run, key);
    const ids = byValue.get(v);
    if (ids) ids.push(run.id);
    else byValue.set(v, [run.id]);
  }
  const label = key.includes(".") ? key : `config.${key}`;
  const keys = [...byValue.keys()].sort((a, b) => {
    if (a === NO_VALUE) return 1;
    if (b === NO_VALUE) return -1;
    const na = Number(a);
    const nb = Number(b);
    if (a.trim() !== "" && b.trim() !== "" && !Number.isNaN(na) && !Number.isNaN(nb)) return na - nb;
    return a.localeCompare(b);
  });
  return keys.map((k) => ({
    key: k,
    label: `${label} = ${k}`,
    color: colorFor(`${label}=${k}`),
    runIds: byValue.get(k) ?? [],
  }));
}
