// One artifact version: what it is (aliases, size, digest, who produced and used it, the
// description), then its files with previews, its lineage graph, or its metadata
// (?tab=files|lineage|metadata, ?file=path). The version in the path may be an alias
// ("latest", "best"); the page then shows the version it points at now.
import { useState } from "react";
import { Link } from "../App";
import { getVersion, listFiles, listVersions } from "../components/artifacts/api";
import "../components/artifacts/artifacts.css";
import { AliasChips, RunLink, Tabs } from "../components/artifacts/common";
import { FileBrowser } from "../components/artifacts/FileBrowser";
import { formatBytes } from "../components/artifacts/files";
import { LineageGraph } from "../components/artifacts/LineageGraph";
import { useAsync } from "../components/media/hooks";
import { ConfigTree } from "../components/run/ConfigTree";
import "../components/run/run.css";
import { hrefFor, navigate, useQueryParam } from "../lib/url";

const TABS = [
  ["files", "Files"],
  ["lineage", "Lineage"],
  ["metadata", "Metadata"],
] as const;
type Tab = (typeof TABS)[number][0];

export function ArtifactVersionPage({ project, name, tag }: { project: string; name: string; tag: string }) {
  const info = useAsync(`${project}\n${name}\n${tag}`, (signal) => getVersion(project, name, tag, signal));
  const [tabParam] = useQueryParam("tab", "files");
  const tab: Tab = TABS.some(([id]) => id === tabParam) ? (tabParam as Tab) : "files";
  const v = info.data;
  if (info.error && !v) return <div className="error">{info.error}</div>;
  if (!v) return <div className="loading">Loading {name}:{tag}…</div>;
  const collection = hrefFor({ name: "artifact", project, artifact: name });
  const usedBy = v.used_by ?? [];
  return (
    <section className="page artifact-version" data-testid="artifact-version" data-name={v.name} data-version={v.version}>
      <header className="run-head">
        <h1 data-testid="version-title">
          <Link to={collection}>{v.name}</Link>
          <span className="muted">:</span>
          {v.version}
        </h1>
        <span className="badge" data-testid="version-type">
          {v.type}
        </span>
        <AliasChips aliases={v.aliases} testId="version-aliases" />
        {v.version !== tag && <span className="muted">(“{tag}” points here now)</span>}
        <span className="spacer" />
        <CompareWith project={project} name={name} version={v.version} index={v.index} />
      </header>
      <dl className="facts">
        <dt>Size</dt>
        <dd data-testid="version-size">
          {formatBytes(v.size)} in {v.file_count} file{v.file_count === 1 ? "" : "s"}
        </dd>
        <dt>Created</dt>
        <dd>{new Date((v.created_at ?? 0) * 1000).toLocaleString()}</dd>
        <dt>Produced by</dt>
        <dd data-testid="version-producer">{v.logged_by ? <RunLink project={project} runId={v.logged_by} showState /> : <span className="muted">no run</span>}</dd>
        <dt>Used by</dt>
        <dd data-testid="version-users">
          {usedBy.length === 0 ? (
            <span className="muted">no run yet</span>
          ) : (
            <span className="run-list">
              {usedBy.map((id) => (
                <RunLink key={id} project={project} runId={id} showState />
              ))}
            </span>
          )}
        </dd>
        <dt>Digest</dt>
        <dd className="mono" data-testid="version-digest">
          {v.digest}
        </dd>
        {v.description && (
          <>
            <dt>Description</dt>
            <dd>
              <div className="notes-text" data-testid="version-description">
                {v.description}
              </div>
            </dd>
          </>
        )}
      </dl>
      <Tabs tabs={TABS} current={tab} label="Version sections" />
      <div className="tab-body" role="tabpanel">
        {tab === "files" && <FilesTab project={project} name={v.name} version={v.version} />}
        {tab === "lineage" && <LineageGraph key={`${v.name}:${v.version}`} centre={{ kind: "artifact", project, name: v.name, version: v.version }} />}
        {tab === "metadata" && <MetadataTab metadata={v.metadata} />}
      </div>
    </section>
  );
}

function FilesTab({ project, name, version }: { project: string; name: string; version: string }) {
  const files = useAsync(`${project}\n${name}\n${version}`, (signal) => listFiles(project, name, version, signal));
  if (files.error) return <div className="error">{files.error}</div>;
  if (!files.data) return <div className="loading">Loading files…</div>;
  return <FileBrowser source={{ project, name, version }} files={files.data.files} total={files.data.total} />;
}

function MetadataTab({ metadata }: { metadata: Record<string, unknown> }) {
  const [query, setQuery] = useQueryParam("q", "");
  const [raw, setRaw] = useState(false);
  if (Object.keys(metadata).length === 0)
    return (
      <p className="muted" data-testid="metadata-empty">
        This version has no metadata.
      </p>
    );
  return (
    <div data-testid="version-metadata">
      <div className="toolbar">
        <input type="search" value={query} onChange={(e) => setQuery(e.target.value)} placeholder="Search keys and values…" aria-label="Search metadata" />
        <button type="button" aria-pressed={raw} onClick={() => setRaw(!raw)}>
          JSON
        </button>
      </div>
      {raw ? (
        <pre className="preview-text" data-testid="metadata-json">
          {JSON.stringify(metadata, null, 2)}
        </pre>
      ) : (
        <ConfigTree data={metadata} query={query} testId="metadata-tree" />
      )}
    </div>
  );
}

/** "Compare with" another version of the collection (opens the collection's diff). */
function CompareWith({ project, name, version, index }: { project: string; name: string; version: string; index: number }) {
  const versions = useAsync(`${project}\n${name}`, (signal) => listVersions(project, name, signal));
  const others = (versions.data ?? []).filter((x) => x.version !== version);
  if (others.length === 0) return null;
  const href = (other: string, otherIndex: number) =>
    hrefFor({ name: "artifact", project, artifact: name }, { diff: otherIndex < index ? `${other},${version}` : `${version},${other}` });
  const previous = others.find((x) => x.index < index);
  return (
    <span className="compare-with">
      {previous && (
        <Link to={href(previous.version, previous.index)} testId="diff-with-previous">
          Diff with {previous.version}
        </Link>
      )}
      <select
        value=""
        aria-label="Compare with another version"
        onChange={(e) => {
          const other = others.find((x) => x.version === e.target.value);
          if (other) navigate(href(other.version, other.index));
        }}
      >
        <option value="">Compare with…</option>
        {others.map((x) => (
          <option key={x.version} value={x.version}>
            {x.version}
            {x.aliases.length ? ` (${x.aliases.join(", ")})` : ""}
          </option>
        ))}
      </select>
    </span>
  );
}
