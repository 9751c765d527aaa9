// One chart panel: fetches the bucketed series of its metric key(s) for the drawn runs, draws
// them (see ChartPlot) and shows a legend with the exact values at the cursor.
//
// What is drawn:
// - the line goes through each bucket's ``last`` value: a value that was really logged (with one
//   point per bucket, zoomed in, every logged point), not an average that was never logged;
// - a faint band spans each bucket's min..max, so a spike at one step out of a million shows at
//   any zoom; grouped runs draw the mean of the group's lines with a band from the lowest min to
//   the highest max of its runs;
// - NaN and ±inf are gaps in the line and read "NaN"/"inf" in the legend.
//
// Loading: nothing is fetched until the panel scrolls near the viewport (IntersectionObserver);
// the bucket count follows the chart's pixel width; a drag-selected range is re-queried from the
// server (x_min/x_max) at full resolution; runs that report live changes are re-queried alone.
//
// Test/benchmark hooks: the root carries data-testid="panel-<id>", data-state
// (loading|drawn|empty|error), data-runs (lines drawn), data-points (buckets drawn),
// data-ymin/ymax (extent of everything drawn, bands included) and data-xmin/xmax (x range drawn);
// legend rows carry data-run and data-value; every draw calls
// performance.mark("kiseki:panel-drawn:<id>").
import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from "react";
import { querySeries } from "../api/client";
import { alignLines, extent, mergeRuns, nearestIndex, type Buckets, type Numbers } from "../lib/buckets";
import { errorText } from "../lib/data";
import { formatDuration, formatNumber } from "../lib/format";
import { isSmoothing, smooth, type SmoothingKind } from "../lib/smoothing";
import type { Theme } from "../lib/theme";
import type { ChartRun, RunGroup } from "../lib/types";
import { ChartPlot, type ChartLine, type ChartModel } from "./ChartPlot";
import { EMPTY_LAYOUT, resolveSettings, type PanelSettings, type PanelSize, type ResolvedSettings } from "./PanelLayout";
import "./Panels.css";

export interface PanelSpec {
  id: string;
  title: string;
  keys: string[];
  custom: boolean;
}

export interface MetricPanelProps {
  project: string;
  /** the panel's id, title and keys; or just ``metric`` for a one-key panel */
  panel?: PanelSpec;
  metric?: string;
  runs: ChartRun[];
  /** when set, one line per group (mean of its runs, band across them) */
  groups?: RunGroup[] | null;
  theme: Theme;
  /** bumps per run whose data changed (live updates): those runs are fetched again */
  liveVersion?: Record<string, number>;
  /** the settings in effect (or the defaults, when the panel keeps its own settings) */
  settings?: ResolvedSettings;
  /** this panel's own overrides (unset = workspace default) */
  own?: PanelSettings;
  /** metric keys offered as x axes */
  metrics?: string[];
  /** saves setting changes; without it the panel keeps its settings in its own state */
  onChange?: (patch: Partial<PanelSettings>) => void;
  /** without it there is no remove button */
  onRemove?: () => void;
}

const DEFAULTS = EMPTY_LAYOUT.defaults;
const NO_LIVE: Record<string, number> = {};
const NO_KEYS: string[] = [];

export const X_AXES: { value: string; label: string }[] = [
  { value: "step", label: "Step" },
  { value: "_timestamp", label: "Wall time" },
  { value: "_runtime", label: "Relative time" },
];

export function xAxisLabel(x: string): string {
  return X_AXES.find((a) => a.value === x)?.label ?? x;
}

const HEIGHTS: Record<PanelSize, number> = { s: 170, m: 220, l: 320 };
const MAX_PAIRS = 2000; // the server's limit of run x key pairs per request
const MAX_RUNS_PER_REQUEST = 200;
const DASHES: (number[] | undefined)[] = [undefined, [6, 3], [2, 3], [8, 3, 2, 3]];
// what a chart draws: the line through ``last``, the band min..max, ``count`` in the legend
// (``mean`` is not drawn: leaving it out saves a fifth of the answer)
const CHART_COLUMNS = ["x", "min", "max", "last", "count"] as const;
const EMPTY = new Float64Array(0);

type RunSeries = Map<string, Buckets>; // metric key -> buckets
interface Cache {
  base: string;
  series: Map<string, RunSeries>;
  have: Set<string>;
}

const LEGEND_MAX = 25;

