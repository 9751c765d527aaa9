// Smoothing of chart lines. Pure functions over a sequence of values (one per point, in x order).
//
// Non-finite inputs (NaN, ±Infinity, null) are skipped: they do not enter the running state, and
// their own output is null so the chart shows a gap there instead of hiding the bad value.

export type SmoothingKind = "none" | "ema" | "avg";

export interface Smoothing {
  kind: SmoothingKind;
  /** EMA weight, 0 (no smoothing) .. 0.99 */
  weight: number;
  /** running-average window in points (>= 1) */
  window: number;
}

export const NO_SMOOTHING: Smoothing = { kind: "none", weight: 0.6, window: 10 };

export const MAX_EMA_WEIGHT = 0.99;

type Values = ArrayLike<number | null | undefined>;

function finite(v: number | null | undefined): v is number {
  return typeof v === "number" && Number.isFinite(v);
}

export function clampWeight(weight: number): number {
  if (!Number.isFinite(weight) || weight <= 0) return 0;
  return Math.min(weight, MAX_EMA_WEIGHT);
}

export function clampWindow(window: number): number {
  if (!Number.isFinite(window) || window < 1) return 1;
  return Math.min(Math.floor(window), 100_000);
}

/** Debiased exponential moving average (as TensorBoard and W&B draw it): the running average
 * starts at 0 and is divided by ``1 - weight^n`` so the first points are not pulled to 0. */
export function ema(values: Values, weight: number): (number | null)[] {
  const w = clampWeight(weight);
  const out: (number | null)[] = new Array<number | null>(values.length);
  let acc = 0;
  let n = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!finite(v)) {
      out[i] = null;
      continue;
    }
    acc = acc * w + (1 - w) * v;
    n += 1;
    const debias = w === 0 ? 1 : 1 - Math.pow(w, n);
    out[i] = acc / debias;
  }
  return out;
}

/** Trailing mean of the last ``window`` finite values (fewer at the start). */
export function runningAverage(values: Values, window: number): (number | null)[] {
  const size = clampWindow(window);
  const out: (number | null)[] = new Array<number | null>(values.length);
  const ring: number[] = new Array<number>(size);
  let filled = 0;
  let head = 0;
  let sum = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!finite(v)) {
      out[i] = null;
      continue;
    }
    if (filled === size) {
      sum -= ring[head] as number;
    } else {
      filled += 1;
    }
    ring[head] = v;
    head = (head + 1) % size;
    sum += v;
    // recompute now and then so rounding errors of the running sum cannot pile up
    if (head === 0) sum = ring.slice(0, filled).reduce((a, b) => a + b, 0);
    out[i] = sum / filled;
  }
  return out;
}

/** The smoothed line for ``values``; with kind "none" it is the values with non-finite as null. */
export function smooth(values: Values, s: Smoothing): (number | null)[] {
  if (s.kind === "ema") return ema(values, s.weight);
  if (s.kind === "avg") return runningAverage(values, s.window);
  const out: (number | null)[] = new Array<number | null>(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    out[i] = finite(v) ? v : null;
  }
  return out;
}

/** True when the smoothing changes the line (then the raw line is drawn faint behind it). */
export function isSmoothing(s: Smoothing): boolean {
  return (s.kind === "ema" && clampWeight(s.weight) > 0) || (s.kind === "avg" && clampWindow(s.window) > 1);
}
