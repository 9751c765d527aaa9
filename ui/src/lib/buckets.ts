// Bucketed series as the server sends them (query_series: per bucket x, min, max, mean, last,
// count), and the pure steps that turn them into chart lines: merging the runs of a group onto a
// common x grid, aligning many lines on one x array for uPlot, extents and cursor look-ups.

/** Numbers: a plain array, or a Float64Array view of the server's binary answer. */
export type Numbers = ArrayLike<number>;

/** One run's (or group's) buckets, all arrays the same length, x ascending. Values may be NaN
 * or ±Infinity (logged as such); missing values from the server arrive as NaN. ``mean`` is
 * absent when the chart did not ask for it (lines go through ``last``). */
export interface Buckets {
  x: Numbers;
  min: Numbers;
  max: Numbers;
  mean?: Numbers;
  last: Numbers;
  count: Numbers;
}

/** Numbers from a JSON array: null and non-numbers become NaN. */
export function toNumbers(values: readonly unknown[] | undefined): number[] {
  const out = new Array<number>(values?.length ?? 0);
  for (let i = 0; i < out.length; i++) {
    const v = (values as readonly unknown[])[i];
    out[i] = typeof v === "number" ? v : NaN;
  }
  return out;
}

/** A server ``Series`` (arrays of unknown JSON values) as numeric buckets. */
export function fromSeries(s: {
  x: unknown[];
  min: unknown[];
  max: unknown[];
  mean: unknown[];
  last: unknown[];
  count: number[];
}): Buckets {
  return {
    x: toNumbers(s.x),
    min: toNumbers(s.min),
    max: toNumbers(s.max),
    mean: toNumbers(s.mean),
    last: toNumbers(s.last),
    count: s.count.map((c) => (typeof c === "number" ? c : 0)),
  };
}

/** Index of the first element of sorted ``xs`` that is >= ``x`` (xs.length when none). */
export function lowerBound(xs: ArrayLike<number>, x: number): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((xs[mid] as number) < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Index of the point of sorted ``xs`` nearest to ``x``; -1 when ``xs`` is empty or the nearest
 * point is farther than ``maxDistance``. */
export function nearestIndex(xs: ArrayLike<number>, x: number, maxDistance = Infinity): number {
  if (xs.length === 0 || !Number.isFinite(x)) return -1;
  const i = lowerBound(xs, x);
  let best = -1;
  let dist = Infinity;
  for (const j of [i - 1, i]) {
    if (j < 0 || j >= xs.length) continue;
    const d = Math.abs((xs[j] as number) - x);
    if (d < dist) {
      dist = d;
      best = j;
    }
  }
  return dist <= maxDistance ? best : -1;
}

/** A value of one line at grid position ``x``: its own point when it has one at ``x``, else the
 * linear interpolation between its neighbours (both finite); NaN outside its x range, in a gap of
 * non-finite values, or when it has no points. */
export function valueAtX(xs: Numbers, ys: Numbers, x: number): number {
  const i = lowerBound(xs, x);
  if (i < xs.length && xs[i] === x) {
    // several points at one x: the last one
    let j = i;
    while (j + 1 < xs.length && xs[j + 1] === x) j++;
    return ys[j] as number;
  }
  if (i === 0 || i >= xs.length) return NaN;
  const x0 = xs[i - 1] as number;
  const x1 = xs[i] as number;
  const y0 = ys[i - 1] as number;
  const y1 = ys[i] as number;
  if (!Number.isFinite(y0) || !Number.isFinite(y1)) return NaN;
  return y0 + ((y1 - y0) * (x - x0)) / (x1 - x0);
}

/** The sorted union of several ascending x arrays (duplicates once). */
export function unionX(xss: readonly Numbers[]): number[] {
  if (xss.length === 1) return dedupeSorted(xss[0] as Numbers);
  // Runs of one length share their bucket grid: then the union is that grid (common case,
  // 100 runs x 350 buckets per panel), found without sorting 35,000 numbers.
  const first = xss[0] ?? [];
  if (xss.every((xs) => sameArray(xs, first))) return dedupeSorted(first);
  let n = 0;
  for (const xs of xss) n += xs.length;
  const all = new Float64Array(n);
  let k = 0;
  for (const xs of xss) {
    for (let i = 0; i < xs.length; i++) {
      const x = xs[i] as number;
      if (Number.isFinite(x)) all[k++] = x;
    }
  }
  return dedupeSorted(Array.from(all.subarray(0, k).sort())); // typed sort: numeric, native
}

function sameArray(a: Numbers, b: Numbers): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function dedupeSorted(xs: Numbers): number[] {
  const out: number[] = [];
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i] as number;
    if (Number.isFinite(x) && (out.length === 0 || out[out.length - 1] !== x)) out.push(x);
  }
  return out;
}

