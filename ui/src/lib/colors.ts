// A stable colour per run: the same run keeps its colour across pages, reloads and users.
const PALETTE = [
  "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
  "#bcbd22", "#17becf", "#3b5bdb", "#e8590c", "#2b8a3e", "#c2255c", "#6741d9", "#0b7285",
];

export function hashString(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  return h >>> 0;
}

export function colorFor(id: string): string {
  return PALETTE[hashString(id) % PALETTE.length] as string;
}

/** ``#rrggbb`` with an alpha, for faint raw lines and bands. */
export function withAlpha(hex: string, alpha: number): string {
  const a = Math.round(Math.max(0, Math.min(1, alpha)) * 255)
    .toString(16)
    .padStart(2, "0");
  return `${hex}${a}`;
}

/** The i-th palette colour: distinct for up to 16 items (groups are coloured by position). */
export function colorAt(i: number): string {
  return PALETTE[((i % PALETTE.length) + PALETTE.length) % PALETTE.length] as string;
}
