// Image media: the descriptors the server sends (read defensively: bad data must never break a
// page), the class palette, and the pure parts of drawing overlays (mask colouring, which boxes
// are shown, box rectangles) and of keeping the overlay settings in the URL.

// --- Descriptors ------------------------------------------------------------------------------

export interface MaskLayer {
  sha256: string;
  encoding: "L" | "RGB24";
  /** class id -> name */
  labels: Map<number, string>;
  /** class id -> pixel count */
  counts: Map<number, number>;
}

export interface Box {
  classId: number;
  caption: string | null;
  scores: Record<string, number>;
  /** pixel coordinates x0, y0, x1, y1 (x0 <= x1, y0 <= y1) */
  rect: [number, number, number, number];
}

export interface BoxLayer {
  boxes: Box[];
  labels: Map<number, string>;
}

export interface ImageDescriptor {
  sha256: string;
  format: string;
  width: number;
  height: number;
  caption: string | null;
  masks: Record<string, MaskLayer>;
  boxes: Record<string, BoxLayer>;
  /** image-wide class names, used when a layer names no class of its own */
  classes: Map<number, string>;
}

export interface HistogramDescriptor {
  bins: number[];
  values: number[];
}

type Dict = Record<string, unknown>;

function dict(value: unknown): Dict | undefined {
  return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Dict) : undefined;
}

