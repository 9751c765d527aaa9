// Pure helpers for the run page and the compare view: flattening nested config into dotted
// keys, diffing runs key by key, searching a nested tree, and reading a unified diff.

export type Flat = Record<string, unknown>;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** Nested dicts become dotted keys ({a: {b: 1}} -> {"a.b": 1}); lists and scalars are leaves.
 * An empty dict stays a leaf so that it still shows up. */
export function flatten(value: unknown, prefix = "", out: Flat = {}): Flat {
  if (isPlainObject(value)) {
    const keys = Object.keys(value);
    if (keys.length === 0 && prefix) {
      out[prefix] = {};
      return out;
    }
    for (const key of keys) flatten(value[key], prefix ? `${prefix}.${key}` : key, out);
    return out;
  }
  if (prefix) out[prefix] = value;
  return out;
}

/** Equality as a user reads values: NaN equals NaN, 0 equals -0, lists and dicts compare deeply. */
export function sameValue(a: unknown, b: unknown): boolean {
  if (typeof a === "number" && typeof b === "number") return a === b || (Number.isNaN(a) && Number.isNaN(b));
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((v, i) => sameValue(v, b[i]));
  }
  if (isPlainObject(a) && isPlainObject(b)) {
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    return ka.length === kb.length && ka.every((k) => k in b && sameValue(a[k], b[k]));
  }
  return false;
}

export interface DiffRow {
  key: string;
  /** One value per run, in the order given (undefined where the run lacks the key). */
  values: unknown[];
  present: boolean[];
  /** True when some run lacks the key or the values are not all the same. */
  differs: boolean;
}

/** Natural order: "layer2" before "layer10", case-insensitive. */
export function compareKeys(a: string, b: string): number {
  return a.localeCompare(b, undefined, { numeric: true, sensitivity: "base" }) || (a < b ? -1 : a > b ? 1 : 0);
}

/** One row per key in the union of the flattened objects, sorted by key. */
export function diffRows(objects: readonly unknown[], opts: { flat?: boolean } = {}): DiffRow[] {
  const flats = objects.map((o) => (opts.flat === false ? (isPlainObject(o) ? o : {}) : flatten(o)));
  const keys = new Set<string>();
  for (const f of flats) for (const k of Object.keys(f)) keys.add(k);
  const rows: DiffRow[] = [];
  for (const key of [...keys].sort(compareKeys)) {
    const present = flats.map((f) => Object.prototype.hasOwnProperty.call(f, key));
    const values = flats.map((f, i) => (present[i] ? f[key] : undefined));
    const differs = present.some((p) => !p) || values.some((v) => !sameValue(v, values[0]));
    rows.push({ key, values, present, differs });
  }
  return rows;
}

/** Rows to show: all, or only those that differ; then those whose key contains ``query``. */
export function visibleRows(rows: readonly DiffRow[], onlyDiffs: boolean, query = ""): DiffRow[] {
  const q = query.trim().toLowerCase();
  return rows.filter((r) => (!onlyDiffs || r.differs) && (!q || r.key.toLowerCase().includes(q)));
}

// --- a searchable tree ---------------------------------------------------------------------

/** A stable identifier for a path in a nested object (keys may contain dots). */
export function pathKey(path: readonly string[]): string {
  return path.join("\u001f");
}

/** How a leaf value reads in the tree and in searches (NaN and inf as words). */
export function leafText(value: unknown): string {
  if (value === null) return "null";
  if (value === undefined) return "";
  if (typeof value === "number") {
    if (Number.isNaN(value)) return "NaN";
    if (value === Infinity) return "inf";
    if (value === -Infinity) return "-inf";
    return String(value);
  }
  if (typeof value === "string") return value;
  if (typeof value === "boolean") return value ? "true" : "false";
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === "number" && !Number.isFinite(v) ? leafText(v) : v));
}

/** Paths (as pathKey) to show when searching ``query``: every node whose key or leaf value
 * contains it, its ancestors (to reach it) and, for a matching dict, everything below it.
 * Returns null for an empty query (show everything). */
export function matchingPaths(value: unknown, query: string): Set<string> | null {
  const q = query.trim().toLowerCase();
  if (!q) return null;
  const shown = new Set<string>();
  const addAll = (v: unknown, path: string[]) => {
    shown.add(pathKey(path));
    if (isPlainObject(v)) for (const k of Object.keys(v)) addAll(v[k], [...path, k]);
  };
  const walk = (v: unknown, path: string[]): boolean => {
    const name = path[path.length - 1] ?? "";
    if (path.length > 0 && name.toLowerCase().includes(q)) {
      addAll(v, path);
      return true;
    }
    let hit = false;
    if (isPlainObject(v)) {
      for (const k of Object.keys(v)) if (walk(v[k], [...path, k])) hit = true;
    } else if (path.length > 0) {
      hit = leafText(v).toLowerCase().includes(q);
    }
    if (hit) shown.add(pathKey(path));
    return hit;
  };
  walk(value, []);
  return shown;
}

// --- unified diffs (git diff output) -------------------------------------------------------

export type PatchLineKind = "meta" | "file" | "hunk" | "add" | "del" | "context";

/** The kind of every line of a unified diff. Inside a hunk "+"/"-" lines are content even when
 * they look like headers ("--- x" is a removed "-- x"); hunks end at the next "diff " line. */
export function classifyPatch(patch: string): { text: string; kind: PatchLineKind }[] {
  const lines = patch.endsWith("\n") ? patch.slice(0, -1).split("\n") : patch.split("\n");
  let inHunk = false;
  return lines.map((text) => {
    let kind: PatchLineKind;
    if (text.startsWith("diff ")) {
      inHunk = false;
      kind = "meta";
    } else if (text.startsWith("@@")) {
      inHunk = true;
      kind = "hunk";
    } else if (text.startsWith("[kiseki: diff truncated")) {
      kind = "meta";
    } else if (inHunk) {
      kind = text.startsWith("+") ? "add" : text.startsWith("-") ? "del" : text.startsWith("\\") ? "meta" : "context";
    } else if (text.startsWith("+++ ") || text.startsWith("--- ")) {
      kind = "file";
    } else {
      kind = "meta";
    }
    return { text, kind };
  });
}

/** Files a patch touches with the lines added and removed in each. */
export function patchStats(patch: string): { file: string; added: number; removed: number }[] {
  const out: { file: string; added: number; removed: number }[] = [];
  let current: { file: string; added: number; removed: number } | undefined;
  for (const { text, kind } of classifyPatch(patch)) {
    if (text.startsWith("diff --git ")) {
      const m = / b\/(.*)$/.exec(text);
      current = { file: m?.[1] ?? text.slice(11), added: 0, removed: 0 };
      out.push(current);
    } else if (current && kind === "add") current.added++;
    else if (current && kind === "del") current.removed++;
  }
  return out;
}

/** A command line as one would type it: arguments with spaces or quotes are single-quoted. */
export function shellJoin(argv: readonly string[]): string {
  return argv
    .map((a) => (a !== "" && /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'"'"'`)}'`))
    .join(" ");
}
