// The chart part of the saved workspace (get_workspace / put_workspace) and the hook that loads
// and saves it.
//
// It lives under ``layout.charts`` of the project's workspace document, so other parts of the page
// may keep their own keys next to it (they are sent back unchanged). Layout JSON, version 1:
//
//   layout.charts = {
//     "v": 1,
//     "defaults": {                        // workspace-wide defaults (the controls bar)
//       "smoothing": {"kind": "none" | "ema" | "avg", "weight": 0.6, "window": 10},
//       "xAxis": "step"                    // "step" | "_timestamp" | "_runtime" | a metric key
//     },
//     "panels": {                          // per-panel overrides; a missing field = the default
//       "<panel id>": {"size": "s" | "m" | "l", "xAxis": "...", "smoothing": {...}, "logY": true}
//     },
//     "hidden": ["<panel id>", ...],       // removed panels (metric panels come back from here)
//     "collapsed": ["<section>", ...],     // collapsed sections ("Charts", "train", "val", "Custom")
//     "custom": [{"id": "custom:1", "title": "losses", "keys": ["train/loss", "val/loss"]}]
//   }
//
// A panel id is the metric key for the generated panels, "custom:<n>" for added ones. Saving is
// debounced and sends ``base_version``; on 409 (saved from another tab in between) the layout is
// reloaded and the changes made here since the last save are applied again on top of it.
import { useCallback, useEffect, useRef, useState } from "react";
import { ApiError, call } from "../api/client";
import { errorText } from "../lib/data";
import { NO_SMOOTHING, type Smoothing, type SmoothingKind } from "../lib/smoothing";

export type PanelSize = "s" | "m" | "l";

export interface PanelSettings {
  size?: PanelSize;
  xAxis?: string;
  smoothing?: Smoothing;
  logY?: boolean;
}

export interface CustomPanel {
  id: string;
  title: string;
  keys: string[];
}

export interface ChartsLayout {
  v: 1;
  defaults: { smoothing: Smoothing; xAxis: string };
  panels: Record<string, PanelSettings>;
  hidden: string[];
  collapsed: string[];
  custom: CustomPanel[];
}

export const EMPTY_LAYOUT: ChartsLayout = {
  v: 1,
  defaults: { smoothing: NO_SMOOTHING, xAxis: "step" },
  panels: {},
  hidden: [],
  collapsed: [],
  custom: [],
};

const SAVE_DELAY_MS = 600;

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((s): s is string => typeof s === "string") : [];
}

function parseSmoothing(v: unknown): Smoothing | undefined {
  if (!isRecord(v)) return undefined;
  const kind: SmoothingKind = v["kind"] === "ema" || v["kind"] === "avg" ? v["kind"] : "none";
  const weight = typeof v["weight"] === "number" ? v["weight"] : NO_SMOOTHING.weight;
  const window = typeof v["window"] === "number" ? v["window"] : NO_SMOOTHING.window;
  return { kind, weight, window };
}

function parsePanel(v: unknown): PanelSettings {
  if (!isRecord(v)) return {};
  const out: PanelSettings = {};
  if (v["size"] === "s" || v["size"] === "m" || v["size"] === "l") out.size = v["size"];
  if (typeof v["xAxis"] === "string") out.xAxis = v["xAxis"];
  const sm = parseSmoothing(v["smoothing"]);
  if (sm) out.smoothing = sm;
  if (typeof v["logY"] === "boolean") out.logY = v["logY"];
  return out;
}

/** Reads ``layout.charts`` defensively: anything malformed falls back to the defaults. */
export function parseLayout(layout: unknown): ChartsLayout {
  const charts = isRecord(layout) ? layout["charts"] : undefined;
  if (!isRecord(charts)) return EMPTY_LAYOUT;
  const defaults = isRecord(charts["defaults"]) ? charts["defaults"] : {};
  const panels: Record<string, PanelSettings> = {};
  if (isRecord(charts["panels"])) for (const [id, p] of Object.entries(charts["panels"])) panels[id] = parsePanel(p);
  const custom: CustomPanel[] = [];
  if (Array.isArray(charts["custom"])) {
    for (const c of charts["custom"]) {
      if (!isRecord(c) || typeof c["id"] !== "string") continue;
      const keys = strings(c["keys"]);
      if (keys.length === 0) continue;
      custom.push({ id: c["id"], title: typeof c["title"] === "string" ? c["title"] : keys.join(", "), keys });
    }
  }
  return {
    v: 1,
    defaults: {
      smoothing: parseSmoothing(defaults["smoothing"]) ?? NO_SMOOTHING,
      xAxis: typeof defaults["xAxis"] === "string" ? defaults["xAxis"] : "step",
    },
    panels,
    hidden: strings(charts["hidden"]),
    collapsed: strings(charts["collapsed"]),
    custom,
  };
}

export type LayoutChange = (layout: ChartsLayout) => ChartsLayout;

export interface SavedLayout {
  layout: ChartsLayout;
  loaded: boolean;
  error: string | undefined;
  /** Apply a change now and save it (debounced). */
  change: (fn: LayoutChange) => void;
}

