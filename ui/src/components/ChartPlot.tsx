// The canvas of one chart panel: a uPlot instance drawing prepared lines (see ChartModel), a
// faint min/max band behind each line, drag-to-zoom and double-click to reset. Data fetching,
// smoothing and the legend live in MetricPanel.
import { useEffect, useLayoutEffect, useRef } from "react";
import uPlot from "uplot";
import type { Aligned, Numbers } from "../lib/buckets";
import { withAlpha } from "../lib/colors";
import { formatNumber } from "../lib/format";
import { cssVar, type Theme } from "../lib/theme";

/** One drawn line: a run, or a group of runs (mean of the group). */
export interface ChartLine {
  id: string;
  label: string;
  color: string;
  /** dashes tell the keys of a multi-key panel apart */
  dash?: number[];
  /** the metric key this line shows */
  key: string;
  x: Numbers;
  /** the values drawn as the line (bucket ``last``, or the group mean); may hold NaN/±inf */
  y: Numbers;
  /** smoothed ``y``; null where ``y`` is not finite */
  s: (number | null)[];
  /** band: bucket min / max (for groups: lowest min / highest max across the group's runs) */
  lo: Numbers;
  hi: Numbers;
  /** points per bucket (runs per x for groups) */
  n: Numbers;
}

export interface ChartModel {
  lines: ChartLine[];
  smoothed: boolean;
  xAxis: string;
  logY: boolean;
  xRange: [number, number];
  yRange: [number, number] | null;
  /** lowest and highest finite value drawn (lines, smoothed lines and bands) */
  yExtent: [number, number] | null;
  /** lines on one x array: raw lines first when smoothed, then the drawn (smoothed) lines */
  aligned: Aligned;
}

export interface ChartPlotProps {
  model: ChartModel;
  height: number;
  theme: Theme;
  onHover: (x: number | null) => void;
  onZoom: (x0: number, x1: number) => void;
  onReset: () => void;
  onDrawn: () => void;
}

function trimmed(v: number, digits = 3): string {
  return String(Number(v.toPrecision(digits)));
}

/** Axis tick text: 1.5k, 2M, 0.001, 1e-5. */
export function tickText(v: number | null): string {
  if (v === null || v === undefined) return ""; // uPlot leaves some log-scale ticks unlabelled
  if (!Number.isFinite(v)) return formatNumber(v);
  const a = Math.abs(v);
  if (a >= 1e12) return formatNumber(v, 3);
  if (a >= 1e9) return `${trimmed(v / 1e9)}G`;
  if (a >= 1e6) return `${trimmed(v / 1e6)}M`;
  if (a >= 1e4) return `${trimmed(v / 1e3)}k`;
  return formatNumber(v, 3);
}

export function durationTick(seconds: number | null): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "";
  const a = Math.abs(seconds);
  if (a < 120) return `${trimmed(seconds)}s`;
  if (a < 7200) return `${trimmed(seconds / 60)}m`;
  if (a < 172800) return `${trimmed(seconds / 3600)}h`;
  return `${trimmed(seconds / 86400)}d`;
}

const FILL_MAX_LINES = 12;

// Canvas positions of one line's band, reused across lines and draws (no allocation per draw).
let scratch = { px: new Float64Array(0), hi: new Float64Array(0), lo: new Float64Array(0), ok: new Uint8Array(0) };

function bandScratch(n: number): typeof scratch {
  if (scratch.px.length < n) {
    const size = Math.max(n, scratch.px.length * 2);
    scratch = { px: new Float64Array(size), hi: new Float64Array(size), lo: new Float64Array(size), ok: new Uint8Array(size) };
  }
  return scratch;
}

