import { describe, expect, it } from "vitest";
import type { RunGroup } from "../lib/types";
import {
  columnSortField,
  defaultColumns,
  encodeColumns,
  isLiteralKey,
  nextOrder,
  NO_COLUMNS,
  parseColumns,
  primarySort,
  quoteSegment,
  sortDirection,
  splitColumnId,
  splitField,
  tableItems,
  toggleColumn,
} from "./RunsTableModel";

const catalogue = { metrics: [], system: [], config: ["batch", "lr", "opt.name"], summary: ["acc", "train/loss", "val/loss", "zzz"] };

describe("columns", () => {
  it("defaults to the first summary keys, or config keys without a summary", () => {
    expect(defaultColumns(catalogue)).toEqual(["summary.acc", "summary.train/loss", "summary.val/loss"]);
    expect(defaultColumns({ ...catalogue, summary: [] })).toEqual(["config.batch", "config.lr", "config.opt.name"]);
    expect(defaultColumns(undefined)).toEqual([]);
  });

  it("reads the cols parameter: absent means defaults, '-' means none", () => {
    expect(parseColumns("", catalogue)).toEqual(defaultColumns(catalogue));
    expect(parseColumns(NO_COLUMNS, catalogue)).toEqual([]);
    expect(parseColumns(encodeColumns(["config.opt.name", "summary.a,b"]), catalogue)).toEqual(["config.opt.name", "summary.a,b"]);
    expect(encodeColumns([])).toBe(NO_COLUMNS);
  });

  it("drops unknown scopes and duplicates", () => {
    expect(parseColumns("config.lr,name,other.x,config.lr,summary.", catalogue)).toEqual(["config.lr"]);
    expect(splitColumnId("summary.val/loss")).toEqual({ scope: "summary", key: "val/loss" });
    expect(splitColumnId("config.opt.name")).toEqual({ scope: "config", key: "opt.name" });
  });

  it("toggles a column on at the end, off anywhere", () => {
    expect(toggleColumn(["a", "b"], "c", true)).toEqual(["a", "b", "c"]);
    expect(toggleColumn(["a", "b"], "a", true)).toEqual(["b", "a"]);
    expect(toggleColumn(["a", "b"], "a", false)).toEqual(["b"]);
  });
});

describe("sort fields", () => {
  it("quotes segments that are not bare names", () => {
    expect(quoteSegment("val/loss")).toBe("val/loss");
    expect(quoteSegment("top-1")).toBe("top-1");
    expect(quoteSegment("a b")).toBe("`a b`");
    expect(quoteSegment("1st")).toBe("`1st`");
    expect(quoteSegment("a`b")).toBe("`a``b`");
  });

  it("builds the server field of a column (nested path or literal dotted key)", () => {
    expect(columnSortField("summary.val/loss", true)).toBe("summary.val/loss");
    expect(columnSortField("config.opt.name", false)).toBe("config.opt.name");
    expect(columnSortField("summary.acc.top1", true)).toBe("summary.`acc.top1`");
    expect(columnSortField("summary.my metric", true)).toBe("summary.`my metric`");
  });

  it("splits fields, unquoting backticks", () => {
    expect(splitField("summary.`acc.top1`")).toEqual(["summary", "acc.top1"]);
    expect(splitField("config.`a``b`.c")).toEqual(["config", "a`b", "c"]);
    expect(splitField("name")).toEqual(["name"]);
  });

  it("tells literal dotted keys from nested ones by the runs", () => {
    const runs = [{ summary: { "acc.top1": 1 } }, { config: { opt: { name: "sgd" } } }];
    expect(isLiteralKey(runs, "summary", "acc.top1")).toBe(true);
    expect(isLiteralKey(runs, "config", "opt.name")).toBe(false);
    expect(isLiteralKey(runs, "config", "lr")).toBe(true);
  });

  it("reads the primary sort key and its direction", () => {
    expect(primarySort("-summary.val/loss,name")).toEqual({ field: "summary.val/loss", desc: true });
    expect(primarySort("+name")).toEqual({ field: "name", desc: false });
    expect(primarySort("")).toBeUndefined();
    expect(sortDirection("-created_at", "created_at")).toBe("desc");
    expect(sortDirection("summary.`val/loss`", "summary.val/loss")).toBe("asc");
    expect(sortDirection("name,-created_at", "created_at")).toBeUndefined();
  });

  it("cycles ascending -> descending -> ascending", () => {
    expect(nextOrder("-created_at", "summary.val/loss")).toBe("summary.val/loss");
    expect(nextOrder("summary.val/loss", "summary.val/loss")).toBe("-summary.val/loss");
    expect(nextOrder("-summary.val/loss", "summary.val/loss")).toBe("summary.val/loss");
  });
});

describe("tableItems", () => {
  const runs = [{ id: "a" }, { id: "b" }, { id: "c" }];
  const groups: RunGroup[] = [
    { key: "0.1", label: "config.lr = 0.1", color: "#000", runIds: ["c", "a"] },
    { key: "(none)", label: "config.lr = (none)", color: "#111", runIds: ["b", "gone"] },
  ];

  it("lists runs as they are without groups", () => {
    expect(tableItems(runs, null, new Set()).map((i) => (i.kind === "run" ? i.run.id : "?"))).toEqual(["a", "b", "c"]);
  });

  it("puts each group header before its runs and skips collapsed groups' runs", () => {
    const flat = (collapsed: Set<string>) =>
      tableItems(runs, groups, collapsed).map((i) => (i.kind === "group" ? `[${i.group.key}:${i.runs.length}]` : i.run.id));
    expect(flat(new Set())).toEqual(["[0.1:2]", "c", "a", "[(none):1]", "b"]);
    expect(flat(new Set(["0.1"]))).toEqual(["[0.1:2]", "[(none):1]", "b"]);
  });
});
