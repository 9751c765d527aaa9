// The model registry: registered models (/registry) and one model (/registry/<name>) with its
// aliases (protected ones locked), its versions (each linked to the artifact version and run
// it came from) and the history of links and alias moves. Aliases can be moved from here; the
// server refuses protected ones to non-maintainers and its reason is shown.
import { useState, type FormEvent } from "react";
import { Link } from "../App";
import { getRegisteredModel, listRegistry, moveRegistryAlias, type RegisteredModel } from "../components/artifacts/api";
import "../components/artifacts/artifacts.css";
import { AliasChips, LockIcon, RunLink, VersionLink } from "../components/artifacts/common";
import { aliasTable, formatBytes } from "../components/artifacts/files";
import { useAsync } from "../components/media/hooks";
import "../components/run/run.css";
import { errorText } from "../lib/data";
import { formatTime } from "../lib/format";
import { hrefFor } from "../lib/url";

export function RegistryPage() {
  const models = useAsync("registry", (signal) => listRegistry(signal));
  return (
    <section className="page registry-page" data-testid="registry-page">
      <header className="run-head">
        <h1>Model registry</h1>
      </header>
      {models.error && <div className="error">{models.error}</div>}
      {!models.data && !models.error && <div className="loading">Loading the registry…</div>}
      {models.data && models.data.length === 0 && (
        <div className="empty" data-testid="registry-empty">
          <p>No registered models yet.</p>
          <p>
            Link a model version from a run: <code>run.link_artifact(model, "registry/my-model", aliases=["staging"])</code>
          </p>
        </div>
      )}
      {models.data && models.data.length > 0 && (
        <table className="grid" data-testid="registry-table">
          <thead>
            <tr>
              <th>Model</th>
              <th>Type</th>
              <th className="num">Versions</th>
              <th>Aliases</th>
              <th>Latest from</th>
              <th>Updated</th>
            </tr>
          </thead>
          <tbody>
            {models.data.map((m) => {
              const latest = m.versions[0];
              return (
                <tr key={m.name} data-testid="registry-row" data-name={m.name}>
                  <td>
                    <Link to={hrefFor({ name: "registryModel", model: m.name })} testId="registry-link">
                      {m.name}
                    </Link>
                  </td>
                  <td>{m.type}</td>
                  <td className="num">{m.versions.length}</td>
                  <td className="wrap-cell">
                    {aliasTable(m).map(([alias, v]) => (
                      <span key={alias} className="alias-to">
                        <AliasChips aliases={[alias]} protectedAliases={m.protected_aliases} />
                        <span className="muted mono">→{v.version}</span>
                      </span>
                    ))}
                  </td>
                  <td>
                    {latest?.source?.project && <VersionLink project={latest.source.project} name={latest.source.name} version={latest.source.version} />}
                  </td>
                  <td>{formatTime(latest?.created_at)}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </section>
  );
}

export function RegisteredModelPage({ name }: { name: string }) {
  const loaded = useAsync(name, (signal) => getRegisteredModel(name, signal));
  const m = loaded.data;
  if (loaded.error && !m) return <div className="error">{loaded.error}</div>;
  if (!m) return <div className="loading">Loading {name}…</div>;
  const aliases = aliasTable(m);
  return (
    <section className="page registered-model" data-testid="registered-model" data-name={m.name}>
      <header className="run-head">
        <h1>{m.name}</h1>
        <span className="badge">{m.type}</span>
        <span className="muted">
          {m.versions.length} version{m.versions.length === 1 ? "" : "s"}
        </span>
        <span className="spacer" />
        <Link to={hrefFor({ name: "registry" })}>All registered models</Link>
      </header>
      {loaded.error && <div className="error">{loaded.error}</div>}
      <div className="two-col">
        <section className="card">
          <h3>Aliases</h3>
          <table className="grid" data-testid="registry-aliases">
            <thead>
              <tr>
                <th>Alias</th>
                <th>Version</th>
                <th>Protected</th>
              </tr>
            </thead>
            <tbody>
              {aliases.map(([alias, v]) => {
                const locked = m.protected_aliases.includes(alias);
                return (
                  <tr key={alias} data-testid="registry-alias" data-alias={alias} data-version={v.version} data-protected={locked ? "true" : "false"}>
                    <td>
                      <AliasChips aliases={[alias]} protectedAliases={m.protected_aliases} />
                    </td>
                    <td className="mono">{v.version}</td>
                    <td>
                      {locked ? (
                        <span className="lock-note" title="Only maintainers move or remove this alias">
                          <LockIcon /> protected
                        </span>
                      ) : (
                        <span className="muted">—</span>
                      )}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
          <MoveAlias model={m} onMoved={loaded.reload} />
        </section>
        <section className="card">
          <h3>History</h3>
          {m.history.length === 0 ? (
            <p className="muted">No events.</p>
          ) : (
            <div className="art-scroll short">
              <table className="grid" data-testid="registry-history">
                <thead>
                  <tr>
                    <th>Time</th>
                    <th>Action</th>
                    <th>Alias</th>
                    <th>Version</th>
                    <th>By</th>
                  </tr>
                </thead>
                <tbody>
                  {[...m.history].reverse().map((e, i) => (
                    <tr key={i} data-testid="registry-history-row" data-action={e.action} data-alias={e.alias ?? ""}>
                      <td title={e.ts ? new Date(e.ts * 1000).toLocaleString() : ""}>{formatTime(e.ts)}</td>
                      <td>{e.action}</td>
                      <td>{e.alias ?? ""}</td>
                      <td className="mono" data-testid="history-versions">
                        {e.from_version && e.to_version ? `${e.from_version} → ${e.to_version}` : (e.to_version ?? (e.from_version ? `${e.from_version} →` : ""))}
                      </td>
                      <td className="wrap-cell">{e.actor}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </section>
      </div>
      <section className="card">
        <h3>Versions</h3>
        <table className="grid" data-testid="registry-versions">
          <thead>
            <tr>
              <th>Version</th>
              <th>Aliases</th>
              <th>Source artifact</th>
              <th>Produced by</th>
              <th className="num">Size</th>
              <th>Linked</th>
            </tr>
          </thead>
          <tbody>
            {m.versions.map((v) => (
              <tr key={v.id} data-testid="registry-version" data-version={v.version}>
                <td className="mono">{v.version}</td>
                <td>
                  <AliasChips aliases={v.aliases} protectedAliases={m.protected_aliases} />
                </td>
                <td data-testid="registry-source">
                  {v.source?.project ? <VersionLink project={v.source.project} name={v.source.name} version={v.source.version} /> : <span className="muted">—</span>}
                </td>
                <td>
                  {v.source?.project && v.source.logged_by ? (
                    <RunLink project={v.source.project} runId={v.source.logged_by} testId="registry-run" />
                  ) : (
                    <span className="muted">—</span>
                  )}
                </td>
                <td className="num">{formatBytes(v.size)}</td>
                <td>{formatTime(v.created_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
    </section>
  );
}

function MoveAlias({ model, onMoved }: { model: RegisteredModel; onMoved: () => void }) {
  const [alias, setAlias] = useState("");
  const [version, setVersion] = useState(String(model.versions[0]?.index ?? 0));
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const target = alias.trim();
    if (!target) return;
    setBusy(true);
    setError(undefined);
    moveRegistryAlias(model.name, target, Number(version))
      .then(() => {
        setAlias("");
        onMoved();
      })
      .catch((err: unknown) => setError(errorText(err)))
      .finally(() => setBusy(false));
  };
  const listId = `aliases-${model.name}`;
  return (
    <form className="move-alias" onSubmit={submit} data-testid="move-alias">
      <label>
        Move alias{" "}
        <input value={alias} onChange={(e) => setAlias(e.target.value)} list={listId} placeholder="production" aria-label="Alias" data-testid="move-alias-name" size={14} />
      </label>
      <datalist id={listId}>
        {aliasTable(model)
          .filter(([a]) => a !== "latest")
          .map(([a]) => (
            <option key={a} value={a} />
          ))}
      </datalist>
      <label>
        to{" "}
        <select value={version} onChange={(e) => setVersion(e.target.value)} aria-label="Version" data-testid="move-alias-version">
          {model.versions.map((v) => (
            <option key={v.id} value={v.index}>
              {v.version}
            </option>
          ))}
        </select>
      </label>
      <button type="submit" disabled={busy || !alias.trim()} data-testid="move-alias-submit">
        Move
      </button>
      {error && (
        <span className="error inline" data-testid="move-alias-error">
          {error}
        </span>
      )}
    </form>
  );
}
