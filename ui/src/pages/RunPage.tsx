// One run: overview, config and summary, environment, charts, system metrics, console, files.
// The tab is in the URL (?tab=console), so a link opens the same view.
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import type { RunDetail, RunRead } from "../api/client";
import { Link } from "../App";
import { Console } from "../components/run/Console";
import { ConfigTree } from "../components/run/ConfigTree";
import { Environment } from "../components/run/Environment";
import { Files } from "../components/run/Files";
import { RunArtifacts } from "../components/artifacts/RunArtifacts";
import { MediaTab } from "../components/media/MediaTab";
import { Overview } from "../components/run/Overview";
import { RunCharts } from "../components/run/RunCharts";
import "../components/run/run.css";
import { colorFor } from "../lib/colors";
import { useCall, useLiveUpdates } from "../lib/data";
import { formatDuration } from "../lib/format";
import type { Theme } from "../lib/theme";
import type { ChartRun } from "../lib/types";
import { encodeList, hrefFor, setQuery, useQueryParam } from "../lib/url";

const TABS = [
  ["overview", "Overview"],
  ["config", "Config & summary"],
  ["environment", "Environment"],
  ["charts", "Charts"],
  ["system", "System"],
  ["media", "Media"],
  ["artifacts", "Artifacts"],
  ["console", "Console"],
  ["files", "Files"],
] as const;
type Tab = (typeof TABS)[number][0];

/** How long a live run's detail (metric keys, alerts) may be stale. */
const DETAIL_REFRESH_S = 5;

function systemSection(key: string): string {
  const rest = key.startsWith("system/") ? key.slice(7) : key;
  const dot = rest.search(/[./]/);
  return dot > 0 ? rest.slice(0, dot) : rest;
}

export function RunPage({ project, runId, theme }: { project: string; runId: string; theme: Theme }) {
  const loaded = useCall("get_run", { path: { project, run_id: runId } }, `${project}/${runId}`);
  const [run, setRun] = useState<RunDetail>();
  const [tabParam] = useQueryParam("tab", "overview");
  const tab: Tab = TABS.some(([id]) => id === tabParam) ? (tabParam as Tab) : "overview";
  const { reload } = loaded;
  const lastReload = useRef(0);

  useEffect(() => {
    if (loaded.data) {
      setRun(loaded.data);
      lastReload.current = Date.now() / 1000;
    }
  }, [loaded.data]);

  // Live: state, step and runtime come with each update; new metric keys with a reload.
  const [liveTick, setLiveTick] = useState(0);
  const liveVersion = useMemo(() => ({ [runId]: liveTick }), [runId, liveTick]);
  const runRef = useRef(run);
  runRef.current = run;
  const onUpdate = useCallback(
    (event: RunRead) => {
      // Each event is the whole run row (RunRead): the detail-only fields (metadata, keys,
      // alerts) stay and come back with a reload when the state changes or every few seconds.
      const prev = runRef.current;
      if (event.id !== runId || !prev) return;
      const now = Date.now() / 1000;
      if (event.state !== prev.state || now - lastReload.current > DETAIL_REFRESH_S) {
        lastReload.current = now;
        reload();
      }
      const patch: Partial<RunDetail> = event;
      setRun((cur) => (cur ? { ...cur, ...patch } : cur));
      setLiveTick((t) => t + 1);
    },
    [runId, reload],
  );
  useLiveUpdates(project, onUpdate, run !== undefined && run.state === "running");

  const chartRuns: ChartRun[] = useMemo(
    () => (run ? [{ id: run.id, name: run.name, color: colorFor(run.id), state: run.state }] : []),
    // Only identity, name and state matter to charts; a new object per live update would refetch.
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [run?.id, run?.name, run?.state],
  );

  if (!run) {
    if (loaded.error) return <div className="error">{loaded.error}</div>;
    return <div className="loading">Loading run…</div>;
  }
  const live = run.state === "running";
  return (
    <section className="page run-page" data-testid="run-page" data-state={run.state}>
      <header className="run-head">
        <span className="swatch" style={{ background: colorFor(run.id) }} />
        <h1 data-testid="run-name">{run.name}</h1>
        <span className={`state state-${run.state}`} data-testid="run-state">
          {run.state}
        </span>
        <span className="muted">{formatDuration(run.runtime)}</span>
        {run.tags.map((t) => (
          <span key={t} className="tag">
            {t}
          </span>
        ))}
        <span className="spacer" />
        <Link to={hrefFor({ name: "compare", project }, { runs: encodeList([run.id]) })}>Compare…</Link>
      </header>
      <nav className="tabs" role="tablist" aria-label="Run sections">
        {TABS.map(([id, label]) => (
          <button
            key={id}
            type="button"
            role="tab"
            aria-selected={tab === id}
            className={tab === id ? "tab active" : "tab"}
            data-testid={`tab-${id}`}
            onClick={() => setQuery({ tab: id === "overview" ? undefined : id }, true)}
          >
            {label}
            {id === "charts" && <span className="count">{run.keys.length}</span>}
            {id === "system" && <span className="count">{run.system_keys.length}</span>}
          </button>
        ))}
      </nav>
      <div className="tab-body" role="tabpanel">
        {loaded.error && <div className="error">{loaded.error}</div>}
        {tab === "overview" && <Overview run={run} onChange={setRun} />}
        {tab === "config" && <ConfigTab run={run} />}
        {tab === "environment" && <Environment run={run} />}
        {tab === "charts" && (
          <RunCharts
            project={project}
            runs={chartRuns}
            keys={run.keys}
            theme={theme}
            testId="run-charts"
            empty="This run logged no metrics."
            liveVersion={liveVersion}
          />
        )}
        {tab === "system" && (
          <RunCharts
            project={project}
            runs={chartRuns}
            keys={run.system_keys}
            theme={theme}
            testId="system-charts"
            sectionOf={systemSection}
            empty="No system metrics were recorded for this run."
            xAxis="_runtime"
            liveVersion={liveVersion}
          />
        )}
        {tab === "media" && <MediaTab project={project} runId={run.id} runName={run.name} live={live} />}
        {tab === "artifacts" && <RunArtifacts project={project} runId={run.id} />}
        {tab === "console" && <Console project={project} runId={run.id} live={live} />}
        {tab === "files" && <Files run={run} />}
      </div>
    </section>
  );
}

function ConfigTab({ run }: { run: RunDetail }) {
  const [query, setQ] = useQueryParam("q", "");
  return (
    <div>
      <div className="toolbar">
        <input
          type="search"
          value={query}
          onChange={(e) => setQ(e.target.value)}
          placeholder="Search keys and values…"
          aria-label="Search config and summary"
          data-testid="config-search"
        />
      </div>
      <div className="two-col">
        <section className="card">
          <h3>Config</h3>
          <ConfigTree data={run.config} query={query} testId="config-tree" />
        </section>
        <section className="card">
          <h3>Summary</h3>
          <ConfigTree data={run.summary} query={query} testId="summary-tree" />
        </section>
      </div>
    </div>
  );
}
