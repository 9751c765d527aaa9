import { describe, expect, it } from "vitest";
import { compareGroupValues, groupPath, groupRuns, groupValue, meanOf, NO_VALUE, quickSearch } from "./grouping";

interface R {
  id: string;
  name: string;
  tags: string[];
  group: string | null;
  config: Record<string, unknown>;
  summary?: Record<string, unknown>;
  state?: string;
}

const run = (id: string, config: Record<string, unknown> = {}, extra: Partial<R> = {}): R => ({
  id,
  name: `run-${id}`,
  tags: [],
  group: null,
  config,
  ...extra,
});

describe("quickSearch", () => {
  const runs = [
    run("a1", {}, { name: "ResNet baseline", tags: ["best", "v2"] }),
    run("b2", {}, { name: "vit-small", group: "sweep-7" }),
    run("c3", {}, { name: "<img src=x>" }),
  ];

  it("returns every run for blank text", () => {
    expect(quickSearch(runs, "")).toBe(runs);
    expect(quickSearch(runs, "   ")).toBe(runs);
  });

  it("matches name, id, tags and group case-insensitively", () => {
    expect(quickSearch(runs, "resnet").map((r) => r.id)).toEqual(["a1"]);
    expect(quickSearch(runs, "B2").map((r) => r.id)).toEqual(["b2"]);
    expect(quickSearch(runs, "BEST").map((r) => r.id)).toEqual(["a1"]);
    expect(quickSearch(runs, "sweep").map((r) => r.id)).toEqual(["b2"]);
    expect(quickSearch(runs, "<img").map((r) => r.id)).toEqual(["c3"]);
  });

  it("needs every word to match", () => {
    expect(quickSearch(runs, "resnet v2").map((r) => r.id)).toEqual(["a1"]);
    expect(quickSearch(runs, "resnet sweep")).toEqual([]);
  });

  it("does not match across field boundaries", () => {
    expect(quickSearch(runs, "baselinebest")).toEqual([]);
  });
});

describe("groupPath / groupValue", () => {
  it("treats bare keys as config keys and keeps scoped ones", () => {
    expect(groupPath("lr")).toBe("config.lr");
    expect(groupPath("optimizer.lr")).toBe("config.optimizer.lr");
    expect(groupPath("config.lr")).toBe("config.lr");
    expect(groupPath("summary.val/loss")).toBe("summary.val/loss");
    expect(groupPath("state")).toBe("state");
  });

  it("reads nested config keys, flattened keys and missing values", () => {
    const nested = run("n", { optimizer: { name: "adam", lr: 0.001 } });
    const flat = run("f", { "optimizer.lr": 0.01 });
    expect(groupValue(nested, "optimizer.lr")).toBe("0.001");
    expect(groupValue(nested, "config.optimizer.name")).toBe("adam");
    expect(groupValue(flat, "config.optimizer.lr")).toBe("0.01");
    expect(groupValue(run("x"), "config.optimizer.lr")).toBe(NO_VALUE);
    expect(groupValue(run("y", { lr: null }), "lr")).toBe(NO_VALUE);
  });

  it("shows non-finite numbers, booleans and objects as text", () => {
    expect(groupValue(run("a", { v: NaN }), "v")).toBe("NaN");
    expect(groupValue(run("a", { v: Infinity }), "v")).toBe("inf");
    expect(groupValue(run("a", { v: true }), "v")).toBe("true");
    expect(groupValue(run("a", { v: [1, 2] }), "v")).toBe("[1,2]");
  });
});

describe("compareGroupValues", () => {
  it("orders numbers numerically, then text, then (none)", () => {
    const values = ["b", NO_VALUE, "10", "a", "9", "-inf", "1e-3", "inf", "NaN"];
    expect([...values].sort(compareGroupValues)).toEqual(["-inf", "1e-3", "9", "10", "inf", "a", "b", "NaN", NO_VALUE]);
  });

  it("is consistent whatever the input order", () => {
    const a = ["x", "2", "10", NO_VALUE, "1"].sort(compareGroupValues);
    const b = ["10", NO_VALUE, "1", "x", "2"].sort(compareGroupValues);
    expect(a).toEqual(b);
  });
});

describe("groupRuns", () => {
  const runs = [
    run("r1", { lr: 0.1, opt: { name: "sgd" } }),
    run("r2", { lr: 0.01, opt: { name: "adam" } }),
    run("r3", { opt: { name: "adam" } }),
    run("r4", { lr: 0.1 }),
    run("r5", { lr: 0.001, opt: { name: "sgd" } }),
    run("r6", { lr: "warmup" }),
  ];

  it("orders numeric groups numerically, text after, (none) last", () => {
    const groups = groupRuns(runs, "lr");
    expect(groups.map((g) => g.key)).toEqual(["0.001", "0.01", "0.1", "warmup", NO_VALUE]);
    expect(groups.map((g) => g.runIds)).toEqual([["r5"], ["r2"], ["r1", "r4"], ["r6"], ["r3"]]);
    expect(groups[2]?.label).toBe("config.lr = 0.1");
  });

  it("groups by nested config keys and keeps run order inside a group", () => {
    const groups = groupRuns(runs, "config.opt.name");
    expect(groups.map((g) => [g.key, g.runIds])).toEqual([
      ["adam", ["r2", "r3"]],
      ["sgd", ["r1", "r5"]],
      [NO_VALUE, ["r4", "r6"]],
    ]);
    expect(groups[0]?.label).toBe("config.opt.name = adam");
  });

  it("gives every group a stable colour and counts every run once", () => {
    const a = groupRuns(runs, "lr");
    const b = groupRuns([...runs].reverse(), "lr");
    expect(a.map((g) => g.color)).toEqual(b.map((g) => g.color));
    expect(a.reduce((n, g) => n + g.runIds.length, 0)).toBe(runs.length);
    // "config.lr = 0.001" and "= 0.1" once hashed to one colour: groups must differ.
    expect(new Set(a.map((g) => g.color)).size).toBe(a.length);
  });

  it("returns no groups for no runs", () => {
    expect(groupRuns([], "lr")).toEqual([]);
  });
});

describe("meanOf", () => {
  it("averages finite numbers only", () => {
    expect(meanOf([1, 2, 3])).toBe(2);
    expect(meanOf([1, NaN, Infinity, "4", null, undefined, 3])).toBe(2);
    expect(meanOf([NaN, "x"])).toBeUndefined();
    expect(meanOf([])).toBeUndefined();
  });
});
