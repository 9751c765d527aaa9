// One artifact collection: its versions (aliases, metadata, size, created time, the run that
// produced each and the runs that used it), and the diff of two versions (?diff=v0,v2).
import { useRef, useState } from "react";
import { Link } from "../App";
import { getVersion, listVersions, type VersionInfo } from "../components/artifacts/api";
import "../components/artifacts/artifacts.css";
import { AliasChips, clipText, MetadataSummary, RunLink, VersionLink } from "../components/artifacts/common";
import { formatBytes, parseDiffParam } from "../components/artifacts/files";
import { VersionDiff } from "../components/artifacts/VersionDiff";
import { useAsync, useSeen } from "../components/media/hooks";
import "../components/run/run.css";
import { formatTime } from "../lib/format";
import { hrefFor, setQuery, useQueryParam } from "../lib/url";

export function ArtifactCollectionPage({ project, name }: { project: string; name: string }) {
  const versions = useAsync(`${project}\n${name}`, (signal) => listVersions(project, name, signal));
  const [diffParam] = useQueryParam("diff", "");
  const pair = parseDiffParam(diffParam);
  const [picked, setPicked] = useState<string[]>([]);
  const list = versions.data ?? [];
  const type = list[0]?.type;
  const togglePick = (v: string) => setPicked((p) => (p.includes(v) ? p.filter((x) => x !== v) : [...p, v].slice(-2)));
  const compare = () => {
    const order = (v: string) => list.find((x) => x.version === v)?.index ?? 0;
    const sorted = [...picked].sort((a, b) => order(a) - order(b));
    setQuery({ diff: sorted.join(",") }, true);
  };

  return (
    <section className="page artifact-collection" data-testid="artifact-collection" data-name={name}>
      <header className="run-head">
        <h1>{name}</h1>
        {type && <span className="badge">{type}</span>}
        <span className="muted">
          {list.length} version{list.length === 1 ? "" : "s"}
        </span>
        <span className="spacer" />
        <Link to={hrefFor({ name: "artifacts", project })}>All artifacts of {project}</Link>
      </header>
      {versions.error && <div className="error">{versions.error}</div>}
      {!versions.data && !versions.error && <div className="loading">Loading versions…</div>}
      {pair && <VersionDiff key={pair.join(",")} project={project} name={name} pair={pair} versions={list} />}
      {diffParam && !pair && <div className="error">Compare two different versions: ?diff=v0,v1</div>}
      {versions.data && (
        <section className="card">
          <div className="toolbar">
            <h3 className="inline-title">Versions</h3>
            <button type="button" disabled={picked.length !== 2} onClick={compare} data-testid="compare-picked">
              Compare {picked.length === 2 ? picked.join(" and ") : "two checked versions"}
            </button>
          </div>
          <div className="art-scroll">
            <table className="grid versions-table" data-testid="versions-table">
              <thead>
                <tr>
                  <th aria-label="Pick to compare" />
                  <th>Version</th>
                  <th>Aliases</th>
                  <th className="num">Size</th>
                  <th className="num">Files</th>
                  <th>Created</th>
                  <th>Produced by</th>
                  <th>Used by</th>
                  <th>Metadata</th>
                  <th>Description</th>
                </tr>
              </thead>
              <tbody>
                {list.map((v, i) => (
                  <VersionRow
                    key={v.id}
                    project={project}
                    v={v}
                    previous={list[i + 1]?.version}
                    picked={picked.includes(v.version)}
                    onPick={() => togglePick(v.version)}
                  />
                ))}
              </tbody>
            </table>
          </div>
        </section>
      )}
    </section>
  );
}

function VersionRow({ project, v, previous, picked, onPick }: { project: string; v: VersionInfo; previous?: string; picked: boolean; onPick: () => void }) {
  const ref = useRef<HTMLTableRowElement>(null);
  const seen = useSeen(ref);
  // consumers come with get_artifact only: asked for when the row is scrolled near
  const detail = useAsync(seen ? `${project}\n${v.name}\n${v.version}` : null, (signal) => getVersion(project, v.name, v.version, signal));
  const usedBy = detail.data?.used_by;
  return (
    <tr ref={ref} data-testid="version-row" data-version={v.version}>
      <td>
        <input type="checkbox" checked={picked} onChange={onPick} aria-label={`Pick ${v.version} to compare`} data-testid="pick-version" />
      </td>
      <td>
        <VersionLink project={project} name={v.name} version={v.version} />
        {previous && (
          <button
            type="button"
            className="link-button small-text diff-prev"
            onClick={() => setQuery({ diff: `${previous},${v.version}` }, true)}
            title={`What changed from ${previous} to ${v.version}`}
            data-testid="diff-previous"
          >
            diff
          </button>
        )}
      </td>
      <td>
        <AliasChips aliases={v.aliases} />
      </td>
      <td className="num">{formatBytes(v.size)}</td>
      <td className="num">{v.file_count}</td>
      <td>{formatTime(v.created_at)}</td>
      <td>{v.logged_by ? <RunLink project={project} runId={v.logged_by} testId="produced-by" /> : <span className="muted">—</span>}</td>
      <td className="wrap-cell" data-testid="used-by">
        {usedBy === undefined ? (
          <span className="muted">{detail.error ? "?" : "…"}</span>
        ) : usedBy.length === 0 ? (
          <span className="muted">—</span>
        ) : (
          <span className="run-list">
            {usedBy.slice(0, 5).map((id) => (
              <RunLink key={id} project={project} runId={id} />
            ))}
            {usedBy.length > 5 && <span className="muted">+{usedBy.length - 5}</span>}
          </span>
        )}
      </td>
      <td className="wrap-cell">
        <MetadataSummary metadata={v.metadata} />
      </td>
      <td className="wrap-cell" title={v.description}>
        {clipText(v.description.split("\n")[0] ?? "", 60)}
      </td>
    </tr>
  );
}
