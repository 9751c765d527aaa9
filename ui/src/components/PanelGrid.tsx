// Chart panels of the workspace: one per metric key, in collapsible sections by key prefix
// ("train/loss" -> "train", keys without "/" -> "Charts"), plus custom panels (several keys in
// one chart). A controls bar sets the workspace-wide smoothing and x axis; each panel may
// override them. The layout (hidden panels, sizes, settings, collapsed sections, custom panels)
// is saved per project on the server; see PanelLayout.ts for its JSON.
import { useMemo, useState } from "react";
import type { Catalogue } from "../api/client";
import { MAX_EMA_WEIGHT, type SmoothingKind } from "../lib/smoothing";
import type { Theme } from "../lib/theme";
import type { ChartRun, RunGroup } from "../lib/types";
import { MetricPanel, X_AXES, type PanelSpec } from "./MetricPanel";
import {
  addCustom,
  removeCustom,
  resolveSettings,
  setCollapsed,
  setDefaults,
  setHidden,
  setPanel,
  useSavedLayout,
  type ChartsLayout,
} from "./PanelLayout";
import "./Panels.css";

export interface PanelGridProps {
  project: string;
  runs: ChartRun[];
  groups: RunGroup[] | null;
  catalogue: Catalogue | undefined;
  theme: Theme;
  liveVersion: Record<string, number>;
}

export const DEFAULT_SECTION = "Charts";
export const CUSTOM_SECTION = "Custom";

export function sectionOf(key: string): string {
  const i = key.indexOf("/");
  return i > 0 ? key.slice(0, i) : DEFAULT_SECTION;
}

/** Sections in display order: custom panels first, then "Charts", then prefixes A-Z. */
export function buildSections(metrics: string[], layout: ChartsLayout): [string, PanelSpec[]][] {
  const hidden = new Set(layout.hidden);
  const sections = new Map<string, PanelSpec[]>();
  const push = (name: string, spec: PanelSpec) => {
    const list = sections.get(name);
    if (list) list.push(spec);
    else sections.set(name, [spec]);
  };
  for (const c of layout.custom) push(CUSTOM_SECTION, { id: c.id, title: c.title, keys: c.keys, custom: true });
  for (const key of metrics) {
    if (hidden.has(key)) continue;
    push(sectionOf(key), { id: key, title: key, keys: [key], custom: false });
  }
  const rank = (s: string) => (s === CUSTOM_SECTION ? 0 : s === DEFAULT_SECTION ? 1 : 2);
  return [...sections.entries()].sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b));
}

