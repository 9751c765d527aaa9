// A project's artifacts: collections grouped by type (dataset, model, predictions, ...), each
// with its version count and latest version. The search box (?q=) is in the URL.
import { useMemo } from "react";
import { Link } from "../App";
import { listCollections } from "../components/artifacts/api";
import { groupByType } from "../components/artifacts/files";
import "../components/artifacts/artifacts.css";
import { useAsync } from "../components/media/hooks";
import "../components/run/run.css";
import { formatTime } from "../lib/format";
import { hrefFor, useQueryParam } from "../lib/url";

export function ArtifactsPage({ project }: { project: string }) {
  const loaded = useAsync(project, (signal) => listCollections(project, signal));
  const [q, setQ] = useQueryParam("q", "");
  const groups = useMemo(() => {
    const needle = q.trim().toLowerCase();
    const shown = (loaded.data ?? []).filter((c) => !needle || c.name.toLowerCase().includes(needle) || c.type.toLowerCase().includes(needle));
    return groupByType(shown);
  }, [loaded.data, q]);

  return (
    <section className="page artifacts-page" data-testid="artifacts-page">
      <header className="run-head">
        <h1>Artifacts</h1>
        <span className="muted">of {project}</span>
        <span className="spacer" />
        <Link to={hrefFor({ name: "registry" })}>Model registry</Link>
      </header>
      {loaded.error && <div className="error">{loaded.error}</div>}
      {!loaded.data && !loaded.error && <div className="loading">Loading artifacts…</div>}
      {loaded.data && loaded.data.length === 0 && (
        <div className="empty" data-testid="artifacts-empty">
          <p>No artifacts in this project yet.</p>
          <p>
            Log one from a run: <code>art = kiseki.Artifact("my-data", type="dataset"); art.add_dir("data"); run.log_artifact(art)</code>
          </p>
        </div>
      )}
      {loaded.data && loaded.data.length > 0 && (
        <>
          <div className="toolbar">
            <input type="search" value={q} onChange={(e) => setQ(e.target.value)} placeholder="Filter by name or type…" aria-label="Filter artifacts" data-testid="artifacts-filter" />
            <span className="muted">
              {loaded.data.length} collection{loaded.data.length === 1 ? "" : "s"}
            </span>
          </div>
          {groups.map(([type, collections]) => (
            <section key={type} className="card" data-testid="artifact-type" data-type={type}>
              <h3>
                {type} <span className="muted count">({collections.length})</span>
              </h3>
              <table className="grid">
                <thead>
                  <tr>
                    <th>Name</th>
                    <th className="num">Versions</th>
                    <th>Latest</th>
                    <th>Created</th>
                  </tr>
                </thead>
                <tbody>
                  {collections.map((c) => (
                    <tr key={c.name} data-testid="collection-row" data-name={c.name}>
                      <td>
                        <Link to={hrefFor({ name: "artifact", project, artifact: c.name })} testId="collection-link">
                          {c.name}
                        </Link>
                      </td>
                      <td className="num" data-testid="collection-versions">
                        {c.versions}
                      </td>
                      <td>
                        {c.latest && (
                          <Link to={hrefFor({ name: "artifactVersion", project, artifact: c.name, version: c.latest })} className="mono">
                            {c.latest}
                          </Link>
                        )}
                      </td>
                      <td>{formatTime(c.created_at)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </section>
          ))}
          {groups.length === 0 && <p className="muted">No collection matches.</p>}
        </>
      )}
    </section>
  );
}
