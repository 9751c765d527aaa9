// How a table cell is drawn: numbers, text and booleans as text; images as thumbnails with
// the same overlay drawing as the media panels; histograms as small bar charts.
import { useLayoutEffect, useRef } from "react";
import { formatNumber, formatValue } from "../../lib/format";
import { asHistogram, asImage, type HistogramDescriptor, type OverlayState } from "../../lib/overlay";
import { ImageCanvas } from "./ImageCanvas";

export const THUMB = 96;

export function MiniHistogram({ hist, width = THUMB, height = 32 }: { hist: HistogramDescriptor; width?: number; height?: number }) {
  const ref = useRef<HTMLCanvasElement>(null);
  const dpr = typeof window !== "undefined" ? window.devicePixelRatio || 1 : 1;
  useLayoutEffect(() => {
    const canvas = ref.current;
    const ctx = canvas?.getContext("2d");
    if (!canvas || !ctx) return;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);
    const values = hist.values.map((v) => (Number.isFinite(v) && v > 0 ? v : 0));
    const max = Math.max(0, ...values);
    if (!(max > 0) || values.length === 0) return;
    ctx.fillStyle = getComputedStyle(canvas).color || "#2f6fde";
    const w = width / values.length;
    values.forEach((v, i) => {
      const h = (v / max) * (height - 1);
      ctx.fillRect(i * w, height - h, Math.max(1, w - (w > 3 ? 1 : 0)), h);
    });
  }, [hist, width, height, dpr]);
  const lo = hist.bins[0];
  const hi = hist.bins[hist.bins.length - 1];
  return (
    <canvas
      ref={ref}
      className="mini-hist"
      width={Math.round(width * dpr)}
      height={Math.round(height * dpr)}
      style={{ width, height }}
      data-testid="table-histogram"
      role="img"
      aria-label={`histogram of ${hist.values.length} bins from ${formatNumber(lo ?? NaN)} to ${formatNumber(hi ?? NaN)}`}
    />
  );
}

export function TableCell(props: {
  project: string;
  value: unknown;
  overlay: OverlayState;
  onZoom?: () => void;
  size?: number;
}) {
  const { value } = props;
  if (value === null || value === undefined) return <span className="muted cell-null">null</span>;
  if (typeof value === "number") return <span className="num">{formatNumber(value)}</span>;
  if (typeof value === "boolean") return <span>{value ? "true" : "false"}</span>;
  if (typeof value === "string") return <span className="cell-text" title={value}>{value}</span>;
  if (typeof value === "object") {
    const d = value as Record<string, unknown>;
    if (d["_type"] === "histogram") {
      const hist = asHistogram(d);
      if (hist) return <MiniHistogram hist={hist} />;
    }
    const image = d["_type"] === "image" || typeof d["sha256"] === "string" ? asImage(d) : null;
    if (image) {
      const state = typeof d["state"] === "string" ? d["state"] : "stored";
      if (state === "missing" || state === "pending") {
        return (
          <span className="media-note small" data-testid="media-note" data-state={state}>
            {state === "missing" ? "image missing: the process ended before it was stored" : "still being stored"}
          </span>
        );
      }
      const size = props.size ?? THUMB;
      return (
        <ImageCanvas
          project={props.project}
          image={image}
          overlay={{ ...props.overlay, captions: false }}
          maxWidth={size}
          maxHeight={size}
          onClick={props.onZoom}
          testId="table-image"
        />
      );
    }
  }
  const text = formatValue(value);
  return (
    <span className="cell-text mono" title={text}>
      {text}
    </span>
  );
}

/** Plain text of a cell (group values, keys of compared rows). */
export function cellText(value: unknown): string {
  if (value === null || value === undefined) return "null";
  return formatValue(value);
}