function Controls(props: {
  layout: ChartsLayout;
  metrics: string[];
  change: ReturnType<typeof useSavedLayout>["change"];
  error: string | undefined;
}) {
  const { layout, metrics, change } = props;
  const sm = layout.defaults.smoothing;
  const [adding, setAdding] = useState(false);
  const [title, setTitle] = useState("");
  const [picked, setPicked] = useState<string[]>([]);
  const hiddenMetrics = layout.hidden.filter((k) => metrics.includes(k));
  return (
    <div className="panel-controls" data-testid="panel-controls">
      <label>
        Smoothing{" "}
        <select
          value={sm.kind}
          onChange={(e) => change(setDefaults({ smoothing: { ...sm, kind: e.target.value as SmoothingKind } }))}
          data-testid="default-smoothing"
        >
          <option value="none">None</option>
          <option value="ema">EMA</option>
          <option value="avg">Running average</option>
        </select>
      </label>
      {sm.kind === "ema" && (
        <label>
          <input
            type="range"
            min={0}
            max={MAX_EMA_WEIGHT}
            step={0.01}
            value={sm.weight}
            onChange={(e) => change(setDefaults({ smoothing: { ...sm, weight: Number(e.target.value) } }))}
            aria-label="EMA weight"
            data-testid="default-ema-weight"
          />{" "}
          <span className="num">{sm.weight.toFixed(2)}</span>
        </label>
      )}
      {sm.kind === "avg" && (
        <label>
          window{" "}
          <input
            type="number"
            min={1}
            step={1}
            value={sm.window}
            className="narrow"
            onChange={(e) => change(setDefaults({ smoothing: { ...sm, window: Number(e.target.value) } }))}
            data-testid="default-avg-window"
          />
        </label>
      )}
      <label>
        X axis{" "}
        <select
          value={layout.defaults.xAxis}
          onChange={(e) => change(setDefaults({ xAxis: e.target.value }))}
          data-testid="default-x-axis"
        >
          {X_AXES.map((a) => (
            <option key={a.value} value={a.value}>
              {a.label}
            </option>
          ))}
          {metrics.map((m) => (
            <option key={m} value={m}>
              {m}
            </option>
          ))}
        </select>
      </label>
      <button type="button" onClick={() => setAdding((v) => !v)} aria-expanded={adding} data-testid="add-panel">
        Add panel
      </button>
      {hiddenMetrics.length > 0 && (
        <label>
          <select
            value=""
            onChange={(e) => e.target.value && change(setHidden(e.target.value, false))}
            data-testid="restore-panel"
          >
            <option value="">Removed panels ({hiddenMetrics.length})…</option>
            {hiddenMetrics.map((k) => (
              <option key={k} value={k}>
                Restore {k}
              </option>
            ))}
          </select>
        </label>
      )}
      {props.error && <span className="panel-controls-error">{props.error}</span>}
      {adding && (
        <form
          className="add-panel-form"
          data-testid="add-panel-form"
          onSubmit={(e) => {
            e.preventDefault();
            if (picked.length === 0) return;
            change(addCustom(title.trim(), picked));
            setAdding(false);
            setTitle("");
            setPicked([]);
          }}
        >
          <input placeholder="Title (optional)" value={title} onChange={(e) => setTitle(e.target.value)} aria-label="Panel title" />
          <select
            multiple
            size={Math.min(8, Math.max(3, metrics.length))}
            value={picked}
            onChange={(e) => setPicked([...e.target.selectedOptions].map((o) => o.value))}
            aria-label="Metrics of the new panel"
            data-testid="add-panel-keys"
          >
            {metrics.map((m) => (
              <option key={m} value={m}>
                {m}
              </option>
            ))}
          </select>
          <button type="submit" className="primary" disabled={picked.length === 0}>
            Add
          </button>
        </form>
      )}
    </div>
  );
}

export function PanelGrid(props: PanelGridProps) {
  const metrics = useMemo(() => props.catalogue?.metrics ?? [], [props.catalogue]);
  const saved = useSavedLayout(props.project);
  const { layout, change } = saved;
  const sections = useMemo(() => buildSections(metrics, layout), [metrics, layout]);
  const collapsed = new Set(layout.collapsed);

  return (
    <section className="panels" data-testid="panels">
      {saved.loaded && <Controls layout={layout} metrics={metrics} change={change} error={saved.error} />}
      {saved.loaded && sections.length === 0 && (
        <div className="empty">{props.catalogue ? "No metrics logged yet." : "Loading metrics…"}</div>
      )}
      {saved.loaded &&
        sections.map(([name, panels]) => {
          const isCollapsed = collapsed.has(name);
          return (
            <div key={name} className="section" data-section={name} data-collapsed={isCollapsed ? "true" : "false"}>
              <h3 className="section-head">
                <button
                  type="button"
                  className="ghost section-toggle"
                  aria-expanded={!isCollapsed}
                  onClick={() => change(setCollapsed(name, !isCollapsed))}
                  data-testid={`section-toggle-${name}`}
                >
                  <span aria-hidden="true">{isCollapsed ? "▸" : "▾"}</span> {name}{" "}
                  <span className="section-count">({panels.length})</span>
                </button>
              </h3>
              {!isCollapsed && (
                <div className="panel-row">
                  {panels.map((panel) => {
                    const own = layout.panels[panel.id] ?? {};
                    return (
                      <MetricPanel
                        key={panel.id}
                        project={props.project}
                        panel={panel}
                        runs={props.runs}
                        groups={props.groups}
                        theme={props.theme}
                        liveVersion={props.liveVersion}
                        settings={resolveSettings(own, layout.defaults)}
                        own={own}
                        metrics={metrics}
                        onChange={(patch) => change(setPanel(panel.id, patch))}
                        onRemove={() => change(panel.custom ? removeCustom(panel.id) : setHidden(panel.id, true))}
                      />
                    );
                  })}
                </div>
              )}
            </div>
          );
        })}
    </section>
  );
}
