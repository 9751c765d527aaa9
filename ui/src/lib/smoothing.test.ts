import { describe, expect, it } from "vitest";
import { clampWeight, ema, isSmoothing, runningAverage, smooth } from "./smoothing";

describe("ema", () => {
  it("is debiased: the first point is the value itself", () => {
    const out = ema([10, 20, 30], 0.5);
    // acc: 5, 12.5, 21.25 ; debias: 0.5, 0.75, 0.875
    expect(out[0]).toBeCloseTo(10, 12);
    expect(out[1]).toBeCloseTo(12.5 / 0.75, 12);
    expect(out[2]).toBeCloseTo(21.25 / 0.875, 12);
  });

  it("weight 0 returns the values; a constant stays constant at any weight", () => {
    expect(ema([1, 5, -2], 0)).toEqual([1, 5, -2]);
    for (const v of ema([3, 3, 3, 3, 3], 0.99)) expect(v).toBeCloseTo(3, 10);
  });

  it("clamps weights outside 0..0.99", () => {
    expect(clampWeight(1.5)).toBe(0.99);
    expect(clampWeight(-1)).toBe(0);
    expect(clampWeight(NaN)).toBe(0);
    expect(ema([1, 2], NaN)).toEqual([1, 2]);
  });

  it("skips non-finite values and leaves gaps at them", () => {
    const out = ema([1, NaN, Infinity, null, 3, -Infinity], 0.5);
    expect(out[1]).toBeNull();
    expect(out[2]).toBeNull();
    expect(out[3]).toBeNull();
    expect(out[5]).toBeNull();
    expect(out[0]).toBe(1);
    // the NaN/inf did not enter the state: same as ema([1, 3])
    expect(out[4]).toBeCloseTo((ema([1, 3], 0.5)[1] as number), 12);
    expect(out[4]).toBeCloseTo((0.25 + 1.5) / 0.75, 12);
  });

  it("handles empty input", () => {
    expect(ema([], 0.9)).toEqual([]);
  });
});

describe("runningAverage", () => {
  it("is the trailing mean over the window", () => {
    expect(runningAverage([1, 2, 3, 4, 5], 2)).toEqual([1, 1.5, 2.5, 3.5, 4.5]);
    expect(runningAverage([1, 2, 3, 4, 5], 3)).toEqual([1, 1.5, 2, 3, 4]);
    expect(runningAverage([4, 8], 1)).toEqual([4, 8]);
  });

  it("skips non-finite values (window counts finite points) and leaves gaps", () => {
    expect(runningAverage([2, NaN, 4, Infinity, 6], 2)).toEqual([2, null, 3, null, 5]);
  });

  it("stays exact over long inputs", () => {
    const values = Array.from({ length: 10_000 }, (_, i) => (i % 7) * 0.1 + 1e6);
    const out = runningAverage(values, 7);
    // every full window holds each residue 0..6 once: mean = 1e6 + 0.3
    expect(out[9_999]).toBeCloseTo(1e6 + 0.3, 6);
  });

  it("treats bad windows as 1", () => {
    expect(runningAverage([1, 3], 0)).toEqual([1, 3]);
    expect(runningAverage([1, 3], NaN)).toEqual([1, 3]);
  });
});

describe("smooth", () => {
  it("none keeps values and turns non-finite into null", () => {
    expect(smooth([1, NaN, -Infinity, 2], { kind: "none", weight: 0.5, window: 3 })).toEqual([1, null, null, 2]);
  });
  it("dispatches by kind", () => {
    expect(smooth([1, 3], { kind: "avg", weight: 0, window: 2 })).toEqual([1, 2]);
    expect(smooth([1, 3], { kind: "ema", weight: 0.5, window: 2 })[1]).toBeCloseTo(1.75 / 0.75, 12);
  });
  it("isSmoothing is false for no-op settings", () => {
    expect(isSmoothing({ kind: "ema", weight: 0, window: 5 })).toBe(false);
    expect(isSmoothing({ kind: "avg", weight: 0.5, window: 1 })).toBe(false);
    expect(isSmoothing({ kind: "none", weight: 0.9, window: 9 })).toBe(false);
    expect(isSmoothing({ kind: "ema", weight: 0.9, window: 1 })).toBe(true);
  });
});
