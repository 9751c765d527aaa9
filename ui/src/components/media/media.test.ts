import { describe, expect, it } from "vitest";
import { readHistograms, readKeys, readMedia, readTable } from "./api";
import { cellsOf, MISSING_TEXT, PENDING_TEXT, UNREADABLE_TEXT } from "./items";
import { stepIndex, unionSteps } from "./state";
import {
  andFilter,
  cellsDiffer,
  equalsFilter,
  inFilter,
  keyOf,
  literal,
  nextSort,
  parseSort,
  quoteColumn,
  rowsByKey,
} from "./tableQuery";

const image = { _type: "image", sha256: "s", width: 4, height: 4, format: "png" };

describe("items", () => {
  it("gives a cell per image and a note per item that cannot be drawn", () => {
    const cells = cellsOf([
      { media_id: "1", state: "stored", data: image },
      { media_id: "2", state: "missing", data: image },
      { media_id: "3", state: "pending", data: null },
      { media_id: "4", state: "stored", data: { _type: "images", items: [image, image] } },
      { media_id: "5", state: "stored", data: "junk" },
    ].map((it) => ({ ...it, error: null, warnings: [] })));
    expect(cells.map((c) => (c.kind === "note" ? c.text : `${c.item}.${c.sub}`))).toEqual([
      "0.0",
      MISSING_TEXT,
      PENDING_TEXT,
      "3.0",
      "3.1",
      UNREADABLE_TEXT,
    ]);
    expect(MISSING_TEXT).toBe("image missing: the process ended before it was stored");
    expect(PENDING_TEXT).toBe("still being stored");
  });
});

describe("answers", () => {
  it("survive missing and mistyped fields", () => {
    expect(readKeys({ keys: [{ key: "a", kind: "image", runs: 2, last_step: 5 }, { kind: "x" }, 3] })).toEqual([
      { key: "a", kind: "image", runs: 2, last_step: 5 },
    ]);
    expect(readKeys(null)).toEqual([]);
    const m = readMedia({ key: "k", steps: [1, "2", 3], step: "x", items: [{ media_id: "a" }, null] });
    expect(m.steps).toEqual([1, 3]);
    expect(m.step).toBeNull();
    expect(m.items.map((i) => i.state)).toEqual(["stored", "stored"]);
    const w = readMedia({ items: [{ state: "missing", error: "gone", warnings: ["a", 3] }] }).items[0];
    expect([w?.error, w?.warnings]).toEqual(["gone", ["a"]]);
    const t = readTable({
      columns: ["a", 1],
      rows: [{ cells: [1] }, { index: 7, cells: "x" }],
      groups: [{ value: "v", count: 2, means: { a: 1, b: "x" } }],
    });
    expect(t.columns).toEqual(["a", "1"]);
    expect(t.rows).toEqual([
      { index: 0, cells: [1] },
      { index: 7, cells: [] },
    ]);
    expect(t.groups).toEqual([{ value: "v", count: 2, means: { a: 1, b: null } }]);
    expect(readTable({}).groups).toBeNull();
    expect(readHistograms({ steps: [0], bins: [[0, "x", 1]], counts: [[1, 2]] }).bins).toEqual([[0, NaN, 1]]);
  });
});

describe("steps", () => {
  it("finds the step or the one before it", () => {
    const steps = [0, 10, 20];
    expect(stepIndex(steps, undefined)).toBe(2);
    expect(stepIndex(steps, 10)).toBe(1);
    expect(stepIndex(steps, 15)).toBe(1);
    expect(stepIndex(steps, -1)).toBe(-1);
    expect(stepIndex(steps, 99)).toBe(2);
    expect(stepIndex([], 3)).toBe(-1);
  });
  it("merges the steps of several runs", () => {
    expect(unionSteps([[0, 10], [5, 10, 20], []])).toEqual([0, 5, 10, 20]);
  });
});

describe("table filters", () => {
  it("quotes column names that are not plain identifiers", () => {
    expect(quoteColumn("iou")).toBe("iou");
    expect(quoteColumn("my col")).toBe("`my col`");
    expect(quoteColumn("a.b")).toBe("`a.b`");
    expect(quoteColumn("in")).toBe("`in`");
    expect(quoteColumn("x`y")).toBe("`x``y`");
  });
  it("writes literals and value filters", () => {
    expect(literal(3)).toBe("3");
    expect(literal(NaN)).toBeNull();
    expect(literal('a "b"')).toBe('"a \\"b\\""');
    expect(literal(true)).toBe("true");
    expect(literal(null)).toBeNull();
    expect(equalsFilter("my col", "x")).toBe('`my col` = "x"');
    expect(equalsFilter("a", { x: 1 })).toBeNull();
    expect(inFilter("id", [1, 2, 2, NaN, "3"])).toBe('id in [1, 2, "3"]');
    expect(inFilter("id", [null])).toBeNull();
    expect(andFilter("a > 1 or b", "c = 2")).toBe("(a > 1 or b) and c = 2");
    expect(andFilter(" ", "c = 2")).toBe("c = 2");
    expect(andFilter("a", null)).toBe("a");
  });
  it("cycles the sort of a column", () => {
    expect(nextSort("", "a")).toBe("+a");
    expect(nextSort("+a", "a")).toBe("-a");
    expect(nextSort("-a", "a")).toBe("");
    expect(nextSort("-a", "b")).toBe("+b");
    expect(parseSort("-my col")).toEqual({ column: "my col", desc: true });
    expect(parseSort("x")).toBeNull();
  });
});

describe("aligning two runs", () => {
  it("matches rows by key, first row per key, numbers apart from strings", () => {
    const rows = [
      { index: 0, cells: [1, "a"] },
      { index: 1, cells: ["1", "b"] },
      { index: 2, cells: [1, "c"] },
    ];
    const by = rowsByKey(rows, 0);
    expect(by.get(keyOf(1))?.index).toBe(0);
    expect(by.get(keyOf("1"))?.index).toBe(1);
    expect(by.size).toBe(2);
    expect(rowsByKey(rows, -1).size).toBe(0);
  });
  it("compares cells", () => {
    expect(cellsDiffer(1, 1)).toBe(false);
    expect(cellsDiffer(NaN, NaN)).toBe(false);
    expect(cellsDiffer(0.1 + 0.2, 0.3)).toBe(false);
    expect(cellsDiffer(1, 2)).toBe(true);
    expect(cellsDiffer("a", "a")).toBe(false);
    expect(cellsDiffer({ sha256: "x", caption: "a" }, { sha256: "x", caption: "b" })).toBe(false);
    expect(cellsDiffer({ sha256: "x" }, { sha256: "y" })).toBe(true);
    expect(cellsDiffer(null, 0)).toBe(true);
  });
});
