import { describe, expect, it } from "vitest";
import { parseJson, urlFor } from "./client";

describe("API client", () => {
  it("fills path parameters escaped and leaves out empty query values", () => {
    expect(urlFor("list_runs", { path: { project: "a b/c" }, query: { filter: "config.lr > 1", limit: 5, order: "" } })).toBe(
      "/api/v1/projects/a%20b%2Fc/runs?filter=config.lr+%3E+1&limit=5",
    );
  });

  it("revives NaN and infinities sent as tagged objects, leaving other objects alone", () => {
    const value = parseJson('{"a": {"$float": "nan"}, "b": [{"$float": "inf"}, {"$float": "-inf"}], "c": {"$float": "x", "y": 1}}') as {
      a: number;
      b: number[];
      c: unknown;
    };
    expect(Number.isNaN(value.a)).toBe(true);
    expect(value.b).toEqual([Infinity, -Infinity]);
    expect(value.c).toEqual({ $float: "x", y: 1 });
  });
});