function finite(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

function text(value: unknown): string | null {
  return typeof value === "string" ? value : null;
}

/** {"<id>": name} -> Map; keys that are not integers are dropped. */
function labelMap(value: unknown): Map<number, string> {
  const out = new Map<number, string>();
  const d = dict(value);
  if (!d) return out;
  for (const [k, v] of Object.entries(d)) {
    const id = Number(k);
    if (!Number.isInteger(id)) continue;
    out.set(id, typeof v === "string" ? v : String(v));
  }
  return out;
}

function countMap(value: unknown): Map<number, number> {
  const out = new Map<number, number>();
  const d = dict(value);
  if (!d) return out;
  for (const [k, v] of Object.entries(d)) {
    const id = Number(k);
    if (Number.isInteger(id) && typeof v === "number") out.set(id, v);
  }
  return out;
}

/** A box's pixel rectangle from the server's ``rects`` or, without one, from its position
 * (fractions of the image unless its domain is "pixel"). */
export function boxRect(box: unknown, width: number, height: number): [number, number, number, number] | null {
  const pos = dict(dict(box)?.["position"]);
  if (!pos) return null;
  const pixel = dict(box)?.["domain"] === "pixel";
  let x0: number | undefined;
  let x1: number | undefined;
  let y0: number | undefined;
  let y1: number | undefined;
  const middle = pos["middle"];
  if (Array.isArray(middle)) {
    const mx = finite(middle[0]);
    const my = finite(middle[1]);
    const w = finite(pos["width"]);
    const h = finite(pos["height"]);
    if (mx === undefined || my === undefined || w === undefined || h === undefined) return null;
    [x0, x1, y0, y1] = [mx - w / 2, mx + w / 2, my - h / 2, my + h / 2];
  } else {
    [x0, x1, y0, y1] = [finite(pos["minX"]), finite(pos["maxX"]), finite(pos["minY"]), finite(pos["maxY"])];
  }
  if (x0 === undefined || x1 === undefined || y0 === undefined || y1 === undefined) return null;
  const sx = pixel ? 1 : width;
  const sy = pixel ? 1 : height;
  return [Math.min(x0, x1) * sx, Math.min(y0, y1) * sy, Math.max(x0, x1) * sx, Math.max(y0, y1) * sy];
}

function parseRect(value: unknown): [number, number, number, number] | null {
  if (!Array.isArray(value) || value.length !== 4) return null;
  const [a, b, c, d] = value.map(finite);
  if (a === undefined || b === undefined || c === undefined || d === undefined) return null;
  return [Math.min(a, c), Math.min(b, d), Math.max(a, c), Math.max(b, d)];
}

function parseBoxLayer(value: unknown, width: number, height: number): BoxLayer {
  const d = dict(value) ?? {};
  const data = Array.isArray(d["box_data"]) ? (d["box_data"] as unknown[]) : [];
  const rects = Array.isArray(d["rects"]) ? (d["rects"] as unknown[]) : [];
  const boxes: Box[] = [];
  data.forEach((raw, i) => {
    const b = dict(raw);
    if (!b) return;
    const rect = parseRect(rects[i]) ?? boxRect(b, width, height);
    if (!rect) return;
    const scores: Record<string, number> = {};
    for (const [name, v] of Object.entries(dict(b["scores"]) ?? {})) if (typeof v === "number") scores[name] = v;
    const classId = typeof b["class_id"] === "number" && Number.isInteger(b["class_id"]) ? b["class_id"] : -1;
    boxes.push({ classId, caption: text(b["box_caption"]), scores, rect });
  });
  return { boxes, labels: labelMap(d["class_labels"]) };
}

/** An image descriptor from the server, or null when the value is not one. */
export function asImage(value: unknown): ImageDescriptor | null {
  const d = dict(value);
  if (!d || typeof d["sha256"] !== "string") return null;
  const width = finite(d["width"]) ?? 0;
  const height = finite(d["height"]) ?? 0;
  const masks: Record<string, MaskLayer> = {};
  for (const [name, raw] of Object.entries(dict(d["masks"]) ?? {})) {
    const m = dict(raw);
    if (!m || typeof m["sha256"] !== "string") continue;
    masks[name] = {
      sha256: m["sha256"],
      encoding: m["encoding"] === "RGB24" ? "RGB24" : "L",
      labels: labelMap(m["class_labels"]),
      counts: countMap(m["class_counts"]),
    };
  }
  const boxes: Record<string, BoxLayer> = {};
  for (const [name, raw] of Object.entries(dict(d["boxes"]) ?? {})) boxes[name] = parseBoxLayer(raw, width, height);
  return {
    sha256: d["sha256"],
    format: typeof d["format"] === "string" ? d["format"] : "png",
    width,
    height,
    caption: text(d["caption"]),
    masks,
    boxes,
    classes: labelMap(d["classes"]),
  };
}

/** The images an item holds: one for "image", several for "images" (a gallery). */
export function imagesOf(value: unknown): ImageDescriptor[] {
  const d = dict(value);
  if (!d) return [];
  if (d["_type"] === "images" || (Array.isArray(d["items"]) && typeof d["sha256"] !== "string")) {
    const items = Array.isArray(d["items"]) ? (d["items"] as unknown[]) : [];
    return items.map(asImage).filter((x): x is ImageDescriptor => x !== null);
  }
  const one = asImage(d);
  return one ? [one] : [];
}

export function asHistogram(value: unknown): HistogramDescriptor | null {
  const d = dict(value);
  if (!d || !Array.isArray(d["bins"]) || !Array.isArray(d["values"])) return null;
  const bins = (d["bins"] as unknown[]).map((x) => (typeof x === "number" ? x : NaN));
  const values = (d["values"] as unknown[]).map((x) => (typeof x === "number" ? x : NaN));
  if (bins.length !== values.length + 1) return null;
  return { bins, values };
}

// --- Classes and colours ----------------------------------------------------------------------

/** A fixed categorical palette: the same class id has the same colour in masks, boxes and
 * legends, on every page. None is pure blue, red or green (common plain test images). */
const CLASS_PALETTE: [number, number, number][] = [
  [120, 120, 120], // 0: grey, usually background
  [230, 159, 0],
  [0, 170, 120],
  [240, 60, 130],
  [86, 180, 233],
  [200, 200, 40],
  [160, 80, 220],
  [213, 94, 0],
  [0, 114, 178],
  [120, 200, 90],
  [250, 130, 110],
  [60, 60, 170],
  [150, 100, 40],
  [70, 200, 200],
  [190, 40, 40],
  [255, 210, 120],
  [30, 120, 60],
  [220, 150, 230],
  [100, 140, 255],
  [180, 180, 130],
];

export function classColor(id: number): [number, number, number] {
  const n = CLASS_PALETTE.length;
  const i = Number.isInteger(id) ? ((id % n) + n) % n : 0;
  return CLASS_PALETTE[i] as [number, number, number];
}

export function rgbHex([r, g, b]: readonly number[]): string {
  return "#" + [r, g, b].map((v) => Math.round(v ?? 0).toString(16).padStart(2, "0")).join("");
}

/** A class's name: the layer's label, then the image's, then "class <id>". */
export function className(id: number, ...maps: Map<number, string>[]): string {
  for (const m of maps) {
    const name = m.get(id);
    if (name !== undefined && name !== "") return name;
  }
  return `class ${id}`;
}

// --- Masks and boxes --------------------------------------------------------------------------

/** The enabled classes of a layer: a Set<number>, or anything that answers ``has``. */
export type ClassSet = Pick<ReadonlySet<number>, "has">;

/** Colours a decoded mask. ``pixels`` is RGBA from getImageData of the mask PNG: with encoding
 * "L" the class id is the grey value (channel R); with "RGB24" it is R + 256*G + 65536*B.
 * Enabled classes get their colour with alpha ``opacity`` (0..1); disabled ones alpha 0. */
export function maskToRgba(
  pixels: Uint8ClampedArray,
  encoding: "L" | "RGB24",
  enabled: ClassSet,
  opacity: number,
  colourFor: (id: number) => readonly [number, number, number],
): Uint8ClampedArray {
  const out = new Uint8ClampedArray(pixels.length);
  const alpha = Math.round(Math.max(0, Math.min(1, opacity)) * 255);
  if (alpha === 0) return out;
  const rgb24 = encoding === "RGB24";
  let lastId = -1;
  let lastOn = false;
  let lr = 0;
  let lg = 0;
  let lb = 0;
  for (let i = 0; i + 3 < pixels.length; i += 4) {
    const id = rgb24
      ? (pixels[i] as number) + 256 * (pixels[i + 1] as number) + 65536 * (pixels[i + 2] as number)
      : (pixels[i] as number);
    if (id !== lastId) {
      lastId = id;
      lastOn = enabled.has(id);
      if (lastOn) [lr, lg, lb] = colourFor(id);
    }
    if (!lastOn) continue;
    out[i] = lr;
    out[i + 1] = lg;
    out[i + 2] = lb;
    out[i + 3] = alpha;
  }
  return out;
}

/** Indices of the boxes to draw: the class is enabled and every threshold is met.
 * A box without a score of a threshold's name is kept (the threshold is about other boxes).
 * A NaN score never meets a threshold (NaN >= t is false), so it goes as soon as any threshold
 * of that name is set; with no threshold set, every box of an enabled class is drawn. */
export function visibleBoxes(
  layer: BoxLayer,
  enabled: ClassSet,
  thresholds: Readonly<Record<string, number>>,
): number[] {
  const kept: number[] = [];
  const active = Object.entries(thresholds).filter(([, t]) => typeof t === "number" && !Number.isNaN(t));
  layer.boxes.forEach((box, i) => {
    if (!enabled.has(box.classId)) return;
    for (const [name, min] of active) {
      if (!(name in box.scores)) continue;
      if (!((box.scores[name] as number) >= min)) return;
    }
    kept.push(i);
  });
  return kept;
}

// --- What the overlay controls offer ----------------------------------------------------------

export interface LayerInfo {
  kind: "mask" | "box";
  name: string;
  /** class id -> name, every class the layer's images label or use */
  classes: Map<number, string>;
}

export interface OverlayInfo {
  layers: LayerInfo[];
  /** score name -> [min, max] of the finite scores */
  scores: Map<string, [number, number]>;
  captions: boolean;
}

/** Layers, classes and score ranges over a set of images (one panel's controls). */
export function overlayInfo(images: readonly ImageDescriptor[]): OverlayInfo {
  const layers = new Map<string, LayerInfo>();
  const scores = new Map<string, [number, number]>();
  let captions = false;
  const layer = (kind: "mask" | "box", name: string) => {
    const id = `${kind}:${name}`;
    let info = layers.get(id);
    if (!info) layers.set(id, (info = { kind, name, classes: new Map() }));
    return info;
  };
  const addClass = (info: LayerInfo, id: number, ...maps: Map<number, string>[]) => {
    const name = className(id, ...maps);
    const known = info.classes.get(id);
    if (known === undefined || known.startsWith("class ")) info.classes.set(id, name);
  };
  for (const img of images) {
    if (img.caption) captions = true;
    for (const [name, mask] of Object.entries(img.masks)) {
      const info = layer("mask", name);
      for (const id of new Set([...mask.labels.keys(), ...mask.counts.keys()])) addClass(info, id, mask.labels, img.classes);
    }
    for (const [name, boxes] of Object.entries(img.boxes)) {
      const info = layer("box", name);
      for (const id of boxes.labels.keys()) addClass(info, id, boxes.labels, img.classes);
      for (const box of boxes.boxes) {
        addClass(info, box.classId, boxes.labels, img.classes);
        for (const [s, v] of Object.entries(box.scores)) {
          if (!Number.isFinite(v)) {
            if (!scores.has(s)) scores.set(s, [Infinity, -Infinity]);
            continue;
          }
          const r = scores.get(s);
          if (r) scores.set(s, [Math.min(r[0], v), Math.max(r[1], v)]);
          else scores.set(s, [v, v]);
        }
      }
    }
  }
  for (const info of layers.values()) info.classes = new Map([...info.classes.entries()].sort(([a], [b]) => a - b));
  const sorted = [...layers.values()].sort((a, b) => (a.kind === b.kind ? a.name.localeCompare(b.name) : a.kind === "mask" ? -1 : 1));
  return { layers: sorted, scores: new Map([...scores.entries()].sort(([a], [b]) => a.localeCompare(b))), captions };
}

/** The slider range of a score: [0, 1] when every score lies in it, else the scores' range. */
export function scoreRange(range: readonly [number, number]): [number, number] {
  const [lo, hi] = range;
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [0, 1];
  if (lo >= 0 && hi <= 1) return [0, 1];
  return lo === hi ? [lo - 1, hi + 1] : [lo, hi];
}

// --- Overlay settings (kept in the URL) -------------------------------------------------------

export interface OverlayState {
  /** mask opacity, 0..1 */
  opacity: number;
  /** "mask:<name>" / "box:<name>" of the layers turned off */
  hiddenLayers: ReadonlySet<string>;
  /** "mask:<name>:<id>" / "box:<name>:<id>" of the classes turned off */
  hiddenClasses: ReadonlySet<string>;
  /** score name -> minimum; a name without an entry filters nothing */
  thresholds: Readonly<Record<string, number>>;
  /** captions under the images (and box labels) */
  captions: boolean;
}

export const DEFAULT_OVERLAY: OverlayState = {
  opacity: 0.5,
  hiddenLayers: new Set(),
  hiddenClasses: new Set(),
  thresholds: {},
  captions: true,
};

export const layerId = (kind: "mask" | "box", name: string) => `${kind}:${name}`;
export const classKey = (kind: "mask" | "box", name: string, id: number) => `${kind}:${name}:${id}`;

/** The enabled class ids of a layer, among ``ids``. */
export function enabledClasses(
  state: OverlayState,
  kind: "mask" | "box",
  name: string,
  ids: Iterable<number>,
): Set<number> {
  const out = new Set<number>();
  for (const id of ids) if (!state.hiddenClasses.has(classKey(kind, name, id))) out.add(id);
  return out;
}

/** The classes of a layer not turned off, as a ClassSet (for any id, listed or not). */
export function shownClasses(state: OverlayState, kind: "mask" | "box", name: string): ClassSet {
  const prefix = `${kind}:${name}:`;
  return { has: (id: number) => !state.hiddenClasses.has(prefix + id) };
}

const esc = (s: string) => encodeURIComponent(s);
function unesc(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** The settings as a short string for the URL ("" for the defaults). Names are URI-escaped,
 * so the separators ; = , cannot clash with them:
 *   o=0.3;h=mask%3Agt,box%3Apred;c=mask%3Agt%3A0;t=score:0.5;nc */
export function encodeOverlay(state: OverlayState): string {
  const parts: string[] = [];
  if (state.opacity !== DEFAULT_OVERLAY.opacity) parts.push(`o=${Number(state.opacity.toFixed(3))}`);
  if (state.hiddenLayers.size) parts.push(`h=${[...state.hiddenLayers].sort().map(esc).join(",")}`);
  if (state.hiddenClasses.size) parts.push(`c=${[...state.hiddenClasses].sort().map(esc).join(",")}`);
  const t = Object.entries(state.thresholds).filter(([, v]) => Number.isFinite(v));
  if (t.length) parts.push(`t=${t.sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${esc(k)}:${v}`).join(",")}`);
  if (!state.captions) parts.push("nc");
  return parts.join(";");
}

export function decodeOverlay(value: string | null | undefined): OverlayState {
  if (!value) return DEFAULT_OVERLAY;
  let opacity = DEFAULT_OVERLAY.opacity;
  const hiddenLayers = new Set<string>();
  const hiddenClasses = new Set<string>();
  const thresholds: Record<string, number> = {};
  let captions = true;
  for (const part of value.split(";")) {
    const eq = part.indexOf("=");
    const name = eq < 0 ? part : part.slice(0, eq);
    const body = eq < 0 ? "" : part.slice(eq + 1);
    const items = body.split(",").filter(Boolean);
    if (name === "o") {
      const o = Number(body);
      if (Number.isFinite(o)) opacity = Math.max(0, Math.min(1, o));
    } else if (name === "h") for (const s of items) hiddenLayers.add(unesc(s));
    else if (name === "c") for (const s of items) hiddenClasses.add(unesc(s));
    else if (name === "t") {
      for (const s of items) {
        const colon = s.lastIndexOf(":");
        const v = Number(s.slice(colon + 1));
        if (colon > 0 && Number.isFinite(v)) thresholds[unesc(s.slice(0, colon))] = v;
      }
    } else if (name === "nc") captions = false;
  }
  return { opacity, hiddenLayers, hiddenClasses, thresholds, captions };
}

/** Fits a width x height image into a box, keeping its aspect (never scaling to zero). */
export function fitSize(width: number, height: number, maxWidth: number, maxHeight: number, upscale = true): {
  width: number;
  height: number;
  scale: number;
} {
  if (!(width > 0) || !(height > 0)) return { width: Math.max(1, Math.round(maxWidth)), height: Math.max(1, Math.round(maxHeight)), scale: 1 };
  let scale = Math.min(maxWidth / width, maxHeight / height);
  if (!upscale) scale = Math.min(1, scale);
  if (!(scale > 0)) scale = 1;
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)), scale };
}