function drawBands(u: uPlot, model: ChartModel): void {
  const ctx = u.ctx;
  const { left, top, width, height } = u.bbox;
  const xmin = model.xRange[0];
  const xmax = model.xRange[1];
  const logY = model.logY;
  ctx.save();
  ctx.beginPath();
  ctx.rect(left, top, width, height);
  ctx.clip();
  const minBar = Math.max(1, Math.round(devicePixelRatio || 1));
  // Canvas positions: plain arithmetic on linear scales (35,000 points per 100-run panel made
  // uPlot's general valToPos the bulk of this function), uPlot's own mapping otherwise (log).
  const sx = u.scales["x"];
  const sy = u.scales["y"];
  const linear = (s: uPlot.Scale | undefined): s is uPlot.Scale & { min: number; max: number } =>
    !!s && s.distr === 1 && s.min != null && s.max != null && s.max > s.min;
  const xLinear = linear(sx);
  const yLinear = linear(sy);
  const x0 = xLinear ? sx.min : 0;
  const kx = xLinear ? width / (sx.max - sx.min) : 0;
  const y0 = yLinear ? sy.min : 0;
  const ky = yLinear ? height / (sy.max - sy.min) : 0;
  const bottom = top + height;
  // Filling 100 overlapping translucent bands blends every pixel 100 times (the costliest part
  // of a many-run chart); past FILL_MAX_LINES only the envelopes are drawn, which keeps every
  // spike visible, and the band polygon is not built at all.
  const fill = model.lines.length <= FILL_MAX_LINES;
  for (const line of model.lines) {
    const { x, lo, hi } = line;
    const n = x.length;
    const { px, hi: phi, lo: plo, ok } = bandScratch(n);
    for (let i = 0; i < n; i++) {
      const a = lo[i] as number;
      const b = hi[i] as number;
      const xi = x[i] as number;
      // a finite band (positive on log scales) at an x inside the range's right edge
      const good = a - a === 0 && b - b === 0 && (!logY || (a > 0 && b > 0)) && xi <= xmax;
      ok[i] = good ? 1 : 0;
      if (!good) continue;
      px[i] = xLinear ? left + (xi - x0) * kx : u.valToPos(xi, "x", true);
      phi[i] = yLinear ? bottom - (b - y0) * ky : u.valToPos(b, "y", true);
      plo[i] = yLinear ? bottom - (a - y0) * ky : u.valToPos(a, "y", true);
    }
    const path = fill ? new Path2D() : null; // the band
    const edges = new Path2D(); // its max and min envelopes, stroked so a one-bucket spike shows
    let any = false;
    let i = 0;
    // polygons over runs of consecutive buckets that have a finite band and a non-zero width
    while (i < n) {
      if (!ok[i]) {
        i++;
        continue;
      }
      let j = i;
      let flat = lo[i] === hi[i];
      while (j + 1 < n && ok[j + 1]) {
        j++;
        if (flat && lo[j] !== hi[j]) flat = false;
      }
      if (!flat && (x[j] as number) >= xmin) {
        any = true;
        if (i === j) {
          const y0 = phi[i] as number;
          const y1 = plo[i] as number;
          const bar = [(px[i] as number) - minBar / 2, Math.min(y0, y1), minBar, Math.max(minBar, Math.abs(y1 - y0))] as const;
          if (path) path.rect(...bar);
          else edges.rect(...bar);
        } else {
          edges.moveTo(px[i] as number, phi[i] as number);
          for (let k = i + 1; k <= j; k++) edges.lineTo(px[k] as number, phi[k] as number);
          edges.moveTo(px[j] as number, plo[j] as number);
          for (let k = j - 1; k >= i; k--) edges.lineTo(px[k] as number, plo[k] as number);
          if (path) {
            path.moveTo(px[i] as number, phi[i] as number);
            for (let k = i + 1; k <= j; k++) path.lineTo(px[k] as number, phi[k] as number);
            for (let k = j; k >= i; k--) path.lineTo(px[k] as number, plo[k] as number);
            path.closePath();
          }
        }
      }
      i = j + 1;
    }
    if (any) {
      if (path) {
        ctx.fillStyle = withAlpha(line.color, 0.15);
        ctx.fill(path);
      }
      ctx.strokeStyle = withAlpha(line.color, 0.45);
      ctx.lineWidth = minBar;
      ctx.stroke(edges);
    }
  }
  ctx.restore();
}

function toData(model: ChartModel): uPlot.AlignedData {
  // undefined (no point at this x: joined over) and null (NaN/inf: a gap) are both meant
  return [model.aligned.x, ...model.aligned.ys] as unknown as uPlot.AlignedData;
}

