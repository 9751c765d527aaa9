import { describe, expect, it } from "vitest";
import {
  DEFAULT_OVERLAY,
  asImage,
  boxRect,
  classColor,
  className,
  decodeOverlay,
  encodeOverlay,
  enabledClasses,
  fitSize,
  imagesOf,
  maskToRgba,
  overlayInfo,
  rgbHex,
  scoreRange,
  visibleBoxes,
  type BoxLayer,
  type OverlayState,
} from "./overlay";

const colour = (id: number): [number, number, number] => [id, 10 * id, 100];

function grey(...ids: number[]): Uint8ClampedArray {
  const px = new Uint8ClampedArray(ids.length * 4);
  ids.forEach((id, i) => px.set([id, id, id, 255], i * 4));
  return px;
}

describe("maskToRgba", () => {
  it("colours enabled classes with the opacity and leaves disabled ones clear", () => {
    const out = maskToRgba(grey(0, 1, 2, 1), "L", new Set([1, 2]), 0.5, colour);
    expect([...out]).toEqual([0, 0, 0, 0, 1, 10, 100, 128, 2, 20, 100, 128, 1, 10, 100, 128]);
  });

  it("reads RGB24 ids as R + 256 G + 65536 B", () => {
    const px = new Uint8ClampedArray([1, 1, 0, 255, 0, 0, 1, 255, 7, 0, 0, 255]);
    const seen: number[] = [];
    const out = maskToRgba(px, "RGB24", new Set([257, 65536]), 1, (id) => {
      seen.push(id);
      return [1, 2, 3];
    });
    expect(seen).toEqual([257, 65536]);
    expect([...out]).toEqual([1, 2, 3, 255, 1, 2, 3, 255, 0, 0, 0, 0]);
  });

  it("draws nothing at opacity 0 and clamps the opacity", () => {
    expect([...maskToRgba(grey(1), "L", new Set([1]), 0, colour)]).toEqual([0, 0, 0, 0]);
    expect(maskToRgba(grey(1), "L", new Set([1]), 7, colour)[3]).toBe(255);
  });

  it("draws class 0 like any class", () => {
    expect([...maskToRgba(grey(0), "L", new Set([0]), 1, colour)]).toEqual([0, 0, 100, 255]);
  });
});

function layer(...boxes: { cls: number; scores?: Record<string, number> }[]): BoxLayer {
  return {
    labels: new Map(),
    boxes: boxes.map((b) => ({ classId: b.cls, caption: null, scores: b.scores ?? {}, rect: [0, 0, 1, 1] })),
  };
}

describe("visibleBoxes", () => {
  const l = layer(
    { cls: 1, scores: { score: 0.9 } },
    { cls: 2, scores: { score: 0.3 } },
    { cls: 1 },
    { cls: 1, scores: { score: NaN } },
    { cls: 1, scores: { score: 0.5, iou: 0.1 } },
  );

  it("keeps every box of an enabled class with no threshold, NaN scores included", () => {
    expect(visibleBoxes(l, new Set([1, 2]), {})).toEqual([0, 1, 2, 3, 4]);
    expect(visibleBoxes(l, new Set([2]), {})).toEqual([1]);
  });

  it("applies thresholds inclusively; a box without that score stays; NaN fails", () => {
    expect(visibleBoxes(l, new Set([1, 2]), { score: 0.5 })).toEqual([0, 2, 4]);
    expect(visibleBoxes(l, new Set([1, 2]), { score: 0.95 })).toEqual([2]);
    expect(visibleBoxes(l, new Set([1, 2]), { score: 0 })).toEqual([0, 1, 2, 4]);
  });

  it("needs every threshold met", () => {
    expect(visibleBoxes(l, new Set([1, 2]), { score: 0.4, iou: 0.2 })).toEqual([0, 2]);
  });

  it("ignores a NaN threshold", () => {
    expect(visibleBoxes(l, new Set([1]), { score: NaN })).toEqual([0, 2, 3, 4]);
  });
});

