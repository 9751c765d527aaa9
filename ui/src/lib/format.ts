// How values read on screen. NaN and ±Infinity are shown as such (I01), never as blanks.

export function formatNumber(value: number, digits = 4): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "inf";
  if (value === -Infinity) return "-inf";
  if (Object.is(value, -0)) return "-0";
  if (Number.isInteger(value) && Math.abs(value) < 1e15) return String(value);
  const abs = Math.abs(value);
  if (abs !== 0 && (abs < 1e-3 || abs >= 1e6)) return value.toExponential(digits - 1);
  return String(Number(value.toPrecision(digits)));
}

export function formatValue(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "number") return formatNumber(value);
  if (typeof value === "string") return value;
  if (typeof value === "boolean") return value ? "true" : "false";
  return JSON.stringify(value, (_k, v: unknown) =>
    typeof v === "number" && !Number.isFinite(v) ? formatNumber(v) : v,
  );
}

export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "";
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  if (h > 0) return `${h}h ${m}m`;
  if (m > 0) return `${m}m ${r}s`;
  return `${r}s`;
}

export function formatTime(epochSeconds: number | null | undefined): string {
  if (epochSeconds === null || epochSeconds === undefined) return "";
  const d = new Date(epochSeconds * 1000);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export function formatAgo(epochSeconds: number | null | undefined, now = Date.now() / 1000): string {
  if (epochSeconds === null || epochSeconds === undefined) return "never";
  const d = Math.max(0, now - epochSeconds);
  if (d < 60) return "just now";
  if (d < 3600) return `${Math.floor(d / 60)} min ago`;
  if (d < 86400) return `${Math.floor(d / 3600)} h ago`;
  return `${Math.floor(d / 86400)} d ago`;
}

/** Reads a dotted path ("config.optimizer.lr", "summary.val/loss") from a run-like object. */
export function getPath(obj: unknown, path: string): unknown {
  const dot = path.indexOf(".");
  if (dot < 0) return (obj as Record<string, unknown> | null)?.[path];
  const head = path.slice(0, dot);
  const rest = path.slice(dot + 1);
  const inner = (obj as Record<string, unknown> | null)?.[head];
  if (inner === null || typeof inner !== "object") return undefined;
  // Keys may themselves contain dots or slashes: try the whole rest first, then descend.
  const record = inner as Record<string, unknown>;
  if (rest in record) return record[rest];
  return getPath(inner, rest);
}