export function ChartPlot(props: ChartPlotProps) {
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const drawnModel = useRef<ChartModel | null>(null);
  const handlers = useRef(props);
  handlers.current = props;
  const { model, height, theme } = props;
  const current = useRef(model);
  current.current = model;
  // a new plot only when what the series look like changes; new data alone goes to setData
  // (live updates twice a second keep the cursor and the legend where they are)
  const shape = [
    theme,
    height,
    model.xAxis,
    model.logY,
    model.smoothed,
    ...model.lines.map((l) => `${l.id}\u0001${l.color}\u0001${l.label}\u0001${l.dash?.join(",") ?? ""}`),
  ].join("\u0002");

  // Layout effects: the plot is built and drawn in the task that commits the panel, so the
  // browser lays out and paints the page once with the chart in it (a passive effect ran after
  // that paint, waiting for the next frame, and cost every panel a second layout and paint).
  useLayoutEffect(() => {
    const el = host.current;
    if (!el) return;
    const model = current.current;
    const fg = cssVar("--fg-soft") || "#666";
    const grid = cssVar("--grid") || "rgba(0,0,0,0.08)";
    const axisValues =
      model.xAxis === "_timestamp"
        ? undefined
        : (_u: uPlot, splits: number[]) =>
            splits.map((v) => (model.xAxis === "_runtime" ? durationTick(v) : tickText(v)));
    let frame = 0;
    let hoverAt: number | null = null;
    const series: uPlot.Series[] = [{}];
    if (model.smoothed) {
      for (const line of model.lines)
        series.push({
          label: `${line.label} (raw)`,
          stroke: withAlpha(line.color, 0.28),
          width: 1,
          dash: line.dash,
          points: { show: false },
        });
    }
    // Many lines are drawn 1 px wide: a software canvas strokes 1 px lines on a fast path, and
    // 100 lines 1.5 px wide cost ~8x as much to draw (~45 vs ~6 ms per 100-run panel).
    const lineWidth = model.lines.length > FILL_MAX_LINES ? 1 : 1.5;
    for (const line of model.lines)
      series.push({ label: line.label, stroke: line.color, width: lineWidth, dash: line.dash });
    const opts: uPlot.Options = {
      width: Math.max(100, el.clientWidth),
      height,
      legend: { show: false },
      cursor: {
        drag: { x: true, y: false, setScale: false },
        points: { show: false },
        // the legend looks values up itself: no per-series search for the nearest non-null value
        dataIdx: (_u: uPlot, _seriesIdx: number, closestIdx: number) => closestIdx,
        bind: {
          dblclick: () => () => {
            handlers.current.onReset();
            return null;
          },
        },
      },
      scales: {
        x: {
          time: model.xAxis === "_timestamp",
          auto: false,
          range: (): uPlot.Range.MinMax => [current.current.xRange[0], current.current.xRange[1]],
        },
        y: {
          auto: false,
          distr: model.logY ? 3 : 1,
          range: (): uPlot.Range.MinMax => {
            const yr = current.current.yRange;
            return yr ? [yr[0], yr[1]] : model.logY ? [1, 10] : [0, 1];
          },
        },
      },
      axes: [
        { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 }, values: axisValues },
        {
          stroke: fg,
          grid: { stroke: grid, width: 1 },
          ticks: { stroke: grid, width: 1 },
          values: (_u: uPlot, splits: number[]) => splits.map(tickText),
          size: 52,
        },
      ],
      series,
      hooks: {
        drawAxes: [(u: uPlot) => drawBands(u, current.current)],
        draw: [() => handlers.current.onDrawn()],
        setCursor: [
          (u: uPlot) => {
            const idx = u.cursor.idx;
            const xs = u.data[0];
            hoverAt = idx === null || idx === undefined ? null : (xs[idx] ?? null);
            // one legend update per frame, however many mouse events came
            if (frame === 0) {
              frame = requestAnimationFrame(() => {
                frame = 0;
                handlers.current.onHover(hoverAt);
              });
            }
          },
        ],
        setSelect: [
          (u: uPlot) => {
            const { left, width } = u.select;
            if (width < 4) return;
            const a = u.posToVal(left, "x");
            const b = u.posToVal(left + width, "x");
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            handlers.current.onZoom(Math.min(a, b), Math.max(a, b));
          },
        ],
      },
    };
    const u = new uPlot(opts, toData(model), el);
    plot.current = u;
    drawnModel.current = model;
    const leave = () => {
      if (frame !== 0) cancelAnimationFrame(frame);
      frame = 0;
      handlers.current.onHover(null);
    };
    u.over.addEventListener("mouseleave", leave);
    return () => {
      if (frame !== 0) cancelAnimationFrame(frame);
      u.over.removeEventListener("mouseleave", leave);
      u.destroy();
      plot.current = null;
    };
    // shape stands for everything the options are built from
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [shape]);

  useLayoutEffect(() => {
    const u = plot.current;
    if (!u || drawnModel.current === model) return;
    drawnModel.current = model;
    u.setData(toData(model), true);
  }, [model]);

  useEffect(() => {
    const el = host.current;
    if (!el || typeof ResizeObserver === "undefined") return;
    const ro = new ResizeObserver(() => {
      const u = plot.current;
      const w = Math.max(100, el.clientWidth);
      if (u && Math.abs(u.width - w) > 1) u.setSize({ width: w, height: u.height });
    });
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  return <div ref={host} className="chart-plot" />;
}