/** Sort key for legend rows: real numbers by value, then +inf above all, NaN and gaps last. */
function legendRank(value: number | null | undefined): number {
  if (value === null || value === undefined || Number.isNaN(value)) return -Infinity;
  return value;
}

/** Text of a value for the legend and its data attribute: full precision, NaN/inf as words. */
function valueText(v: number | undefined, digits = 6): string {
  return v === undefined ? "" : formatNumber(v, digits);
}

function xText(x: number, axis: string): string {
  if (axis === "_timestamp") return new Date(x * 1000).toLocaleString();
  if (axis === "_runtime") return formatDuration(x) || `${formatNumber(x)}s`;
  return formatNumber(x, 6);
}

const NEAR_PX = 300; // panels this close to the viewport load

/** Whether the element is within NEAR_PX of the viewport. Measured once when it mounts (before
 * the first paint, so panels on screen ask for their data in the same task that renders them,
 * not a frame later when the IntersectionObserver first reports), then followed by the observer. */
function useInView(ref: React.RefObject<HTMLElement | null>): boolean {
  const [inView, setInView] = useState(false);
  useLayoutEffect(() => {
    const el = ref.current;
    if (!el || typeof window === "undefined") return;
    const r = el.getBoundingClientRect();
    const h = window.innerHeight || document.documentElement.clientHeight;
    if (r.bottom >= -NEAR_PX && r.top <= h + NEAR_PX && (r.width > 0 || r.height > 0)) setInView(true);
  }, [ref]);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    if (typeof IntersectionObserver === "undefined") {
      setInView(true);
      return;
    }
    const io = new IntersectionObserver((entries) => setInView(entries.some((e) => e.isIntersecting)), {
      rootMargin: `${NEAR_PX}px 0px`,
    });
    io.observe(el);
    return () => io.disconnect();
  }, [ref]);
  return inView;
}

function useWidth(ref: React.RefObject<HTMLElement | null>): number {
  const [width, setWidth] = useState(0);
  useLayoutEffect(() => {
    const el = ref.current;
    if (el) setWidth(el.clientWidth);
  }, [ref]);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    setWidth(el.clientWidth);
    if (typeof ResizeObserver === "undefined") return;
    const ro = new ResizeObserver(() => setWidth(el.clientWidth));
    ro.observe(el);
    return () => ro.disconnect();
  }, [ref]);
  return width;
}

