// Small pieces shared by the artifact and registry views: alias chips, links to runs (by name)
// and versions, a one-line metadata summary, tabs. Everything user-given is rendered as text.
import { useEffect, useState, type ReactNode } from "react";
import { call } from "../../api/client";
import { Link } from "../../App";
import { formatValue } from "../../lib/format";
import { hrefFor, setQuery } from "../../lib/url";
import "./artifacts.css";

export function AliasChips({ aliases, protectedAliases = [], testId }: { aliases: readonly string[]; protectedAliases?: readonly string[]; testId?: string }) {
  if (aliases.length === 0) return null;
  return (
    <span className="alias-chips" data-testid={testId}>
      {aliases.map((a) => {
        const locked = protectedAliases.includes(a);
        return (
          <span
            key={a}
            className={locked ? "alias protected" : "alias"}
            data-testid="alias"
            data-alias={a}
            data-protected={locked ? "true" : undefined}
            title={locked ? `${a}: protected (only maintainers move it)` : a}
          >
            {locked && <LockIcon />}
            {a}
          </span>
        );
      })}
    </span>
  );
}

/** A padlock drawn in SVG (emoji fonts are not everywhere). */
export function LockIcon() {
  return (
    <svg className="lock-icon" viewBox="0 0 16 16" width="11" height="11" role="img" aria-label="protected" data-testid="lock">
      <title>protected</title>
      <path fillRule="evenodd" fill="currentColor" d="M4 7V5a4 4 0 0 1 8 0v2h1v8H3V7h1zm2 0h4V5a2 2 0 0 0-4 0v2z" />
    </svg>
  );
}

interface RunInfo {
  name: string;
  state: string;
}

// Run names by "project/run_id": one request per run for the whole page's life.
const runInfos = new Map<string, Promise<RunInfo | null>>();

function loadRunInfo(project: string, runId: string): Promise<RunInfo | null> {
  const key = `${project}/${runId}`;
  let found = runInfos.get(key);
  if (!found) {
    found = call("get_run", { path: { project, run_id: runId } })
      .then((r) => ({ name: r.name, state: r.state }))
      .catch(() => {
        runInfos.delete(key); // a later page may find it
        return null;
      });
    runInfos.set(key, found);
  }
  return found;
}

/** A link to a run's page, showing its name once known (its id until then). */
export function RunLink({ project, runId, testId, showState = false }: { project: string; runId: string; testId?: string; showState?: boolean }) {
  const [info, setInfo] = useState<RunInfo | null | undefined>(undefined);
  useEffect(() => {
    let live = true;
    void loadRunInfo(project, runId).then((i) => live && setInfo(i));
    return () => {
      live = false;
    };
  }, [project, runId]);
  return (
    <span className="run-link" data-testid={testId} data-run-id={runId}>
      <Link to={hrefFor({ name: "run", project, run: runId })} title={`run ${runId}`}>
        {info?.name || runId}
      </Link>
      {showState && info && <span className={`state state-${info.state}`}>{info.state}</span>}
    </span>
  );
}

export function VersionLink({ project, name, version, query }: { project: string; name: string; version: string; query?: Record<string, string> }) {
  return (
    <Link to={hrefFor({ name: "artifactVersion", project, artifact: name, version }, query)} className="mono" testId="version-link">
      {`${name}:${version}`}
    </Link>
  );
}

/** The first few top-level metadata entries as "key: value" (the whole JSON in the tooltip). */
export function MetadataSummary({ metadata, max = 3 }: { metadata: Record<string, unknown>; max?: number }) {
  const keys = Object.keys(metadata);
  if (keys.length === 0) return <span className="muted">—</span>;
  const full = JSON.stringify(metadata, null, 2);
  return (
    <span className="meta-summary" title={full.length > 4000 ? `${full.slice(0, 4000)}…` : full}>
      {keys.slice(0, max).map((k) => (
        <span key={k} className="meta-pair">
          <span className="meta-key">{k}</span>: <span className="meta-value">{clipText(formatValue(metadata[k]), 40)}</span>
        </span>
      ))}
      {keys.length > max && <span className="muted"> +{keys.length - max}</span>}
    </span>
  );
}

export function clipText(text: string, max: number): string {
  const chars = Array.from(text);
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join("")}…`;
}

/** Tabs kept in the URL (``?tab=``); the first is the default and leaves the URL clean. */
export function Tabs<T extends string>({ tabs, current, label }: { tabs: readonly (readonly [T, ReactNode])[]; current: T; label: string }) {
  const first = tabs[0]?.[0];
  return (
    <nav className="tabs" role="tablist" aria-label={label}>
      {tabs.map(([id, text]) => (
        <button
          key={id}
          type="button"
          role="tab"
          aria-selected={current === id}
          className={current === id ? "tab active" : "tab"}
          data-testid={`tab-${id}`}
          onClick={() => setQuery({ tab: id === first ? undefined : id }, true)}
        >
          {text}
        </button>
      ))}
    </nav>
  );
}
