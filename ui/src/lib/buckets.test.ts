import { describe, expect, it } from "vitest";
import {
  alignLines,
  alignToColumns,
  extent,
  fromSeries,
  lowerBound,
  mergeRuns,
  nearestIndex,
  toNumbers,
  unionX,
  valueAtX,
  type Buckets,
} from "./buckets";

/** Buckets with count 1 (raw points): min = max = mean = last = y. */
function raw(x: number[], y: number[]): Buckets {
  return { x, min: [...y], max: [...y], mean: [...y], last: [...y], count: x.map(() => 1) };
}

describe("conversion", () => {
  it("turns JSON values into numbers, null into NaN", () => {
    expect(toNumbers([1, null, "x", Infinity])).toEqual([1, NaN, NaN, Infinity]);
    const b = fromSeries({ x: [0, 10], min: [1, 2], max: [3, 4], mean: [2, 3], last: [3, null], count: [5, 5] });
    expect(b.last).toEqual([3, NaN]);
    expect(b.max).toEqual([3, 4]);
  });
});

describe("look-ups", () => {
  it("lowerBound and nearestIndex", () => {
    const xs = [0, 10, 20, 30];
    expect(lowerBound(xs, -5)).toBe(0);
    expect(lowerBound(xs, 10)).toBe(1);
    expect(lowerBound(xs, 11)).toBe(2);
    expect(lowerBound(xs, 99)).toBe(4);
    expect(nearestIndex(xs, 14)).toBe(1);
    expect(nearestIndex(xs, 16)).toBe(2);
    expect(nearestIndex(xs, 99)).toBe(3);
    expect(nearestIndex(xs, 99, 5)).toBe(-1);
    expect(nearestIndex([], 1)).toBe(-1);
    expect(nearestIndex(xs, NaN)).toBe(-1);
  });

  it("valueAtX: exact, interpolated, outside, across a gap", () => {
    const xs = [0, 10, 20, 30];
    const ys = [1, 2, NaN, 4];
    expect(valueAtX(xs, ys, 10)).toBe(2);
    expect(valueAtX(xs, ys, 5)).toBe(1.5);
    expect(valueAtX(xs, ys, 15)).toBeNaN(); // next to a NaN: no made-up value
    expect(valueAtX(xs, ys, -1)).toBeNaN();
    expect(valueAtX(xs, ys, 31)).toBeNaN();
    expect(valueAtX(xs, ys, 20)).toBeNaN();
  });

  it("unionX merges sorted grids once each", () => {
    expect(unionX([[0, 2, 4], [1, 2, 3, NaN]])).toEqual([0, 1, 2, 3, 4]);
    expect(unionX([[0, 0, 5]])).toEqual([0, 5]);
    expect(unionX([])).toEqual([]);
  });

  it("extent skips non-finite (and non-positive for log scales)", () => {
    expect(extent([[1, NaN, 5], [Infinity, -2, null, undefined]])).toEqual([-2, 5]);
    expect(extent([[0, -1, 0.5, 8]], true)).toEqual([0.5, 8]);
    expect(extent([[NaN, Infinity]])).toBeNull();
  });
});

describe("mergeRuns (grouped runs)", () => {
  it("same grid: mean of the runs, band from the lowest min to the highest max", () => {
    const a: Buckets = { x: [0, 100], min: [1, 0.5], max: [9, 1], mean: [3, 0.8], last: [2, 0.6], count: [100, 100] };
    const b: Buckets = { x: [0, 100], min: [2, 0.2], max: [4, 50], mean: [3, 5], last: [4, 0.4], count: [100, 100] };
    const m = mergeRuns([a, b]);
    expect(m.x).toEqual([0, 100]);
    expect(m.mean).toEqual([3, 0.5]); // (2+4)/2, (0.6+0.4)/2
    expect(m.min).toEqual([1, 0.2]);
    expect(m.max).toEqual([9, 50]); // run b's spike inside its last bucket stays visible
    expect(m.n).toEqual([2, 2]);
    expect(mergeRuns([a, b], "mean").mean).toEqual([3, 2.9]);
  });

  it("different grids: each run is interpolated at the other's x within its own range", () => {
    const a = raw([0, 10, 20], [0, 10, 20]);
    const b = raw([5, 15], [100, 200]);
    const m = mergeRuns([a, b]);
    expect(m.x).toEqual([0, 5, 10, 15, 20]);
    // x=0: only a (b starts at 5); x=5: a=5, b=100; x=10: a=10, b=150; x=15: a=15, b=200; x=20: a only
    expect(m.n).toEqual([1, 2, 2, 2, 1]);
    expect(m.mean).toEqual([0, 52.5, 80, 107.5, 20]);
    expect(m.min).toEqual([0, 5, 10, 15, 20]);
    expect(m.max).toEqual([0, 100, 150, 200, 20]);
  });

  it("missing buckets (a hole in one run) are bridged by interpolation, not dropped to zero", () => {
    const a = raw([0, 1, 2, 3, 4], [1, 1, 1, 1, 1]);
    const b = raw([0, 4], [3, 7]); // b has no buckets at 1..3
    const m = mergeRuns([a, b]);
    expect(m.mean).toEqual([2, 2.5, 3, 3.5, 4]);
    expect(m.n).toEqual([2, 2, 2, 2, 2]);
  });

  it("a run that stopped early does not pull the mean after its end", () => {
    const long = raw([0, 1, 2, 3], [10, 10, 10, 10]);
    const short = raw([0, 1], [0, 0]);
    const m = mergeRuns([long, short]);
    expect(m.mean).toEqual([5, 5, 10, 10]);
    expect(m.n).toEqual([2, 2, 1, 1]);
  });

  it("non-finite values are left out of the mean; NaN where no run has a value", () => {
    const a = raw([0, 1, 2], [NaN, Infinity, 4]);
    const b = raw([0, 1, 2], [NaN, 2, 6]);
    const m = mergeRuns([a, b]);
    expect(m.mean[0]).toBeNaN();
    expect(m.n).toEqual([0, 1, 2]);
    expect(m.mean[1]).toBe(2);
    expect(m.mean[2]).toBe(5);
    expect(m.max[1]).toBe(2);
    expect(mergeRuns([]).x).toEqual([]);
    expect(mergeRuns([raw([], [])]).x).toEqual([]);
  });
});

