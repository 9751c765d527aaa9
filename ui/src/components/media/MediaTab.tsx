// The run page's Media tab: one panel per media key of the run — images (with overlays),
// histograms over steps (heat-map) and tables — searchable by key. Panels load when scrolled
// near.
import { useMemo } from "react";
import { call } from "../../api/client";
import { useQueryParam } from "../../lib/url";
import { getMediaKeys, type MediaKey } from "./api";
import { HistogramPanel } from "./HistogramPanel";
import { useAsync, useEvery } from "./hooks";
import { ImagePanel } from "./ImagePanel";
import { TableViewer, type RunChoice } from "./TableViewer";
import "./media.css";

const KIND_ORDER: Record<string, number> = { image: 0, images: 0, histogram: 1, table: 2 };

export function MediaTab(props: { project: string; runId: string; runName: string; live: boolean }) {
  const { project, runId } = props;
  const keys = useAsync(`${project}\n${runId}`, (signal) => getMediaKeys(project, [runId], signal));
  // a live run may log new keys
  useEvery(props.live, 10_000, keys.reload);
  const [query, setQuery] = useQueryParam("mediaq", "");
  const shown = useMemo(() => {
    const q = query.trim().toLowerCase();
    return (keys.data ?? [])
      .filter((k) => !q || k.key.toLowerCase().includes(q))
      .sort((a, b) => (KIND_ORDER[a.kind] ?? 3) - (KIND_ORDER[b.kind] ?? 3) || a.key.localeCompare(b.key));
  }, [keys.data, query]);
  const hasTables = (keys.data ?? []).some((k) => k.kind === "table");
  const runs = useAsync(hasTables ? project : null, async (signal): Promise<RunChoice[]> => {
    const page = await call("list_runs", { path: { project }, query: { order: "-created_at", limit: 500 }, signal });
    return page.items.map((r) => ({ id: r.id, name: r.name }));
  });

  if (keys.error) return <div className="error">{keys.error}</div>;
  if (!keys.data) return <div className="loading">Loading media…</div>;
  if (keys.data.length === 0)
    return (
      <p className="muted" data-testid="media-empty">
        This run logged no images, tables or histograms.
      </p>
    );
  return (
    <div className="media-tab" data-testid="media-tab">
      <div className="toolbar">
        <input
          type="search"
          value={query}
          onChange={(e) => setQuery(e.target.value)}
          placeholder="Filter media keys…"
          aria-label="Filter media keys"
        />
        <span className="muted">
          {keys.data.length} key{keys.data.length === 1 ? "" : "s"}
        </span>
      </div>
      {shown.map((k: MediaKey) => {
        if (k.kind === "histogram") return <HistogramPanel key={k.key} project={project} runId={runId} mediaKey={k.key} live={props.live} />;
        if (k.kind === "table")
          return (
            <TableViewer
              key={k.key}
              project={project}
              runId={runId}
              runName={props.runName}
              mediaKey={k.key}
              runs={runs.data ?? []}
              live={props.live}
            />
          );
        return <ImagePanel key={k.key} project={project} runId={runId} mediaKey={k.key} kind={k.kind} live={props.live} />;
      })}
      {shown.length === 0 && <p className="muted">No media key matches.</p>}
    </div>
  );
}
