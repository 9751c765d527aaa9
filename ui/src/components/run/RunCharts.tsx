// One chart per metric of a run (or of the runs compared), in sections by key prefix. Panels
// fetch their data once scrolled into view (MetricPanel does that), so hundreds of metrics are fine.
import { useMemo } from "react";
import { MetricPanel } from "../MetricPanel";
import { EMPTY_LAYOUT, resolveSettings } from "../PanelLayout";
import { compareKeys } from "../../lib/diff";
import type { Theme } from "../../lib/theme";
import type { ChartRun } from "../../lib/types";
import { useQueryParam } from "../../lib/url";
import "./run.css";

interface Props {
  project: string;
  runs: ChartRun[];
  keys: string[];
  theme: Theme;
  testId: string;
  /** Which section a key belongs to (default: the part before the first "/"). */
  sectionOf?: (key: string) => string;
  empty: string;
  /** The x axis the panels start with (default: step). */
  xAxis?: string;
  /** Bumps per run whose data changed (live), passed on to the panels. */
  liveVersion?: Record<string, number>;
}

function defaultSection(key: string): string {
  const i = key.indexOf("/");
  return i > 0 ? key.slice(0, i) : "";
}

export function RunCharts(props: Props) {
  const { project, runs, keys, theme, testId, sectionOf = defaultSection, empty, xAxis, liveVersion } = props;
  const [query, setQuery] = useQueryParam("mq", "");
  const settings = useMemo(
    () => resolveSettings({}, { ...EMPTY_LAYOUT.defaults, xAxis: xAxis ?? EMPTY_LAYOUT.defaults.xAxis }),
    [xAxis],
  );
  const sections = useMemo(() => {
    const q = query.trim().toLowerCase();
    const by = new Map<string, string[]>();
    for (const key of [...keys].sort(compareKeys)) {
      if (q && !key.toLowerCase().includes(q)) continue;
      const s = sectionOf(key);
      const list = by.get(s) ?? [];
      list.push(key);
      by.set(s, list);
    }
    return [...by.entries()].sort(([a], [b]) => (a === "" ? 1 : b === "" ? -1 : compareKeys(a, b)));
  }, [keys, query, sectionOf]);

  if (keys.length === 0) return <p className="muted">{empty}</p>;
  return (
    <div data-testid={testId}>
      <div className="toolbar">
        <input
          type="search"
          value={query}
          onChange={(e) => setQuery(e.target.value)}
          placeholder="Filter charts…"
          aria-label="Filter charts"
        />
        <span className="muted">
          {keys.length} metric{keys.length === 1 ? "" : "s"}
        </span>
      </div>
      {sections.map(([name, list]) => (
        <section key={name} className="chart-section">
          <h3>
            {name || "other"} <span className="muted">({list.length})</span>
          </h3>
          <div className="chart-grid">
            {list.map((key) => (
                <MetricPanel
                  key={key}
                  project={project}
                  metric={key}
                  runs={runs}
                  theme={theme}
                  settings={settings}
                  metrics={keys}
                  liveVersion={liveVersion}
                />
            ))}
          </div>
        </section>
      ))}
      {sections.length === 0 && <p className="muted">No metric matches.</p>}
    </div>
  );
}

