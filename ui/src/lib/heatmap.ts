// Histograms over steps as a heat-map (x = step, y = value, colour = count). Each step's
// histogram may have its own bin edges, so every step is re-binned onto one common set of bins
// first; the counts are then coloured on a log scale. Pure: the canvas drawing is in
// components/media/HistogramHeatmap.tsx.

export interface HeatGrid {
  steps: number[];
  /** common bin edges, ascending, length = bins + 1 */
  edges: number[];
  /** one row of counts per step, each of length edges.length - 1 */
  counts: Float64Array[];
  /** the largest re-binned count */
  max: number;
}

/** Equal-width edges spanning every finite edge of every step ([lo-0.5, lo+0.5] when all
 * values are equal; [0, 1] when there is no finite edge at all). */
export function commonEdges(bins: readonly (readonly number[])[], n: number): number[] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const edges of bins) {
    for (const e of edges) {
      if (!Number.isFinite(e)) continue;
      if (e < lo) lo = e;
      if (e > hi) hi = e;
    }
  }
  if (!Number.isFinite(lo)) [lo, hi] = [0, 1];
  if (lo === hi) [lo, hi] = [lo - 0.5, hi + 0.5];
  const count = Math.max(1, Math.floor(n));
  const out: number[] = [];
  for (let i = 0; i <= count; i++) out.push(i === count ? hi : lo + ((hi - lo) * i) / count);
  return out;
}

/** Moves ``counts`` (over ``edges``) onto ``target`` edges, assuming values spread evenly inside
 * each source bin: a source bin gives each target bin the share of its width they overlap.
 * A zero-width source bin gives everything to the target bin holding its edge. Counts that are
 * not finite or not positive, and bins with non-finite edges, are skipped; mass outside the
 * target range is dropped. */
export function rebin(edges: readonly number[], counts: readonly number[], target: readonly number[]): Float64Array {
  const nt = target.length - 1;
  const out = new Float64Array(Math.max(0, nt));
  if (nt <= 0) return out;
  const tLo = target[0] as number;
  const tHi = target[nt] as number;
  const width = (tHi - tLo) / nt;
  const uniform = target.every((e, i) => Math.abs(e - (tLo + width * i)) <= Math.abs(width) * 1e-9 + 1e-12);
  const indexOf = (x: number): number => {
    // target bin holding x (the last bin includes its upper edge)
    if (x < tLo || x > tHi) return -1;
    if (uniform && width > 0) return Math.min(nt - 1, Math.floor((x - tLo) / width));
    let lo = 0;
    let hi = nt - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((target[mid] as number) <= x) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  };
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i] as number;
    const a = edges[i];
    const b = edges[i + 1];
    if (!(c > 0) || !Number.isFinite(c) || a === undefined || b === undefined) continue;
    if (!Number.isFinite(a) || !Number.isFinite(b)) continue;
    const lo = Math.min(a, b);
    const hi = Math.max(a, b);
    if (hi === lo) {
      const j = indexOf(lo);
      if (j >= 0) out[j] = (out[j] as number) + c;
      continue;
    }
    const first = Math.max(0, indexOf(Math.max(lo, tLo)));
    for (let j = first; j < nt; j++) {
      const t0 = target[j] as number;
      const t1 = target[j + 1] as number;
      if (t0 >= hi) break;
      const overlap = Math.min(hi, t1) - Math.max(lo, t0);
      if (overlap > 0) out[j] = (out[j] as number) + (c * overlap) / (hi - lo);
    }
  }
  return out;
}

/** The heat-map of a histogram key: every step re-binned onto ``nBins`` common bins. */
export function heatGrid(
  steps: readonly number[],
  bins: readonly (readonly number[])[],
  counts: readonly (readonly number[])[],
  nBins = 64,
): HeatGrid {
  const n = Math.min(steps.length, bins.length, counts.length);
  const usable = bins.slice(0, n);
  const edges = commonEdges(usable, nBins);
  const rows: Float64Array[] = [];
  let max = 0;
  for (let i = 0; i < n; i++) {
    const row = rebin(usable[i] as number[], counts[i] as number[], edges);
    for (const v of row) if (v > max) max = v;
    rows.push(row);
  }
  return { steps: steps.slice(0, n), edges, counts: rows, max };
}

/** 0 for no count, else log(1 + count) / log(1 + max) in (0, 1]. */
export function logScale(count: number, max: number): number {
  if (!(count > 0) || !(max > 0)) return 0;
  return Math.min(1, Math.log1p(count) / Math.log1p(max));
}

// viridis, sampled at 9 points
const STOPS: [number, number, number][] = [
  [68, 1, 84],
  [71, 44, 122],
  [59, 81, 139],
  [44, 113, 142],
  [33, 144, 141],
  [39, 173, 129],
  [92, 200, 99],
  [170, 220, 50],
  [253, 231, 37],
];

/** Colour of t in [0, 1] on the viridis scale. */
export function heatColor(t: number): [number, number, number] {
  const x = Math.max(0, Math.min(1, Number.isFinite(t) ? t : 0)) * (STOPS.length - 1);
  const i = Math.min(STOPS.length - 2, Math.floor(x));
  const f = x - i;
  const a = STOPS[i] as [number, number, number];
  const b = STOPS[i + 1] as [number, number, number];
  return [Math.round(a[0] + (b[0] - a[0]) * f), Math.round(a[1] + (b[1] - a[1]) * f), Math.round(a[2] + (b[2] - a[2]) * f)];
}

/** x extent of each step's column: from its step to the next one (the last column as wide as
 * the one before it, or 1). Steps must be ascending. */
export function columnEdges(steps: readonly number[]): number[] {
  if (steps.length === 0) return [];
  const out = [...steps];
  const n = steps.length;
  const lastGap = n > 1 ? (steps[n - 1] as number) - (steps[n - 2] as number) : 1;
  out.push((steps[n - 1] as number) + (lastGap > 0 ? lastGap : 1));
  return out;
}

/** The column (step index) under x, or -1. */
export function columnAt(edges: readonly number[], x: number): number {
  const n = edges.length - 1;
  if (n < 1 || !(x >= (edges[0] as number)) || x > (edges[n] as number)) return -1;
  let lo = 0;
  let hi = n - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if ((edges[mid] as number) <= x) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}
