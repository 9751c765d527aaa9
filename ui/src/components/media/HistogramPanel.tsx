// Histograms over steps as a heat-map on a canvas: x = step, y = value (each step re-binned
// onto common bins, see lib/heatmap.ts), colour = count on a log scale. Hovering reads a cell.
//
// Test hooks: data-testid="histogram-heatmap" with data-steps, data-bins, data-max and
// data-state; the hover read-out is data-testid="heatmap-tooltip".
import { useLayoutEffect, useMemo, useRef, useState } from "react";
import { formatNumber } from "../../lib/format";
import { columnAt, columnEdges, heatColor, heatGrid, logScale, type HeatGrid } from "../../lib/heatmap";
import { getHistograms, type HistogramsAnswer } from "./api";
import { rgbaCanvas } from "./bitmaps";
import { useAsync, useEvery, useSeen, useWidth } from "./hooks";

const HEIGHT = 220;
const LEFT = 64;
const BOTTOM = 22;
const TOP = 6;
const RIGHT = 8;

function binCount(bins: readonly (readonly number[])[]): number {
  let most = 0;
  for (const b of bins) most = Math.max(most, b.length - 1);
  return Math.max(16, Math.min(128, most || 64));
}

interface Hover {
  x: number;
  y: number;
  text: string;
}

export function HistogramHeatmap({ data, width }: { data: HistogramsAnswer; width: number }) {
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const grid: HeatGrid = useMemo(() => heatGrid(data.steps, data.bins, data.counts, binCount(data.bins)), [data]);
  const cols = useMemo(() => columnEdges(grid.steps), [grid]);
  const [hover, setHover] = useState<Hover | null>(null);
  const dpr = typeof window !== "undefined" ? window.devicePixelRatio || 1 : 1;
  const cssW = Math.max(200, width);
  const plotW = cssW - LEFT - RIGHT;
  const plotH = HEIGHT - TOP - BOTTOM;

  useLayoutEffect(() => {
    const canvas = canvasRef.current;
    const ctx = canvas?.getContext("2d");
    if (!canvas || !ctx) return;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, cssW, HEIGHT);
    const nb = grid.edges.length - 1;
    const pw = Math.max(1, Math.round(plotW * dpr));
    if (grid.steps.length > 0 && nb > 0) {
      const rgba = new Uint8ClampedArray(pw * nb * 4);
      const x0 = cols[0] as number;
      const x1 = cols[cols.length - 1] as number;
      for (let px = 0; px < pw; px++) {
        const col = columnAt(cols, x0 + ((px + 0.5) / pw) * (x1 - x0));
        const row = grid.counts[col];
        if (!row) continue;
        for (let j = 0; j < nb; j++) {
          const c = row[j] as number;
          if (!(c > 0)) continue;
          const [r, g, b] = heatColor(logScale(c, grid.max));
          const at = ((nb - 1 - j) * pw + px) * 4;
          rgba[at] = r;
          rgba[at + 1] = g;
          rgba[at + 2] = b;
          rgba[at + 3] = 255;
        }
      }
      ctx.imageSmoothingEnabled = false;
      ctx.drawImage(rgbaCanvas(rgba, pw, nb), LEFT, TOP, plotW, plotH);
    }
    // axes
    const fg = getComputedStyle(canvas).color || "#888";
    ctx.strokeStyle = fg;
    ctx.fillStyle = fg;
    ctx.lineWidth = 1;
    ctx.strokeRect(LEFT - 0.5, TOP - 0.5, plotW + 1, plotH + 1);
    ctx.font = "11px system-ui, sans-serif";
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    const lo = grid.edges[0] as number;
    const hi = grid.edges[nb] as number;
    for (let k = 0; k <= 4; k++) {
      const v = lo + ((hi - lo) * k) / 4;
      ctx.fillText(formatNumber(v, 3), LEFT - 4, TOP + plotH - (plotH * k) / 4);
    }
    if (grid.steps.length) {
      ctx.textBaseline = "top";
      const x0 = cols[0] as number;
      const x1 = cols[cols.length - 1] as number;
      // ticks name real steps: the step of the column under each of five positions
      for (let k = 0; k <= 4; k++) {
        const col = columnAt(cols, Math.min(x0 + ((x1 - x0) * k) / 4, x1 - 1e-9 * Math.abs(x1 - x0)));
        const step = grid.steps[col];
        if (step === undefined) continue;
        ctx.textAlign = k === 0 ? "left" : k === 4 ? "right" : "center";
        const at = k === 4 ? LEFT + plotW : LEFT + (plotW * ((cols[col] as number) - x0)) / (x1 - x0);
        ctx.fillText(formatNumber(step, 6), at, TOP + plotH + 4);
      }
    }
  }, [grid, cols, cssW, plotW, plotH, dpr]);

  const onMove = (e: React.MouseEvent<HTMLCanvasElement>) => {
    const rect = e.currentTarget.getBoundingClientRect();
    const x = e.clientX - rect.left;
    const y = e.clientY - rect.top;
    const nb = grid.edges.length - 1;
    if (x < LEFT || x > LEFT + plotW || y < TOP || y > TOP + plotH || cols.length < 2 || nb < 1) {
      setHover(null);
      return;
    }
    const x0 = cols[0] as number;
    const x1 = cols[cols.length - 1] as number;
    const col = columnAt(cols, x0 + ((x - LEFT) / plotW) * (x1 - x0));
    const j = Math.min(nb - 1, Math.max(0, Math.floor(((TOP + plotH - y) / plotH) * nb)));
    const count = grid.counts[col]?.[j];
    if (count === undefined) {
      setHover(null);
      return;
    }
    const a = grid.edges[j] as number;
    const b = grid.edges[j + 1] as number;
    setHover({
      x,
      y,
      text: `step ${grid.steps[col]} · [${formatNumber(a, 4)}, ${formatNumber(b, 4)}) · count ${formatNumber(count, 4)}`,
    });
  };

  return (
    <div className="heatmap-wrap">
      <canvas
        ref={canvasRef}
        width={Math.round(cssW * dpr)}
        height={Math.round(HEIGHT * dpr)}
        style={{ width: cssW, height: HEIGHT }}
        className="heatmap"
        data-testid="histogram-heatmap"
        data-state="drawn"
        data-steps={grid.steps.length}
        data-bins={grid.edges.length - 1}
        data-max={grid.max}
        onMouseMove={onMove}
        onMouseLeave={() => setHover(null)}
        role="img"
        aria-label="Histogram heat-map: step across, value up, colour by count"
      />
      {hover && (
        <div className="heatmap-tooltip" data-testid="heatmap-tooltip" style={{ left: Math.min(hover.x + 12, cssW - 220), top: hover.y + 12 }}>
          {hover.text}
        </div>
      )}
      <div className="heatmap-legend muted">
        <span>count</span>
        <span className="heatmap-scale" />
        <span className="num">0 … {formatNumber(grid.max, 4)} (log)</span>
      </div>
    </div>
  );
}

