// Image and mask blobs, fetched with the API key header (servers may require one) and decoded
// once: blobs are content-addressed (sha256), so a decoded bitmap never goes stale. A small LRU
// bounded by decoded bytes keeps memory in check when a table pages through many thumbnails.
import { authHeaders, callBytes, urlFor } from "../../api/client";
import { readBlobBatch } from "../../lib/blobBatch";

interface Entry<T> {
  value: Promise<T>;
  bytes: number;
}

const MAX_BYTES = 192 * 1024 * 1024;
const MAX_ENTRIES = 600;

class Lru<T> {
  private map = new Map<string, Entry<T>>();
  private total = 0;

  constructor(
    private readonly maxBytes = MAX_BYTES,
    private readonly maxEntries = MAX_ENTRIES,
  ) {}

  get(key: string): Promise<T> | undefined {
    const e = this.map.get(key);
    if (!e) return undefined;
    this.map.delete(key);
    this.map.set(key, e);
    return e.value;
  }

  set(key: string, value: Promise<T>, bytes: number): void {
    const old = this.map.get(key);
    if (old) {
      this.total -= old.bytes;
      this.map.delete(key);
    }
    this.map.set(key, { value, bytes });
    this.total += bytes;
    for (const [k, e] of this.map) {
      if (this.total <= this.maxBytes && this.map.size <= this.maxEntries) break;
      if (k === key) continue;
      this.map.delete(k);
      this.total -= e.bytes;
    }
  }

  resize(key: string, bytes: number): void {
    const e = this.map.get(key);
    if (!e) return;
    this.total += bytes - e.bytes;
    e.bytes = bytes;
  }

  /** Drop ``key`` (only while it still holds ``value``, when given). */
  delete(key: string, value?: Promise<T>): void {
    const e = this.map.get(key);
    if (!e || (value !== undefined && e.value !== value)) return;
    this.total -= e.bytes;
    this.map.delete(key);
  }
}

const images = new Lru<ImageBitmap>();
const masks = new Lru<ImageData>();

/** A blob's message when it cannot be read (shown under the image). */
export class BlobError extends Error {}

/** Blobs asked for in a batch, by project and sha256: kept (the last MAX_PREFETCHED used) so
 * that every canvas drawing one at any size shares the one download. */
const MAX_PREFETCHED = 400;
const prefetched = new Lru<Blob>(Infinity, MAX_PREFETCHED);
/** Blobs already asked for (in a batch or on their own): never put in a batch again, so a
 * page shown again, or reloaded while a run is live, asks for nothing its canvases decoded. */
const asked = new Set<string>();
const MAX_ASKED = 20_000;
const BATCH = 100;

function remember(key: string): void {
  asked.delete(key);
  asked.add(key);
  for (const old of asked) {
    if (asked.size <= MAX_ASKED) break;
    asked.delete(old);
  }
}

/** Fetch many small blobs with one request per 100 (a table page's thumbnails and masks: one
 * request each would queue behind the browser's six connections per server), so that the
 * thumbnails drawn next find their bytes here. A failed batch (an older server) leaves each
 * blob to its own request. */
export function prefetchBlobs(project: string, shas: readonly string[]): void {
  const wanted = [...new Set(shas)].filter((sha) => !asked.has(`${project}/${sha}`)).slice(0, MAX_PREFETCHED);
  for (let i = 0; i < wanted.length; i += BATCH) {
    const chunk = wanted.slice(i, i + BATCH);
    const answer = callBytes("get_blob_batch", { path: { project }, body: { sha256: chunk } }, "application/x-msgpack").then(
      readBlobBatch,
    );
    for (const sha of chunk) {
      const key = `${project}/${sha}`;
      const blob = answer.then((found) => {
        const bytes = found.get(sha);
        if (!bytes) throw new BlobError("not in the batch");
        return new Blob([bytes as Uint8Array<ArrayBuffer>]);
      });
      blob.catch(() => prefetched.delete(key, blob));
      prefetched.set(key, blob, 0);
      remember(key);
    }
  }
}