/** The project's chart layout from the server, with debounced saving (base_version + 409 retry). */
export function useSavedLayout(project: string): SavedLayout {
  const [layout, setLayout] = useState<ChartsLayout>(EMPTY_LAYOUT);
  const [loaded, setLoaded] = useState(false);
  const [error, setError] = useState<string>();
  const server = useRef<{ doc: Record<string, unknown>; version: number }>({ doc: {}, version: 0 });
  const current = useRef<ChartsLayout>(EMPTY_LAYOUT);
  const pending = useRef<LayoutChange[]>([]);
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const saving = useRef(false);
  const alive = useRef(true);

  useEffect(() => {
    alive.current = true;
    const ctrl = new AbortController();
    setLoaded(false);
    call("get_workspace", { path: { project }, signal: ctrl.signal })
      .then((ws) => {
        server.current = { doc: ws.layout, version: ws.version };
        current.current = parseLayout(ws.layout);
        setLayout(current.current);
        setLoaded(true);
      })
      .catch((err: unknown) => {
        if (ctrl.signal.aborted) return;
        // unknown project or no access: charts still work with the default layout
        setError(errorText(err));
        setLoaded(true);
      });
    return () => {
      alive.current = false;
      ctrl.abort();
      if (timer.current !== undefined) clearTimeout(timer.current);
    };
  }, [project]);

  const flush = useCallback(async () => {
    if (saving.current) return;
    saving.current = true;
    try {
      for (let attempt = 0; attempt < 4 && pending.current.length > 0; attempt++) {
        const sent = pending.current.length;
        const next = current.current;
        try {
          const res = await call("put_workspace", {
            path: { project },
            body: { layout: { ...server.current.doc, charts: next }, base_version: server.current.version },
          });
          server.current = { doc: res.layout, version: res.version };
          pending.current = pending.current.slice(sent);
          attempt = -1; // saved: more changes made meanwhile get their own tries
        } catch (err) {
          if (!(err instanceof ApiError && err.status === 409)) throw err;
          // saved elsewhere in between: take theirs and apply our unsaved changes again
          const ws = await call("get_workspace", { path: { project } });
          server.current = { doc: ws.layout, version: ws.version };
          const merged = pending.current.reduce((acc, fn) => fn(acc), parseLayout(ws.layout));
          current.current = merged;
          if (alive.current) setLayout(merged);
        }
      }
      if (alive.current) setError(undefined);
    } catch (err) {
      if (alive.current) setError(`layout not saved: ${errorText(err)}`);
    } finally {
      saving.current = false;
    }
  }, [project]);

  const change = useCallback(
    (fn: LayoutChange) => {
      current.current = fn(current.current);
      pending.current.push(fn);
      setLayout(current.current);
      if (timer.current !== undefined) clearTimeout(timer.current);
      timer.current = setTimeout(() => {
        timer.current = undefined;
        void flush().then(() => {
          // changes made while a save was in flight
          if (pending.current.length > 0 && alive.current && timer.current === undefined) void flush();
        });
      }, SAVE_DELAY_MS);
    },
    [flush],
  );

  return { layout, loaded, error, change };
}

// --- small immutable edits -------------------------------------------------------------------

export function setPanel(id: string, patch: Partial<PanelSettings>): LayoutChange {
  return (l) => {
    const merged: PanelSettings = { ...l.panels[id] };
    for (const [k, v] of Object.entries(patch) as [keyof PanelSettings, unknown][]) {
      if (v === undefined) delete merged[k];
      else (merged as Record<string, unknown>)[k] = v;
    }
    return { ...l, panels: { ...l.panels, [id]: merged } };
  };
}

export function setHidden(id: string, hidden: boolean): LayoutChange {
  return (l) => {
    const rest = l.hidden.filter((h) => h !== id);
    return { ...l, hidden: hidden ? [...rest, id] : rest };
  };
}

export function setCollapsed(section: string, collapsed: boolean): LayoutChange {
  return (l) => {
    const rest = l.collapsed.filter((s) => s !== section);
    return { ...l, collapsed: collapsed ? [...rest, section] : rest };
  };
}

export function setDefaults(patch: Partial<ChartsLayout["defaults"]>): LayoutChange {
  return (l) => ({ ...l, defaults: { ...l.defaults, ...patch } });
}

export function addCustom(title: string, keys: string[]): LayoutChange {
  return (l) => {
    let n = l.custom.length + 1;
    const ids = new Set(l.custom.map((c) => c.id));
    while (ids.has(`custom:${n}`)) n++;
    return { ...l, custom: [...l.custom, { id: `custom:${n}`, title: title || keys.join(", "), keys }] };
  };
}

export function removeCustom(id: string): LayoutChange {
  return (l) => {
    const panels = { ...l.panels };
    delete panels[id];
    return { ...l, custom: l.custom.filter((c) => c.id !== id), panels };
  };
}

export interface ResolvedSettings {
  size: PanelSize;
  xAxis: string;
  smoothing: Smoothing;
  logY: boolean;
}

/** A panel's settings: its own overrides, else the workspace defaults. */
export function resolveSettings(own: PanelSettings, defaults: ChartsLayout["defaults"]): ResolvedSettings {
  return {
    size: own.size ?? "m",
    xAxis: own.xAxis ?? defaults.xAxis,
    smoothing: own.smoothing ?? defaults.smoothing,
    logY: own.logY ?? false,
  };
}