export function HistogramPanel(props: { project: string; runId: string; mediaKey: string; live: boolean }) {
  const { project, runId, mediaKey } = props;
  const ref = useRef<HTMLElement>(null);
  const bodyRef = useRef<HTMLDivElement>(null);
  const seen = useSeen(ref);
  const width = useWidth(bodyRef);
  const hist = useAsync(seen ? `${project}\n${runId}\n${mediaKey}` : null, (signal) => getHistograms(project, runId, mediaKey, signal));
  useEvery(seen && props.live, 5000, hist.reload);
  const state = hist.error ? "error" : !hist.data ? "loading" : hist.data.steps.length ? "ready" : "empty";
  return (
    <section ref={ref} className="card media-panel" data-testid="media-panel" data-key={mediaKey} data-kind="histogram" data-state={state}>
      <header className="media-head">
        <h3 className="media-title" title={mediaKey}>
          {mediaKey}
        </h3>
        {hist.data && <span className="muted">{hist.data.steps.length} steps</span>}
      </header>
      <div ref={bodyRef} className="heatmap-body">
        {hist.error && <div className="error">{hist.error}</div>}
        {!hist.data && !hist.error && <div className="muted">Loading…</div>}
        {state === "empty" && <div className="muted">No histogram logged.</div>}
        {hist.data && hist.data.steps.length > 0 && width > 0 && <HistogramHeatmap data={hist.data} width={width} />}
      </div>
    </section>
  );
}
