import { describe, expect, it } from "vitest";
import {
  EMPTY_LAYOUT,
  addCustom,
  parseLayout,
  removeCustom,
  resolveSettings,
  setCollapsed,
  setHidden,
  setPanel,
} from "./PanelLayout";

describe("parseLayout", () => {
  it("falls back to defaults for missing or malformed layouts", () => {
    expect(parseLayout({})).toEqual(EMPTY_LAYOUT);
    expect(parseLayout(null)).toEqual(EMPTY_LAYOUT);
    expect(parseLayout({ charts: "x" })).toEqual(EMPTY_LAYOUT);
    const l = parseLayout({
      charts: {
        defaults: { smoothing: { kind: "bogus" }, xAxis: 3 },
        panels: { a: { size: "xl", logY: "yes", xAxis: "_runtime" }, b: 7 },
        hidden: ["a", 5],
        custom: [{ id: "custom:1", keys: [] }, { id: "custom:2", keys: ["k"] }, "junk"],
      },
    });
    expect(l.defaults.smoothing.kind).toBe("none");
    expect(l.defaults.xAxis).toBe("step");
    expect(l.panels).toEqual({ a: { xAxis: "_runtime" }, b: {} });
    expect(l.hidden).toEqual(["a"]);
    expect(l.custom).toEqual([{ id: "custom:2", title: "k", keys: ["k"] }]);
  });
});

describe("layout changes", () => {
  it("compose and replay on another base (as after a 409)", () => {
    const changes = [
      setPanel("train/loss", { size: "l", logY: true }),
      setHidden("val/acc", true),
      setCollapsed("train", true),
      addCustom("", ["a", "b"]),
    ];
    const theirs = { ...EMPTY_LAYOUT, collapsed: ["val"], custom: [{ id: "custom:1", title: "x", keys: ["x"] }] };
    const merged = changes.reduce((acc, fn) => fn(acc), theirs);
    expect(merged.panels["train/loss"]).toEqual({ size: "l", logY: true });
    expect(merged.hidden).toEqual(["val/acc"]);
    expect(merged.collapsed).toEqual(["val", "train"]);
    expect(merged.custom.map((c) => [c.id, c.title])).toEqual([
      ["custom:1", "x"],
      ["custom:2", "a, b"],
    ]);
    const undone = [setPanel("train/loss", { logY: undefined }), setHidden("val/acc", false), removeCustom("custom:1")].reduce(
      (acc, fn) => fn(acc),
      merged,
    );
    expect(undone.panels["train/loss"]).toEqual({ size: "l" });
    expect(undone.hidden).toEqual([]);
    expect(undone.custom.map((c) => c.id)).toEqual(["custom:2"]);
  });

  it("panel settings fall back to the workspace defaults", () => {
    const d = { smoothing: { kind: "ema" as const, weight: 0.9, window: 5 }, xAxis: "_runtime" };
    expect(resolveSettings({}, d)).toEqual({ size: "m", xAxis: "_runtime", smoothing: d.smoothing, logY: false });
    expect(resolveSettings({ xAxis: "step", logY: true }, d).xAxis).toBe("step");
  });
});
