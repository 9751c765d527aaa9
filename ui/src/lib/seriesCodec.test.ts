import { describe, expect, it } from "vitest";
import { decodeSeries, fromJsonSeries, seriesAccept } from "./seriesCodec";

// Written by the server's encoder (kiseki.server.routes.metrics._series_binary) for
//   r0/loss: x [0, 10, 2**53], min [nan, -0.0, 1/3], last [-inf, -0.0, 5e-324], count [1, 2, 3]
//   r1/loss: no points
//   ré/acc:  x [1.5], min [None -> NaN], last [2], count [7]
//   missing: [{run: "nope", key: "loss"}], columns x, min, last, count
const FROM_SERVER =
  "S1NTMfAAAAB7ImNvbHVtbnMiOlsieCIsIm1pbiIsImxhc3QiLCJjb3VudCJdLCJzZXJpZXMiOlt7InJ1biI6InIwIiwia2V5IjoibG9zcyIsInhfYXhpcyI6InN0ZXAiLCJuIjozfSx7InJ1biI6InIxIiwia2V5IjoibG9zcyIsInhfYXhpcyI6InN0ZXAiLCJuIjowfSx7InJ1biI6InLDqSIsImtleSI6ImFjYyIsInhfYXhpcyI6InN0ZXAiLCJuIjoxfV0sIm1pc3NpbmciOlt7InJ1biI6Im5vcGUiLCJrZXkiOiJsb3NzIn1dfSAgICAgICAAAAAAAAAAAAAAAAAAACRAAAAAAAAAQEMAAAAAAAD4fwAAAAAAAACAVVVVVVVV1T8AAAAAAADw/wAAAAAAAACAAQAAAAAAAAAAAAAAAADwPwAAAAAAAABAAAAAAAAACEAAAAAAAAD4PwAAAAAAAPh/AAAAAAAAAEAAAAAAAAAcQA==";

function buffer(b64: string): ArrayBuffer {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  return bytes.buffer;
}

describe("binary series answer", () => {
  it("reads the server's columns bit for bit: NaN, ±inf, -0, subnormals, 2^53", () => {
    const answer = decodeSeries(buffer(FROM_SERVER));
    expect(answer.missing).toEqual([{ run: "nope", key: "loss" }]);
    expect(answer.series.map((s) => [s.run, s.key, s.x_axis])).toEqual([
      ["r0", "loss", "step"],
      ["r1", "loss", "step"],
      ["ré", "acc", "step"],
    ]);
    const r0 = answer.series[0]!.columns;
    expect(Object.keys(r0)).toEqual(["x", "min", "last", "count"]);
    expect([...r0.x!]).toEqual([0, 10, 2 ** 53]);
    expect(r0.min![0]).toBeNaN();
    expect(Object.is(r0.min![1], -0)).toBe(true);
    expect(r0.min![2]).toBe(1 / 3);
    expect([...r0.last!]).toEqual([-Infinity, -0, 5e-324]);
    expect(Object.is(r0.last![1], -0)).toBe(true);
    expect([...r0.count!]).toEqual([1, 2, 3]);
    expect(r0.mean).toBeUndefined(); // not asked for
    expect(answer.series[1]!.columns.x!.length).toBe(0);
    const r2 = answer.series[2]!.columns;
    expect([...r2.x!]).toEqual([1.5]);
    expect(r2.min![0]).toBeNaN(); // a missing value (null in JSON)
    expect([...r2.count!]).toEqual([7]);
  });

  it("refuses what is not a whole series buffer", () => {
    const good = buffer(FROM_SERVER);
    expect(() => decodeSeries(good.slice(0, good.byteLength - 8))).toThrow(/truncated/);
    expect(() => decodeSeries(new TextEncoder().encode('{"series": []}').buffer)).toThrow(/not a kiseki series/);
    const longer = new Uint8Array(good.byteLength + 8);
    longer.set(new Uint8Array(good));
    expect(() => decodeSeries(longer.buffer)).toThrow(/trailing/);
  });

  it("reads a JSON answer into the same shape (null and non-numbers as NaN)", () => {
    const answer = fromJsonSeries(
      {
        series: [{ run: "a", key: "k", x_axis: "step", x: [0, 1], min: [null, 2], max: [3, 4], mean: [1, 1], last: [Infinity, "x"], count: [1, 1] }],
        missing: [],
      },
      ["x", "min", "last"],
    );
    const c = answer.series[0]!.columns;
    expect([...c.x!]).toEqual([0, 1]);
    expect(c.min![0]).toBeNaN();
    expect([...c.last!].map(String)).toEqual(["Infinity", "NaN"]);
    expect(c.max).toBeUndefined();
  });

  it("asks for the columns by media type parameter", () => {
    expect(seriesAccept()).toBe("application/x-kiseki-series");
    expect(seriesAccept(["x", "last"])).toBe('application/x-kiseki-series; columns="x last"');
  });
});
