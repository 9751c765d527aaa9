// What a media answer shows, cell by cell: each stored image (a gallery item gives several), or
// a note for an item that cannot be drawn. Pure, for tests.
import { imagesOf, type ImageDescriptor } from "../../lib/overlay";
import type { MediaItem } from "./api";

export const MISSING_TEXT = "image missing: the process ended before it was stored";
export const PENDING_TEXT = "still being stored";
export const UNREADABLE_TEXT = "unreadable image data";

export type Cell =
  | { kind: "image"; image: ImageDescriptor; item: number; sub: number }
  | { kind: "note"; state: string; text: string; item: number };

export function noteFor(state: string): string | null {
  if (state === "missing") return MISSING_TEXT;
  if (state === "pending") return PENDING_TEXT;
  return null;
}

export function cellsOf(items: readonly MediaItem[]): Cell[] {
  const cells: Cell[] = [];
  items.forEach((it, item) => {
    const note = noteFor(it.state);
    if (note) {
      cells.push({ kind: "note", state: it.state, text: note, item });
      return;
    }
    const images = imagesOf(it.data);
    if (images.length === 0) cells.push({ kind: "note", state: "unreadable", text: it.error ?? UNREADABLE_TEXT, item });
    images.forEach((image, sub) => cells.push({ kind: "image", image, item, sub }));
  });
  return cells;
}

export function imagesIn(cells: readonly Cell[]): ImageDescriptor[] {
  const out: ImageDescriptor[] = [];
  for (const c of cells) if (c.kind === "image") out.push(c.image);
  return out;
}

/** Every distinct warning of the items (what the SDK changed or dropped when encoding). */
export function warningsOf(items: readonly MediaItem[]): string[] {
  const out = new Set<string>();
  for (const it of items) for (const w of it.warnings) out.add(w);
  return [...out];
}