async function fetchBlob(project: string, sha256: string): Promise<Blob> {
  const key = `${project}/${sha256}`;
  const early = prefetched.get(key);
  if (early) {
    try {
      return await early;
    } catch {
      /* fetched on its own below */
    }
  }
  remember(key);
  const response = await fetch(urlFor("get_blob", { path: { project, sha256 } }), { headers: authHeaders() });
  if (!response.ok) {
    throw new BlobError(response.status === 404 ? "image not found on the server" : `image: HTTP ${response.status}`);
  }
  return response.blob();
}

function cached<T>(
  lru: Lru<T>,
  key: string,
  guess: number,
  load: () => Promise<T>,
  size: (value: T) => number,
): Promise<T> {
  const hit = lru.get(key);
  if (hit) return hit;
  const value = load();
  lru.set(key, value, guess);
  value.then(
    (v) => lru.resize(key, size(v)),
    () => lru.delete(key, value),
  );
  return value;
}

/** The image, decoded at most ``width`` x ``height`` (a thumbnail keeps no full-size copy). */
export function loadImage(project: string, sha256: string, width?: number, height?: number): Promise<ImageBitmap> {
  const sized = width !== undefined && height !== undefined && width > 0 && height > 0;
  const key = sized ? `${sha256}@${width}x${height}` : sha256;
  return cached(
    images,
    key,
    sized ? width * height * 4 : 1 << 20,
    async () => {
      const blob = await fetchBlob(project, sha256);
      try {
        return await createImageBitmap(
          blob,
          sized ? { resizeWidth: width, resizeHeight: height, resizeQuality: "high" } : {},
        );
      } catch {
        throw new BlobError("image could not be decoded");
      }
    },
    (b) => b.width * b.height * 4,
  );
}

function scratch(width: number, height: number): OffscreenCanvas | HTMLCanvasElement {
  if (typeof OffscreenCanvas !== "undefined") return new OffscreenCanvas(width, height);
  const c = document.createElement("canvas");
  c.width = width;
  c.height = height;
  return c;
}

/** A mask's pixels (RGBA) at ``width`` x ``height``, resized with nearest neighbour so every
 * pixel keeps a class id that was in the mask, and with no colour conversion. */
export function loadMask(project: string, sha256: string, width: number, height: number): Promise<ImageData> {
  const w = Math.max(1, Math.round(width));
  const h = Math.max(1, Math.round(height));
  return cached(
    masks,
    `${sha256}@${w}x${h}`,
    w * h * 4,
    async () => {
      const blob = await fetchBlob(project, sha256);
      let bitmap: ImageBitmap;
      try {
        bitmap = await createImageBitmap(blob, {
          resizeWidth: w,
          resizeHeight: h,
          resizeQuality: "pixelated",
          colorSpaceConversion: "none",
          premultiplyAlpha: "none",
        });
      } catch {
        throw new BlobError("mask could not be decoded");
      }
      const canvas = scratch(w, h);
      const ctx = canvas.getContext("2d", { willReadFrequently: true }) as
        | CanvasRenderingContext2D
        | OffscreenCanvasRenderingContext2D
        | null;
      if (!ctx) throw new BlobError("no 2D canvas");
      ctx.imageSmoothingEnabled = false;
      ctx.drawImage(bitmap, 0, 0);
      bitmap.close();
      return ctx.getImageData(0, 0, w, h);
    },
    (d) => d.data.length,
  );
}

/** A canvas (off screen where possible) holding ``rgba`` at its own size, to draw scaled. */
export function rgbaCanvas(rgba: Uint8ClampedArray, width: number, height: number): OffscreenCanvas | HTMLCanvasElement {
  const canvas = scratch(width, height);
  const ctx = canvas.getContext("2d") as CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D | null;
  if (ctx) {
    const data = new ImageData(width, height);
    data.data.set(rgba);
    ctx.putImageData(data, 0, 0);
  }
  return canvas;
}
