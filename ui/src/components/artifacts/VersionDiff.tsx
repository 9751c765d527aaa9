// Two versions of one collection side by side: files added, removed and changed (by sha256),
// metadata keys that differ, and the description. The pair is in the URL (?diff=v0,v2).
import { Link } from "../../App";
import { leafText } from "../../lib/diff";
import { formatTime } from "../../lib/format";
import { hrefFor, setQuery } from "../../lib/url";
import { useAsync } from "../media/hooks";
import { getVersion, listFiles, type FileEntry, type VersionInfo } from "./api";
import { diffVersions, formatBytes, type FileChange } from "./files";

function sizeOf(f: FileEntry | null): string {
  return f ? formatBytes(f.size) : "";
}

function shaOf(f: FileEntry | null): string {
  if (!f) return "";
  return f.sha256 ? f.sha256.slice(0, 10) : f.ref ? `ref ${f.ref_digest ?? ""}`.trim() : "";
}

function valueText(v: unknown): string {
  return v === undefined ? "" : leafText(v);
}

export function VersionDiff({ project, name, pair, versions }: { project: string; name: string; pair: [string, string]; versions: readonly VersionInfo[] }) {
  const [a, b] = pair;
  const loaded = useAsync(`${project}\n${name}\n${a}\n${b}`, async (signal) => {
    const [va, vb, fa, fb] = await Promise.all([
      getVersion(project, name, a, signal),
      getVersion(project, name, b, signal),
      listFiles(project, name, a, signal),
      listFiles(project, name, b, signal),
    ]);
    return { va, vb, diff: diffVersions(va, vb, fa.files, fb.files) };
  });
  const pick = (side: 0 | 1, value: string) => {
    const next: [string, string] = side === 0 ? [value, b] : [a, value];
    setQuery({ diff: next.join(",") });
  };
  const chooser = (side: 0 | 1) => (
    <select value={pair[side]} onChange={(e) => pick(side, e.target.value)} aria-label={side === 0 ? "Older version" : "Newer version"} data-testid={`diff-pick-${side}`}>
      {!versions.some((v) => v.version === pair[side]) && <option value={pair[side]}>{pair[side]}</option>}
      {versions.map((v) => (
        <option key={v.version} value={v.version}>
          {v.version}
          {v.aliases.length ? ` (${v.aliases.join(", ")})` : ""}
        </option>
      ))}
    </select>
  );
  return (
    <section className="card version-diff" data-testid="version-diff" data-pair={`${a},${b}`}>
      <div className="toolbar">
        <h3 className="inline-title">Compare</h3>
        {chooser(0)}
        <span aria-hidden="true">→</span>
        {chooser(1)}
        <button type="button" onClick={() => setQuery({ diff: `${b},${a}` })} title="Swap the two versions">
          ⇄ Swap
        </button>
        <span className="spacer" />
        <button type="button" className="ghost" onClick={() => setQuery({ diff: undefined })} data-testid="diff-close">
          Close
        </button>
      </div>
      {loaded.error && <div className="error">{loaded.error}</div>}
      {!loaded.data && !loaded.error && <div className="loading">Comparing…</div>}
      {loaded.data && <DiffBody project={project} name={name} {...loaded.data} />}
    </section>
  );
}

function DiffBody({ project, name, va, vb, diff }: { project: string; name: string; va: VersionInfo; vb: VersionInfo; diff: ReturnType<typeof diffVersions> }) {
  const count = (s: FileChange["status"]) => diff.files.filter((f) => f.status === s).length;
  const fileLink = (version: string, path: string) => hrefFor({ name: "artifactVersion", project, artifact: name, version }, { file: path });
  return (
    <div>
      <p data-testid="diff-summary">
        <span className="diff-added">{count("added")} added</span>, <span className="diff-removed">{count("removed")} removed</span>,{" "}
        <span className="diff-changed">{count("changed")} changed</span>, {diff.unchanged} unchanged file{diff.unchanged === 1 ? "" : "s"};{" "}
        {diff.metadata.length} metadata key{diff.metadata.length === 1 ? "" : "s"} differ.
        <span className="muted">
          {" "}
          {va.version}: {formatBytes(va.size)}, {formatTime(va.created_at)} · {vb.version}: {formatBytes(vb.size)}, {formatTime(vb.created_at)}
        </span>
      </p>
      {va.digest === vb.digest && <p className="muted">Both versions have the same content digest.</p>}
      <h4>Files</h4>
      {diff.files.length === 0 ? (
        <p className="muted" data-testid="diff-files-none">
          The files are the same.
        </p>
      ) : (
        <table className="grid diff-table" data-testid="diff-files">
          <thead>
            <tr>
              <th>Change</th>
              <th>Path</th>
              <th className="num">{va.version}</th>
              <th className="num">{vb.version}</th>
              <th>sha256</th>
            </tr>
          </thead>
          <tbody>
            {diff.files.map((f) => (
              <tr key={f.path} data-testid="diff-file" data-status={f.status} data-path={f.path} className={`diff-${f.status}`}>
                <td>
                  <span className={`badge diff-badge diff-${f.status}`}>{f.status}</span>
                </td>
                <td className="mono wrap-cell">
                  <Link to={fileLink(f.status === "removed" ? va.version : vb.version, f.path)}>{f.path}</Link>
                </td>
                <td className="num">{sizeOf(f.before)}</td>
                <td className="num">{sizeOf(f.after)}</td>
                <td className="mono muted">
                  {shaOf(f.before)}
                  {f.status === "changed" && " → "}
                  {shaOf(f.after)}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h4>Metadata</h4>
      {diff.metadata.length === 0 ? (
        <p className="muted" data-testid="diff-metadata-none">
          The metadata is the same.
        </p>
      ) : (
        <table className="grid diff-table" data-testid="diff-metadata">
          <thead>
            <tr>
              <th>Key</th>
              <th>{va.version}</th>
              <th>{vb.version}</th>
            </tr>
          </thead>
          <tbody>
            {diff.metadata.map((m) => (
              <tr key={m.key} data-testid="diff-meta" data-key={m.key} data-status={m.status}>
                <td className="mono wrap-cell">{m.key}</td>
                <td className={m.status === "added" ? "muted" : "wrap-cell"}>{m.status === "added" ? "(absent)" : valueText(m.before)}</td>
                <td className={m.status === "removed" ? "muted" : "wrap-cell differs"}>{m.status === "removed" ? "(absent)" : valueText(m.after)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {diff.description && (
        <>
          <h4>Description</h4>
          <div className="two-col" data-testid="diff-description">
            <pre className="desc-text">{diff.description.before || "(none)"}</pre>
            <pre className="desc-text">{diff.description.after || "(none)"}</pre>
          </div>
        </>
      )}
    </div>
  );
}