export function MetricPanel(props: MetricPanelProps) {
  const { project, runs } = props;
  const groups = props.groups ?? null;
  const liveVersion = props.liveVersion ?? NO_LIVE;
  const metricKey = props.metric ?? "";
  const panel = useMemo(
    () => props.panel ?? { id: metricKey, title: metricKey, keys: [metricKey], custom: false },
    [props.panel, metricKey],
  );
  const [localOwn, setLocalOwn] = useState<PanelSettings>({});
  const controlled = props.onChange !== undefined;
  const own = controlled ? (props.own ?? {}) : localOwn;
  const settings = useMemo(
    () =>
      controlled && props.settings
        ? props.settings
        : resolveSettings(own, props.settings ? { xAxis: props.settings.xAxis, smoothing: props.settings.smoothing } : DEFAULTS),
    [controlled, props.settings, own],
  );
  const onChange = useCallback(
    (patch: Partial<PanelSettings>) => {
      if (props.onChange) {
        props.onChange(patch);
        return;
      }
      setLocalOwn((o) => {
        const next: PanelSettings = { ...o };
        for (const [k, v] of Object.entries(patch) as [keyof PanelSettings, unknown][]) {
          if (v === undefined) delete next[k];
          else (next as Record<string, unknown>)[k] = v;
        }
        return next;
      });
    },
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [props.onChange],
  );
  const metrics = props.metrics ?? NO_KEYS;
  const root = useRef<HTMLDivElement>(null);
  const body = useRef<HTMLDivElement>(null);
  const inView = useInView(root);
  const width = useWidth(body);
  const [zoom, setZoom] = useState<[number, number] | null>(null);
  const [showSettings, setShowSettings] = useState(false);
  const [hoverX, setHoverX] = useState<number | null>(null);
  const [error, setError] = useState<string>();
  const [version, setVersion] = useState(0);
  const [liveTick, setLiveTick] = useState(0);
  const [drawnModel, setDrawnModel] = useState<ChartModel | null>(null);

  // one bucket per ~pixel of plot width (less the y axis), in steps of 50 to avoid re-queries
  // on small resizes
  const buckets = width > 0 ? Math.max(50, Math.min(4000, Math.round((width - 60) / 50) * 50)) : 0;
  const keysKey = panel.keys.join("\u0000");
  const base = JSON.stringify([project, keysKey, settings.xAxis, zoom, buckets]);
  const runIds = useMemo(() => runs.map((r) => r.id), [runs]);
  const runKey = runIds.join(",");
  // what the lines depend on, as text: live updates hand in new (equal) arrays twice a second
  const drawSig = useMemo(
    () =>
      runs.map((r) => [r.id, r.name, r.color, r.group ?? ""].join("\u0001")).join("\u0002") +
      "\u0003" +
      (groups ?? []).map((g) => [g.key, g.label, g.color].join("\u0001")).join("\u0002") +
      (groups ? "g" : ""),
    [runs, groups],
  );
  const drawInputs = useRef({ runs, groups });
  drawInputs.current = { runs, groups };

  const cache = useRef<Cache>({ base: "", series: new Map(), have: new Set() });
  const inflight = useRef<{ ctrl: AbortController; base: string } | null>(null);
  const dirty = useRef(new Set<string>());
  const seenLive = useRef<Record<string, number>>({});

  // the x range resets when the x axis changes (a step range means nothing in wall time)
  useEffect(() => setZoom(null), [settings.xAxis]);

  // live: runs whose data changed are fetched again (only those), keeping the zoom
  useEffect(() => {
    let changed = false;
    for (const id of runIds) {
      const v = liveVersion[id];
      if (v === undefined || v === seenLive.current[id]) continue;
      seenLive.current[id] = v;
      if (cache.current.have.has(id)) {
        dirty.current.add(id);
        changed = true;
      }
    }
    if (changed) setLiveTick((t) => t + 1);
  }, [liveVersion, runIds]);

  useEffect(
    () => () => {
      inflight.current?.ctrl.abort();
      inflight.current = null;
    },
    [],
  );

  // A layout effect: the request leaves in the task that rendered the panel, before the browser
  // lays out and paints the page (a passive effect would wait for that paint, ~60-90 ms on a
  // 100-run workspace), so the server works on it meanwhile. It does no more than start fetch.
  useLayoutEffect(() => {
    if (!inView || buckets === 0) return;
    if (inflight.current) {
      if (inflight.current.base === base) return; // its completion re-runs this effect
      inflight.current.ctrl.abort();
      inflight.current = null;
    }
    const fresh = cache.current.base !== base;
    const need = fresh ? runIds : runIds.filter((id) => !cache.current.have.has(id) || dirty.current.has(id));
    if (need.length === 0) {
      if (fresh) {
        // nothing to fetch (no runs shown): an empty result for these settings
        cache.current = { base, series: new Map(), have: new Set() };
        setVersion((v) => v + 1);
      }
      return;
    }
    for (const id of need) dirty.current.delete(id);
    const ctrl = new AbortController();
    inflight.current = { ctrl, base };
    const keys = panel.keys;
    const chunk = Math.max(1, Math.min(MAX_RUNS_PER_REQUEST, Math.floor(MAX_PAIRS / Math.max(1, keys.length))));
    (async () => {
      const got = new Map<string, RunSeries>();
      for (let i = 0; i < need.length; i += chunk) {
        const ids = need.slice(i, i + chunk);
        const res = await querySeries(
          {
            path: { project },
            body: {
              runs: ids,
              keys,
              buckets,
              x_axis: settings.xAxis,
              x_min: zoom ? zoom[0] : null,
              x_max: zoom ? zoom[1] : null,
            },
            signal: ctrl.signal,
          },
          CHART_COLUMNS,
        );
        for (const s of res.series) {
          let m = got.get(s.run);
          if (!m) got.set(s.run, (m = new Map()));
          const c = s.columns;
          m.set(s.key, {
            x: c.x ?? EMPTY,
            min: c.min ?? EMPTY,
            max: c.max ?? EMPTY,
            last: c.last ?? EMPTY,
            count: c.count ?? EMPTY,
          });
        }
      }
      return got;
    })()
      .then((got) => {
        if (ctrl.signal.aborted) return;
        const prev = cache.current;
        const next: Cache = fresh
          ? { base, series: new Map(), have: new Set() }
          : { base, series: new Map(prev.series), have: new Set(prev.have) };
        for (const id of need) {
          next.have.add(id);
          next.series.set(id, got.get(id) ?? new Map());
        }
        cache.current = next;
        inflight.current = null;
        setError(undefined);
        setVersion((v) => v + 1);
      })
      .catch((err: unknown) => {
        if (ctrl.signal.aborted) return;
        inflight.current = null;
        setError(errorText(err));
      });
    // runKey stands for runIds; version and liveTick re-check what is missing or dirty
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [inView, base, runKey, version, liveTick]);

  const loaded = cache.current.base === base && runIds.every((id) => cache.current.have.has(id));

  // the lines to draw, from the cached buckets of the runs (or groups) shown
  const model = useMemo((): ChartModel | null => {
    const { runs, groups } = drawInputs.current;
    const c = cache.current;
    if (c.base === "") return null;
    const multi = panel.keys.length > 1;
    const lines: ChartLine[] = [];
    const s = settings.smoothing;
    const addLine = (
      id: string,
      label: string,
      color: string,
      key: string,
      k: number,
      b: { x: Numbers; y: Numbers; lo: Numbers; hi: Numbers; n: Numbers },
    ) => {
      if (b.x.length === 0) return;
      lines.push({
        id: multi ? `${id}::${key}` : id,
        label: multi ? `${label} · ${key}` : label,
        color,
        dash: DASHES[k % DASHES.length],
        key,
        x: b.x,
        y: b.y,
        s: smooth(b.y, s),
        lo: b.lo,
        hi: b.hi,
        n: b.n,
      });
    };
    panel.keys.forEach((key, k) => {
      if (groups) {
        for (const g of groups) {
          const members = runs.filter((r) => r.group === g.key);
          const series = members.map((r) => c.series.get(r.id)?.get(key)).filter((b): b is Buckets => !!b);
          if (series.length === 0) continue;
          const m = mergeRuns(series, "last");
          addLine(g.key, `${g.label} (${members.length})`, g.color, key, k, { x: m.x, y: m.mean, lo: m.min, hi: m.max, n: m.n });
        }
      } else {
        for (const r of runs) {
          const b = c.series.get(r.id)?.get(key);
          if (b) addLine(r.id, r.name, r.color, key, k, { x: b.x, y: b.last, lo: b.min, hi: b.max, n: b.count });
        }
      }
    });
    const smoothed = isSmoothing(s);
    const logY = settings.logY;
    const positive = (ys: (number | null)[]): (number | null)[] =>
      logY ? ys.map((v) => (v !== null && v > 0 ? v : null)) : ys;
    const positiveOf = (ys: Numbers): ArrayLike<number | null> => {
      if (!logY) return ys;
      const out = new Array<number | null>(ys.length);
      for (let i = 0; i < ys.length; i++) {
        const v = ys[i] as number;
        out[i] = v > 0 ? v : null;
      }
      return out;
    };
    // unsmoothed, ``s`` is ``y`` with gaps for non-finite values: the same extent
    const yr = extent(
      lines.flatMap((l) => (smoothed ? [l.y, l.s, l.lo, l.hi] : [l.y, l.lo, l.hi])),
      logY,
    );
    let yRange: [number, number] | null = null;
    if (yr) {
      const [lo, hi] = yr;
      if (logY) yRange = lo === hi ? [lo / 2, hi * 2] : [lo / Math.pow(hi / lo, 0.04), hi * Math.pow(hi / lo, 0.04)];
      else {
        const pad = lo === hi ? Math.abs(lo) * 0.1 || 1 : (hi - lo) * 0.04;
        yRange = [lo - pad, hi + pad];
      }
    }
    let xRange: [number, number];
    if (zoom) xRange = zoom;
    else {
      const xr = extent(lines.map((l) => l.x)) ?? [0, 1];
      xRange = xr[0] === xr[1] ? [xr[0] - 1, xr[1] + 1] : xr;
    }
    // many runs with different bucket grids: snap to pixel columns (at most half a pixel off)
    const aligned = alignLines(
      [
        ...(smoothed ? lines.map((l) => ({ x: l.x, y: positiveOf(l.y) })) : []),
        ...lines.map((l) => ({ x: l.x, y: positive(l.s) })),
      ],
      { x0: xRange[0], x1: xRange[1], n: Math.max(50, buckets) },
    );
    return { lines, smoothed, xAxis: settings.xAxis, logY, xRange, yRange, yExtent: yr, aligned };
    // drawSig stands for runs and groups, version for the cache contents
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [version, drawSig, keysKey, settings.smoothing, settings.logY, settings.xAxis, zoom, buckets]);

  const onDrawn = useCallback(() => {
    performance.mark(`kiseki:panel-drawn:${panel.id}`);
    setDrawnModel(model);
  }, [model, panel.id]);
  const onZoom = useCallback(
    (a: number, b: number) => {
      if (!(b > a)) return;
      if (settings.xAxis === "step") setZoom([Math.floor(a), Math.ceil(b)]);
      else setZoom([a, b]);
    },
    [settings.xAxis],
  );
  const onReset = useCallback(() => setZoom(null), []);

  const hasLines = !!model && model.lines.length > 0;
  const state = error ? "error" : !loaded ? "loading" : !hasLines ? "empty" : drawnModel === model ? "drawn" : "loading";
  const dataY = model?.yExtent ?? null;
  const points = model ? model.lines.reduce((n, l) => n + l.x.length, 0) : 0;

  // legend: values at the cursor (nearest point within about a bucket), else the latest values
  const legend = useMemo(() => {
    if (!model) return { x: null, rows: [], hidden: 0 };
    const [x0, x1] = model.xRange;
    const tolerance = buckets > 0 ? ((x1 - x0) / buckets) * 2 : Infinity;
    let nearestX: number | null = null;
    const rows = model.lines.map((line) => {
      let i: number;
      if (hoverX === null) {
        i = line.x.length - 1;
      } else {
        i = nearestIndex(line.x, hoverX, tolerance);
        const xi = line.x[i];
        if (xi !== undefined && (nearestX === null || Math.abs(xi - hoverX) < Math.abs(nearestX - hoverX))) nearestX = xi;
      }
      return {
        line,
        x: i >= 0 ? line.x[i] : undefined,
        value: i >= 0 ? line.y[i] : undefined,
        smoothed: i >= 0 ? line.s[i] : undefined,
        lo: i >= 0 ? line.lo[i] : undefined,
        hi: i >= 0 ? line.hi[i] : undefined,
        n: i >= 0 ? line.n[i] : undefined,
      };
    });
    // With many runs the legend lists the LEGEND_MAX highest values at the cursor (the runs a
    // user hunts for), and says how many it leaves out: 100 rows per hover would stall the page.
    const shown =
      rows.length > LEGEND_MAX
        ? [...rows].sort((a, b) => legendRank(b.value) - legendRank(a.value)).slice(0, LEGEND_MAX)
        : rows;
    // the x shown: the logged point nearest the cursor (the cursor may sit on a pixel column)
    return { x: nearestX ?? hoverX, rows: shown, hidden: rows.length - shown.length };
  }, [model, hoverX, buckets]);

  const height = HEIGHTS[settings.size];
  const smoothingOwn = own.smoothing;
  const setSmoothingKind = (kind: string) => {
    if (kind === "") onChange({ smoothing: undefined });
    else onChange({ smoothing: { ...settings.smoothing, kind: kind as SmoothingKind } });
  };

  return (
    <div
      ref={root}
      className={`panel chart-panel size-${settings.size}`}
      data-testid={`panel-${panel.id}`}
      data-metric={panel.keys.join(",")}
      data-state={state}
      data-runs={model ? model.lines.length : 0}
      data-points={points}
      data-ymin={dataY ? String(dataY[0]) : ""}
      data-ymax={dataY ? String(dataY[1]) : ""}
      data-xmin={model && hasLines ? String(model.xRange[0]) : ""}
      data-xmax={model && hasLines ? String(model.xRange[1]) : ""}
      data-x-axis={settings.xAxis}
      data-zoomed={zoom ? "true" : "false"}
    >
      <div className="panel-head">
        <div className="panel-title" title={panel.title}>
          {panel.title}
        </div>
        {zoom && (
          <button type="button" className="ghost small" onClick={onReset} data-testid="reset-zoom" title="Show the whole range (or double-click the chart)">
            Reset zoom
          </button>
        )}
        <button
          type="button"
          className="ghost small"
          aria-expanded={showSettings}
          aria-label={`Settings of ${panel.title}`}
          title="Panel settings"
          data-testid="panel-settings"
          onClick={() => setShowSettings((v) => !v)}
        >
          ⚙
        </button>
        {props.onRemove && (
          <button
            type="button"
            className="ghost small"
            aria-label={`Remove ${panel.title}`}
            title="Remove panel"
            data-testid="panel-remove"
            onClick={props.onRemove}
          >
            ×
          </button>
        )}
      </div>
      {showSettings && (
        <div className="panel-settings" data-testid="panel-settings-form">
          <label>
            X axis{" "}
            <select
              value={own.xAxis ?? ""}
              onChange={(e) => onChange({ xAxis: e.target.value || undefined })}
              data-testid="panel-x-axis"
            >
              <option value="">Default ({xAxisLabel(settings.xAxis)})</option>
              {X_AXES.map((a) => (
                <option key={a.value} value={a.value}>
                  {a.label}
                </option>
              ))}
              {metrics
                .filter((m) => !panel.keys.includes(m))
                .map((m) => (
                  <option key={m} value={m}>
                    {m}
                  </option>
                ))}
            </select>
          </label>
          <label>
            Smoothing{" "}
            <select value={smoothingOwn?.kind ?? ""} onChange={(e) => setSmoothingKind(e.target.value)} data-testid="panel-smoothing">
              <option value="">Default</option>
              <option value="none">None</option>
              <option value="ema">EMA</option>
              <option value="avg">Running average</option>
            </select>
          </label>
          {smoothingOwn?.kind === "ema" && (
            <label>
              weight{" "}
              <input
                type="number"
                min={0}
                max={0.99}
                step={0.01}
                value={smoothingOwn.weight}
                onChange={(e) => onChange({ smoothing: { ...smoothingOwn, weight: Number(e.target.value) } })}
              />
            </label>
          )}
          {smoothingOwn?.kind === "avg" && (
            <label>
              window{" "}
              <input
                type="number"
                min={1}
                step={1}
                value={smoothingOwn.window}
                onChange={(e) => onChange({ smoothing: { ...smoothingOwn, window: Number(e.target.value) } })}
              />
            </label>
          )}
          <label>
            <input
              type="checkbox"
              checked={settings.logY}
              onChange={(e) => onChange({ logY: e.target.checked || undefined })}
              data-testid="panel-log-y"
            />{" "}
            Log scale
          </label>
          <span className="size-buttons" role="group" aria-label="Panel size">
            {(["s", "m", "l"] as PanelSize[]).map((s) => (
              <button
                key={s}
                type="button"
                className="small"
                aria-pressed={settings.size === s}
                onClick={() => onChange({ size: s })}
                data-testid={`panel-size-${s}`}
              >
                {s.toUpperCase()}
              </button>
            ))}
          </span>
        </div>
      )}
      <div ref={body} className="panel-body" style={{ minHeight: height }}>
        {error && <div className="error">{error}</div>}
        {!error && state === "loading" && !hasLines && <div className="panel-note">Loading…</div>}
        {!error && state === "empty" && <div className="panel-note">No data for the runs shown.</div>}
        {model && hasLines && (
          <ChartPlot
            model={model}
            height={height}
            theme={props.theme}
            onHover={setHoverX}
            onZoom={onZoom}
            onReset={onReset}
            onDrawn={onDrawn}
          />
        )}
      </div>
      {model && hasLines && (
        <div className="panel-legend" data-testid="legend">
          <div className="legend-x" data-testid="legend-x" data-x={legend.x === null ? "" : String(legend.x)}>
            {legend.x === null ? "latest" : `${xAxisLabel(settings.xAxis)} ${xText(legend.x, settings.xAxis)}`}
          </div>
          {legend.rows.map((row) => (
            <div
              key={row.line.id}
              className="legend-row"
              data-run={row.line.id}
              data-name={row.line.label}
              data-value={valueText(row.value, 17)}
              data-x={row.x === undefined ? "" : String(row.x)}
              data-min={valueText(row.lo, 17)}
              data-max={valueText(row.hi, 17)}
              data-count={row.n === undefined ? "" : String(row.n)}
            >
              <span className="swatch" style={{ background: row.line.color }} />
              <span className="legend-name" title={row.line.label}>
                {row.line.label}
              </span>
              <span className="legend-value num">{valueText(row.value)}</span>
              {model.smoothed && row.smoothed !== undefined && row.smoothed !== null && (
                <span className="legend-extra num" title="smoothed">
                  ~{valueText(row.smoothed, 5)}
                </span>
              )}
              {row.n !== undefined && row.n > 1 && row.lo !== undefined && row.hi !== undefined && (
                <span className="legend-extra num" title={groups ? "min..max across runs" : `min..max of ${row.n} points`}>
                  [{valueText(row.lo)} … {valueText(row.hi)}]
                </span>
              )}
            </div>
          ))}
          {legend.hidden > 0 && (
            <div className="legend-more" data-testid="legend-more">
              and {legend.hidden} more (the {LEGEND_MAX} highest at the cursor are listed)
            </div>
          )}
        </div>
      )}
    </div>
  );
}