/** A group of runs merged into one line. */
export interface MergedBuckets {
  x: number[];
  /** mean across the runs that have a finite value at x */
  mean: number[];
  /** lowest bucket min / highest bucket max across those runs (so a spike of one run shows) */
  min: number[];
  max: number[];
  /** how many runs contributed at x */
  n: number[];
}

export type LineValue = "last" | "mean";

/** Merge runs of a group onto a common x grid: the union of their x values. At each grid x a
 * run contributes when x lies within its own x range: its bucket at x, or (for a run whose grid
 * differs, or that misses buckets) the interpolation between its neighbouring buckets. Runs with a
 * non-finite value there are left out of the mean; NaN where no run contributes. */
export function mergeRuns(runs: readonly Buckets[], value: LineValue = "last"): MergedBuckets {
  const x = unionX(runs.map((r) => r.x));
  const mean = new Array<number>(x.length).fill(NaN);
  const min = new Array<number>(x.length).fill(NaN);
  const max = new Array<number>(x.length).fill(NaN);
  const n = new Array<number>(x.length).fill(0);
  const sums = new Array<number>(x.length).fill(0);
  for (const run of runs) {
    if (run.x.length === 0) continue;
    const ys = value === "mean" ? run.mean : run.last;
    if (!ys) throw new Error("mergeRuns: buckets without the mean column");
    const first = run.x[0] as number;
    const last = run.x[run.x.length - 1] as number;
    const from = lowerBound(x, first);
    for (let i = from; i < x.length; i++) {
      const xi = x[i] as number;
      if (xi > last) break;
      const y = valueAtX(run.x, ys, xi);
      if (!Number.isFinite(y)) continue;
      sums[i] = (sums[i] as number) + y;
      n[i] = (n[i] as number) + 1;
      const lo = finiteOr(valueAtX(run.x, run.min, xi), y);
      const hi = finiteOr(valueAtX(run.x, run.max, xi), y);
      const curMin = min[i] as number;
      const curMax = max[i] as number;
      min[i] = Number.isNaN(curMin) ? Math.min(lo, y) : Math.min(curMin, lo, y);
      max[i] = Number.isNaN(curMax) ? Math.max(hi, y) : Math.max(curMax, hi, y);
    }
  }
  for (let i = 0; i < x.length; i++) if ((n[i] as number) > 0) mean[i] = (sums[i] as number) / (n[i] as number);
  return { x, mean, min, max, n };
}

function finiteOr(v: number, fallback: number): number {
  return Number.isFinite(v) ? v : fallback;
}

/** Lines aligned on one x array for uPlot: ``undefined`` where a line has no point at that x
 * (uPlot joins over it), ``null`` where its value is non-finite (uPlot leaves a gap). */
export interface Aligned {
  x: number[];
  ys: (number | null | undefined)[][];
}

/** Pixel columns to snap x values to when the union of the lines' x values grows past about
 * two values per column (runs of different lengths or times have different bucket grids). */
export interface Columns {
  x0: number;
  x1: number;
  n: number;
}

