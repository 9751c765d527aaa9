import { describe, expect, it } from "vitest";
import { columnAt, columnEdges, commonEdges, heatColor, heatGrid, logScale, rebin } from "./heatmap";

const sum = (xs: ArrayLike<number>) => Array.from(xs).reduce((a, b) => a + b, 0);

describe("commonEdges", () => {
  it("spans every finite edge in equal bins", () => {
    expect(commonEdges([[0, 1, 2], [-2, 4], [NaN, Infinity]], 3)).toEqual([-2, 0, 2, 4]);
  });
  it("widens a single value and falls back to [0, 1]", () => {
    expect(commonEdges([[3, 3]], 2)).toEqual([2.5, 3, 3.5]);
    expect(commonEdges([], 2)).toEqual([0, 0.5, 1]);
  });
});

describe("rebin", () => {
  it("is the identity on the same edges", () => {
    expect([...rebin([0, 1, 2], [3, 5], [0, 1, 2])]).toEqual([3, 5]);
  });

  it("splits a bin by overlap", () => {
    expect([...rebin([0, 4], [8], [0, 1, 2, 3, 4])]).toEqual([2, 2, 2, 2]);
    expect([...rebin([0, 1, 2, 3, 4], [1, 2, 3, 4], [0, 2, 4])]).toEqual([3, 7]);
    const out = rebin([0, 3], [3], [0, 2, 4]);
    expect(out[0]).toBeCloseTo(2);
    expect(out[1]).toBeCloseTo(1);
  });

  it("keeps the total for bins inside the range, on non-uniform targets too", () => {
    const target = [0, 0.5, 3, 3.1, 10];
    const out = rebin([0, 1.7, 2.2, 9.9], [10, 20, 30], target);
    expect(sum(out)).toBeCloseTo(60);
  });

  it("puts a zero-width bin in the bin holding it, the top edge included", () => {
    expect([...rebin([1, 1], [4], [0, 1, 2])]).toEqual([0, 4]);
    expect([...rebin([2, 2], [4], [0, 1, 2])]).toEqual([0, 4]);
  });

  it("skips non-finite edges and counts and drops mass outside", () => {
    expect([...rebin([NaN, 0, 1, Infinity], [5, 1, 5], [0, 1])]).toEqual([1]);
    expect([...rebin([0, 1, 2], [NaN, -1], [0, 2])]).toEqual([0]);
    expect([...rebin([-1, 1], [4], [0, 2])]).toEqual([2]);
  });
});

describe("heatGrid", () => {
  it("puts steps with different edges on common bins", () => {
    const grid = heatGrid([0, 10], [[0, 1], [0, 2, 4]], [[4], [2, 2]], 4);
    expect(grid.edges).toEqual([0, 1, 2, 3, 4]);
    expect([...(grid.counts[0] ?? [])]).toEqual([4, 0, 0, 0]);
    expect([...(grid.counts[1] ?? [])]).toEqual([1, 1, 1, 1]);
    expect(grid.max).toBe(4);
    expect(grid.steps).toEqual([0, 10]);
  });

  it("uses only steps that have both edges and counts", () => {
    expect(heatGrid([1, 2, 3], [[0, 1]], [[1], [2]]).counts).toHaveLength(1);
  });
});

describe("colour scale", () => {
  it("is logarithmic from 0 (no count) to 1 (the max)", () => {
    expect(logScale(0, 100)).toBe(0);
    expect(logScale(100, 100)).toBe(1);
    expect(logScale(9, 99)).toBeCloseTo(0.5);
    expect(logScale(NaN, 5)).toBe(0);
    expect(logScale(3, 0)).toBe(0);
  });

  it("maps to viridis ends", () => {
    expect(heatColor(0)).toEqual([68, 1, 84]);
    expect(heatColor(1)).toEqual([253, 231, 37]);
    expect(heatColor(NaN)).toEqual([68, 1, 84]);
  });
});

describe("columns", () => {
  it("spans each step to the next", () => {
    expect(columnEdges([0, 10, 30])).toEqual([0, 10, 30, 50]);
    expect(columnEdges([5])).toEqual([5, 6]);
    expect(columnEdges([])).toEqual([]);
  });
  it("finds the step under x", () => {
    const e = columnEdges([0, 10, 30]);
    expect([columnAt(e, -1), columnAt(e, 0), columnAt(e, 9.9), columnAt(e, 10), columnAt(e, 49), columnAt(e, 51)]).toEqual([
      -1, 0, 0, 1, 2, -1,
    ]);
  });
});
