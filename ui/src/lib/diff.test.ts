import { describe, expect, it } from "vitest";
import {
  classifyPatch,
  diffRows,
  flatten,
  leafText,
  matchingPaths,
  pathKey,
  patchStats,
  sameValue,
  shellJoin,
  visibleRows,
} from "./diff";

describe("flatten", () => {
  it("turns nested dicts into dotted keys and keeps lists as leaves", () => {
    expect(flatten({ lr: 0.1, opt: { name: "adam", betas: [0.9, 0.99] }, empty: {} })).toEqual({
      lr: 0.1,
      "opt.name": "adam",
      "opt.betas": [0.9, 0.99],
      empty: {},
    });
  });
  it("gives nothing for non-objects at the top", () => {
    expect(flatten(null)).toEqual({});
    expect(flatten(3)).toEqual({});
  });
});

describe("sameValue", () => {
  it("treats NaN as equal to NaN and compares lists deeply", () => {
    expect(sameValue(NaN, NaN)).toBe(true);
    expect(sameValue(0, -0)).toBe(true);
    expect(sameValue(Infinity, -Infinity)).toBe(false);
    expect(sameValue([1, { a: NaN }], [1, { a: NaN }])).toBe(true);
    expect(sameValue([1, 2], [1, 2, 3])).toBe(false);
    expect(sameValue({ a: 1 }, { b: 1 })).toBe(false);
    expect(sameValue("1", 1)).toBe(false);
    expect(sameValue(null, undefined)).toBe(false);
  });
});

describe("diffRows", () => {
  const a = { lr: 0.1, batch: 32, opt: { name: "adam" }, loss: NaN };
  const b = { lr: 0.01, batch: 32, opt: { name: "adam", wd: 0.1 }, loss: NaN };
  const rows = diffRows([a, b]);
  const byKey = Object.fromEntries(rows.map((r) => [r.key, r]));

  it("has one row per key of the union, sorted", () => {
    expect(rows.map((r) => r.key)).toEqual(["batch", "loss", "lr", "opt.name", "opt.wd"]);
  });
  it("marks differing values and keys missing from a run", () => {
    expect(byKey["lr"]).toEqual({ key: "lr", values: [0.1, 0.01], present: [true, true], differs: true });
    expect(byKey["batch"]?.differs).toBe(false);
    expect(byKey["loss"]?.differs).toBe(false);
    expect(byKey["opt.wd"]).toEqual({ key: "opt.wd", values: [undefined, 0.1], present: [false, true], differs: true });
  });
  it("handles three runs and a single run", () => {
    const three = diffRows([{ x: 1 }, { x: 1 }, { x: 2 }]);
    expect(three[0]?.differs).toBe(true);
    expect(diffRows([{ x: 1 }])[0]?.differs).toBe(false);
  });
  it("sorts keys naturally", () => {
    expect(diffRows([{ layer10: 1, layer2: 1, Alpha: 1 }]).map((r) => r.key)).toEqual(["Alpha", "layer2", "layer10"]);
  });
  it("can compare flat maps whose keys contain dots (package names)", () => {
    const pk = diffRows([{ "zope.interface": "5" }, { "zope.interface": "6" }], { flat: false });
    expect(pk).toHaveLength(1);
    expect(pk[0]?.key).toBe("zope.interface");
    expect(pk[0]?.differs).toBe(true);
  });
  it("filters to differences and by key", () => {
    expect(visibleRows(rows, true).map((r) => r.key)).toEqual(["lr", "opt.wd"]);
    expect(visibleRows(rows, false, "OPT").map((r) => r.key)).toEqual(["opt.name", "opt.wd"]);
  });
});

describe("matchingPaths", () => {
  const tree = { lr: 0.1, opt: { name: "adam", inner: { beta: 0.9 } }, bad: NaN, tags: ["x", "best"] };
  it("returns null for an empty search", () => {
    expect(matchingPaths(tree, "  ")).toBeNull();
  });
  it("keeps matching leaves and their ancestors", () => {
    const shown = matchingPaths(tree, "beta");
    expect(shown?.has(pathKey(["opt", "inner", "beta"]))).toBe(true);
    expect(shown?.has(pathKey(["opt", "inner"]))).toBe(true);
    expect(shown?.has(pathKey(["opt"]))).toBe(true);
    expect(shown?.has(pathKey(["lr"]))).toBe(false);
    expect(shown?.has(pathKey(["opt", "name"]))).toBe(false);
  });
  it("matches values, including NaN as text and list contents", () => {
    expect(matchingPaths(tree, "ada")?.has(pathKey(["opt", "name"]))).toBe(true);
    expect(matchingPaths(tree, "nan")?.has(pathKey(["bad"]))).toBe(true);
    expect(matchingPaths(tree, "best")?.has(pathKey(["tags"]))).toBe(true);
  });
  it("shows everything below a matching dict key", () => {
    const shown = matchingPaths(tree, "opt");
    expect(shown?.has(pathKey(["opt", "inner", "beta"]))).toBe(true);
  });
});

describe("leafText", () => {
  it("writes non-finite numbers as words", () => {
    expect(leafText(NaN)).toBe("NaN");
    expect(leafText(-Infinity)).toBe("-inf");
    expect(leafText([1, Infinity])).toBe('[1,"inf"]');
    expect(leafText(null)).toBe("null");
    expect(leafText("<b>x</b>")).toBe("<b>x</b>");
  });
});

describe("classifyPatch", () => {
  const patch = [
    "diff --git a/train.py b/train.py",
    "index 881c534..88b7508 100644",
    "--- a/train.py",
    "+++ b/train.py",
    "@@ -5,3 +5,4 @@ def f():",
    "     print(1)",
    "--- looks like a header but was removed",
    "+# change",
    "\\ No newline at end of file",
    "diff --git a/b.txt b/b.txt",
    "--- a/b.txt",
    "+++ b/b.txt",
    "@@ -1 +1 @@",
    "-old",
    "+new",
    "",
  ].join("\n");
  it("tells headers, hunks, additions, removals and context apart", () => {
    expect(classifyPatch(patch).map((l) => l.kind)).toEqual([
      "meta", "meta", "file", "file", "hunk", "context", "del", "add", "meta",
      "meta", "file", "file", "hunk", "del", "add",
    ]);
  });
  it("counts lines per file", () => {
    expect(patchStats(patch)).toEqual([
      { file: "train.py", added: 1, removed: 1 },
      { file: "b.txt", added: 1, removed: 1 },
    ]);
  });
});

describe("shellJoin", () => {
  it("quotes arguments a shell would split", () => {
    expect(shellJoin(["train.py", "--lr", "0.1", "--name", "my run", "it's"])).toBe(
      "train.py --lr 0.1 --name 'my run' 'it'\"'\"'s'",
    );
    expect(shellJoin(["a", ""])).toBe("a ''");
  });
});