export function alignLines(
  lines: readonly { x: Numbers; y: ArrayLike<number | null> }[],
  columns?: Columns,
): Aligned {
  let union: number[] | undefined;
  if (columns && columns.n > 0 && columns.x1 > columns.x0 && lines.length > 1) {
    let total = 0;
    for (const l of lines) total += l.x.length;
    if (total > columns.n * 2) {
      union = unionX(lines.map((l) => l.x));
      if (union.length > columns.n * 2) return alignToColumns(lines, columns);
    }
  }
  const x = union ?? unionX(lines.map((l) => l.x));
  let index: Map<number, number> | undefined;
  const ys = lines.map((line) => {
    const lx = line.x;
    // on the common grid already, with gaps as null (a smoothed line): used as it is
    if (lx.length === x.length && Array.isArray(line.y) && sameArray(lx, x) && gapsAreNull(line.y)) {
      return line.y as (number | null)[];
    }
    const out = new Array<number | null | undefined>(x.length);
    if (ascending(lx)) {
      // both ascending (the usual case): one merge walk, no hashing
      let j = 0;
      for (let i = 0; i < lx.length; i++) {
        const xi = lx[i] as number;
        while (j < x.length && (x[j] as number) < xi) j++;
        if (j === x.length) break;
        if (x[j] !== xi) continue;
        const v = line.y[i];
        out[j] = v !== null && v !== undefined && Number.isFinite(v) ? v : null;
      }
      return out;
    }
    if (!index) {
      index = new Map<number, number>();
      for (let i = 0; i < x.length; i++) index.set(x[i] as number, i);
    }
    for (let i = 0; i < lx.length; i++) {
      const at = index.get(lx[i] as number);
      if (at === undefined) continue;
      const v = line.y[i];
      out[at] = v !== null && v !== undefined && Number.isFinite(v) ? v : null;
    }
    return out;
  });
  return { x, ys };
}

/** True when every value is a finite number or null. */
function gapsAreNull(ys: readonly (number | null)[]): boolean {
  for (let i = 0; i < ys.length; i++) {
    const v = ys[i];
    if (v !== null && !(typeof v === "number" && v - v === 0)) return false;
  }
  return true;
}

/** True when ``xs`` never decreases (NaN anywhere: false). */
function ascending(xs: Numbers): boolean {
  for (let i = 1; i < xs.length; i++) if (!((xs[i - 1] as number) <= (xs[i] as number))) return false;
  return xs.length === 0 || !Number.isNaN(xs[0] as number);
}

/** Lowest and highest finite value (positive only when ``positive``) over arrays; null if none. */
export function extent(
  arrays: readonly ArrayLike<number | null | undefined>[],
  positive = false,
): [number, number] | null {
  let lo = Infinity;
  let hi = -Infinity;
  for (const arr of arrays) {
    if (arr instanceof Float64Array) {
      // the server's columns: a loop over one array type only (several times faster)
      for (let i = 0; i < arr.length; i++) {
        const v = arr[i] as number;
        if (v - v !== 0 || (positive && v <= 0)) continue; // NaN and ±Infinity: v - v is NaN
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      continue;
    }
    for (let i = 0; i < arr.length; i++) {
      const v = arr[i];
      if (typeof v !== "number" || !Number.isFinite(v) || (positive && v <= 0)) continue;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  return lo <= hi ? [lo, hi] : null;
}

/** Like alignLines, but every x moves to the nearest of ``n + 1`` evenly spaced columns over
 * [x0, x1] (at most half a column off: below a pixel on screen). A line with several values in one
 * column keeps its last finite one there. Columns no line uses are dropped. */
export function alignToColumns(
  lines: readonly { x: Numbers; y: ArrayLike<number | null> }[],
  { x0, x1, n }: Columns,
): Aligned {
  const width = (x1 - x0) / n;
  const used = new Uint8Array(n + 1);
  const cols = lines.map((line) => {
    const c = new Int32Array(line.x.length);
    for (let i = 0; i < line.x.length; i++) {
      const v = line.x[i] as number;
      const k = Number.isFinite(v) ? Math.min(n, Math.max(0, Math.round((v - x0) / width))) : -1;
      c[i] = k;
      if (k >= 0) used[k] = 1;
    }
    return c;
  });
  const index = new Int32Array(n + 1).fill(-1);
  const x: number[] = [];
  for (let k = 0; k <= n; k++) {
    if (!used[k]) continue;
    index[k] = x.length;
    x.push(x0 + k * width);
  }
  const ys = lines.map((line, li) => {
    const out = new Array<number | null | undefined>(x.length);
    const c = cols[li] as Int32Array;
    for (let i = 0; i < line.x.length; i++) {
      const k = c[i] as number;
      if (k < 0) continue;
      const at = index[k] as number;
      const v = line.y[i];
      const value = v !== null && v !== undefined && Number.isFinite(v) ? v : null;
      if (value === null && typeof out[at] === "number") continue;
      out[at] = value;
    }
    return out;
  });
  return { x, ys };
}