describe("alignLines", () => {
  it("puts lines on the union x: undefined where missing, null where non-finite", () => {
    const out = alignLines([
      { x: [0, 2], y: [1, NaN] },
      { x: [1, 2], y: [5, Infinity] },
      { x: [0, 1, 2], y: [null, 3, 4] },
    ]);
    expect(out.x).toEqual([0, 1, 2]);
    expect(out.ys[0]).toEqual([1, undefined, null]);
    expect(out.ys[1]).toEqual([undefined, 5, null]);
    expect(out.ys[2]).toEqual([null, 3, 4]);
  });
});

describe("alignToColumns", () => {
  it("snaps the x values of many different grids to shared columns", () => {
    const out = alignToColumns(
      [
        { x: [0, 9.6, 20.2, 30], y: [1, 2, 3, 4] },
        { x: [0.4, 10.3, 19.9, 29.6], y: [5, NaN, 7, 8] },
        { x: [0.2, 0.3], y: [9, NaN] }, // two values in one column: the finite one stays
      ],
      { x0: 0, x1: 30, n: 3 },
    );
    expect(out.x).toEqual([0, 10, 20, 30]);
    expect(out.ys[0]).toEqual([1, 2, 3, 4]);
    expect(out.ys[1]).toEqual([5, null, 7, 8]);
    expect(out.ys[2]).toEqual([9, undefined, undefined, undefined]);
  });

  it("alignLines snaps only when the union outgrows the columns", () => {
    const a = { x: [0, 1, 2, 3], y: [1, 1, 1, 1] };
    const b = { x: [0.5, 1.5, 2.5], y: [2, 2, 2] };
    expect(alignLines([a, b], { x0: 0, x1: 3, n: 100 }).x).toEqual([0, 0.5, 1, 1.5, 2, 2.5, 3]);
    expect(alignLines([a, b], { x0: 0, x1: 3, n: 3 }).x).toEqual([0, 1, 2, 3]);
  });
});

describe("Float64Array columns (the binary series answer)", () => {
  const f = (xs: number[]) => Float64Array.from(xs);

  it("extent over typed and plain arrays alike", () => {
    expect(extent([f([1, NaN, 5, -Infinity]), [Infinity, -2, null]])).toEqual([-2, 5]);
    expect(extent([f([0, -1, 0.5, 8, Infinity])], true)).toEqual([0.5, 8]);
    expect(extent([f([NaN, Infinity, -Infinity])])).toBeNull();
  });

  it("alignLines: typed x, shared grid, other grids, unsorted x", () => {
    const grid = f([0, 1, 2]);
    const smoothed = [1, null, 3]; // gaps already null: used as it is
    const out = alignLines([
      { x: grid, y: smoothed },
      { x: f([0, 1, 2]), y: f([4, NaN, Infinity]) },
      { x: f([0, 2]), y: [7, 8] },
      { x: [2, 0], y: [9, 10] }, // not ascending: looked up by value
    ]);
    expect(out.x).toEqual([0, 1, 2]);
    expect(out.ys[0]).toBe(smoothed);
    expect(out.ys[1]).toEqual([4, null, null]);
    expect(out.ys[2]).toEqual([7, undefined, 8]);
    expect(out.ys[3]).toEqual([10, undefined, 9]);
    // a plain array with a non-finite number is copied with a gap there
    const raw = [1, NaN, 3];
    const again = alignLines([{ x: grid, y: raw }]);
    expect(again.ys[0]).not.toBe(raw);
    expect(again.ys[0]).toEqual([1, null, 3]);
  });

  it("mergeRuns of typed buckets without the mean column", () => {
    const a: Buckets = { x: f([0, 100]), min: f([1, 0.5]), max: f([9, 1]), last: f([2, 0.6]), count: f([100, 100]) };
    const b: Buckets = { x: f([0, 100]), min: f([2, 0.2]), max: f([4, 50]), last: f([4, 0.4]), count: f([100, 100]) };
    const m = mergeRuns([a, b]);
    expect(m.mean).toEqual([3, 0.5]);
    expect(m.min).toEqual([1, 0.2]);
    expect(m.max).toEqual([9, 50]);
    expect(() => mergeRuns([a, b], "mean")).toThrow(/mean/);
  });
});