describe("asImage", () => {
  const raw = {
    _type: "image",
    sha256: "abc",
    format: "png",
    width: 100,
    height: 50,
    caption: "a <b>cat</b>",
    masks: {
      gt: { sha256: "m1", encoding: "L", class_labels: { "0": "background", "1": "bicycle" }, class_counts: { "1": 40, "7": 2 } },
      broken: { encoding: "L" },
    },
    boxes: {
      pred: {
        box_data: [
          { position: { minX: 10, maxX: 20, minY: 5, maxY: 15 }, domain: "pixel", class_id: 2, box_caption: null, scores: { score: 0.9 } },
          { position: { middle: [0.5, 0.5], width: 0.2, height: 0.4 }, class_id: 3, scores: {} },
          { position: { minX: "x" }, class_id: 1 },
          "garbage",
        ],
        rects: [[10, 5, 20, 15]],
        class_labels: { "2": "car" },
      },
    },
    classes: { "3": "dog", x: "ignored" },
  };

  it("reads a descriptor, rebuilding missing rects and dropping bad entries", () => {
    const img = asImage(raw);
    expect(img).not.toBeNull();
    if (!img) return;
    expect(img.caption).toBe("a <b>cat</b>");
    expect(Object.keys(img.masks)).toEqual(["gt"]);
    expect(img.masks["gt"]?.labels.get(1)).toBe("bicycle");
    const boxes = img.boxes["pred"]?.boxes ?? [];
    expect(boxes.map((b) => b.rect)).toEqual([
      [10, 5, 20, 15],
      [40, 15, 60, 35],
    ]);
    expect(img.classes).toEqual(new Map([[3, "dog"]]));
  });

  it("returns null for non-images and reads galleries", () => {
    expect(asImage(null)).toBeNull();
    expect(asImage({ width: 3 })).toBeNull();
    expect(imagesOf({ _type: "images", items: [raw, 5, raw] })).toHaveLength(2);
    expect(imagesOf(raw)).toHaveLength(1);
    expect(imagesOf("nope")).toEqual([]);
  });

  it("computes box rects from either position form", () => {
    expect(boxRect({ position: { minX: 0.1, maxX: 0.2, minY: 0.5, maxY: 0.25 } }, 100, 100)).toEqual([10, 25, 20, 50]);
    expect(boxRect({ position: { middle: [10, 10], width: 4, height: 2 }, domain: "pixel" }, 100, 100)).toEqual([8, 9, 12, 11]);
    expect(boxRect({ position: { middle: [10, NaN], width: 4, height: 2 } }, 100, 100)).toBeNull();
  });

  it("lists layers, classes (unknown ids named 'class <id>') and score ranges", () => {
    const img = asImage(raw);
    if (!img) throw new Error("no image");
    const info = overlayInfo([img, img]);
    expect(info.layers.map((l) => `${l.kind}:${l.name}`)).toEqual(["mask:gt", "box:pred"]);
    expect([...(info.layers[0]?.classes.entries() ?? [])]).toEqual([
      [0, "background"],
      [1, "bicycle"],
      [7, "class 7"],
    ]);
    expect([...(info.layers[1]?.classes.entries() ?? [])]).toEqual([
      [2, "car"],
      [3, "dog"],
    ]);
    expect(info.scores).toEqual(new Map([["score", [0.9, 0.9]]]));
    expect(info.captions).toBe(true);
  });
});

describe("classes", () => {
  it("has a stable colour per id, negative and huge ids included", () => {
    expect(classColor(1)).toEqual(classColor(1));
    expect(classColor(1)).not.toEqual(classColor(2));
    expect(classColor(-3)).toHaveLength(3);
    expect(rgbHex(classColor(70000))).toMatch(/^#[0-9a-f]{6}$/);
    expect(rgbHex([255, 0, 16])).toBe("#ff0010");
  });

  it("names a class from the first map that has it", () => {
    expect(className(1, new Map(), new Map([[1, "bike"]]))).toBe("bike");
    expect(className(4, new Map([[1, "bike"]]))).toBe("class 4");
  });

  it("scales score sliders to [0, 1] or the data's range", () => {
    expect(scoreRange([0.2, 0.9])).toEqual([0, 1]);
    expect(scoreRange([-2, 5])).toEqual([-2, 5]);
    expect(scoreRange([3, 3])).toEqual([2, 4]);
    expect(scoreRange([Infinity, -Infinity])).toEqual([0, 1]);
  });
});

describe("overlay state in the URL", () => {
  it("is empty for the defaults", () => {
    expect(encodeOverlay(DEFAULT_OVERLAY)).toBe("");
    expect(decodeOverlay("")).toEqual(DEFAULT_OVERLAY);
  });

  it("round-trips names with separators in them", () => {
    const state: OverlayState = {
      opacity: 0.25,
      hiddenLayers: new Set(["mask:a;b", "box:x,y=z"]),
      hiddenClasses: new Set(["mask:gt:1", "box:p:q:2"]),
      thresholds: { "score:1": 0.75, iou: -0.5 },
      captions: false,
    };
    const text = encodeOverlay(state);
    expect(decodeOverlay(text)).toEqual(state);
    expect(encodeOverlay(decodeOverlay(text))).toBe(text);
  });

  it("ignores malformed parts", () => {
    const s = decodeOverlay("o=abc;t=score:x,:1,ok:0.5;zz=1;h=%E0%A4%A");
    expect(s.opacity).toBe(0.5);
    expect(s.thresholds).toEqual({ ok: 0.5 });
    expect([...s.hiddenLayers]).toEqual(["%E0%A4%A"]);
  });

  it("gives enabled classes of a layer", () => {
    const s = decodeOverlay(encodeOverlay({ ...DEFAULT_OVERLAY, hiddenClasses: new Set(["mask:gt:1"]) }));
    expect([...enabledClasses(s, "mask", "gt", [0, 1, 2])]).toEqual([0, 2]);
    expect([...enabledClasses(s, "box", "gt", [0, 1])]).toEqual([0, 1]);
  });
});

describe("fitSize", () => {
  it("fits keeping the aspect, optionally without upscaling", () => {
    expect(fitSize(100, 50, 200, 200)).toEqual({ width: 200, height: 100, scale: 2 });
    expect(fitSize(100, 50, 200, 200, false)).toEqual({ width: 100, height: 50, scale: 1 });
    expect(fitSize(400, 400, 100, 50)).toEqual({ width: 50, height: 50, scale: 0.125 });
    expect(fitSize(0, 0, 80, 60).width).toBe(80);
  });
});
