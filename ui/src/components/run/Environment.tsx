// Where the run executed, as the SDK captured it when the run started: git state with the
// uncommitted diff, command, Python and its packages, host and GPUs, and the main script.
import { useMemo, type ReactNode } from "react";
import type { RunDetail } from "../../api/client";
import { patchStats, shellJoin } from "../../lib/diff";
import { formatNumber } from "../../lib/format";
import { useQueryParam } from "../../lib/url";
import { argv, dict, gpus, packages, section, sectionError, str } from "./meta";
import { CodeView, PatchView } from "./TextViews";
import "./run.css";

function Row({ label, value, testId }: { label: string; value: ReactNode; testId?: string }) {
  return (
    <tr>
      <th scope="row">{label}</th>
      <td data-testid={testId}>{value ?? <span className="muted">—</span>}</td>
    </tr>
  );
}

function Card({ title, error, children, testId }: { title: string; error?: string; children: ReactNode; testId?: string }) {
  return (
    <section className="card" data-testid={testId}>
      <h3>{title}</h3>
      {error && <div className="error">Not captured: {error}</div>}
      {children}
    </section>
  );
}

function notCaptured(what: string) {
  return <p className="muted">{what} was not captured for this run.</p>;
}

export function Environment({ run }: { run: RunDetail }) {
  const md = run.metadata;
  const git = section(md, "git");
  const command = section(md, "command");
  const python = section(md, "python");
  const host = section(md, "host");
  const code = section(md, "code");
  const pkgs = useMemo(() => packages(md), [md]);
  const gpuList = gpus(md);
  const diff = str(git?.["diff"]);
  const untracked = Array.isArray(git?.["untracked"]) ? (git?.["untracked"] as unknown[]).map(String) : [];
  const args = argv(md);

  return (
    <div className="env">
      <Card title="Git" error={sectionError(md, "git")} testId="env-git">
        {git && !sectionError(md, "git") ? (
          <>
            <table className="kv">
              <tbody>
                <Row label="Remote" value={str(git["remote"]) && <code>{str(git["remote"])}</code>} />
                <Row label="Branch" value={str(git["branch"])} testId="git-branch" />
                <Row label="Commit" value={str(git["commit"]) && <code>{str(git["commit"])}</code>} testId="git-commit" />
                <Row
                  label="Working tree"
                  testId="git-dirty"
                  value={
                    git["dirty"] === true ? (
                      <span className="badge warn">uncommitted changes</span>
                    ) : git["dirty"] === false ? (
                      "clean"
                    ) : undefined
                  }
                />
                {untracked.length > 0 && (
                  <Row
                    label="Untracked"
                    value={
                      <details>
                        <summary>
                          {untracked.length}
                          {git["untracked_truncated"] === true ? "+" : ""} files
                        </summary>
                        <ul className="plain">
                          {untracked.map((f) => (
                            <li key={f}>
                              <code>{f}</code>
                            </li>
                          ))}
                        </ul>
                      </details>
                    }
                  />
                )}
              </tbody>
            </table>
            {diff ? (
              <>
                <h4>
                  Uncommitted diff{" "}
                  <span className="muted">
                    {patchStats(diff)
                      .map((f) => `${f.file} +${f.added} −${f.removed}`)
                      .join(", ")}
                    {git["diff_truncated"] === true && " (truncated)"}
                  </span>
                </h4>
                <PatchView patch={diff} testId="git-diff" />
              </>
            ) : null}
          </>
        ) : (
          !sectionError(md, "git") && notCaptured("Git state")
        )}
      </Card>

      <Card title="Command" error={sectionError(md, "command")}>
        {command ? (
          <table className="kv">
            <tbody>
              <Row label="Command line" value={args.length > 0 && <code className="wrap">{shellJoin(args)}</code>} />
              <Row label="Program" value={str(command["program"]) && <code>{str(command["program"])}</code>} />
              <Row label="Working dir" value={str(command["cwd"]) && <code>{str(command["cwd"])}</code>} />
              <Row label="Executable" value={str(command["executable"]) && <code>{str(command["executable"])}</code>} />
              <Row label="User" value={str(command["user"])} />
              <Row label="PID" value={str(command["pid"])} />
            </tbody>
          </table>
        ) : (
          notCaptured("The command")
        )}
      </Card>

      <Card title="Hardware" error={sectionError(md, "host")} testId="env-hardware">
        {host && !sectionError(md, "host") ? (
          <table className="kv">
            <tbody>
              <Row label="Host" value={str(host["hostname"])} testId="host-name" />
              <Row label="OS" value={str(host["platform"]) ?? str(host["os"])} />
              <Row label="CPU" value={str(host["cpu_model"])} />
              <Row
                label="Cores"
                value={
                  host["cpu_count"] !== undefined &&
                  `${str(host["cpu_count"])} logical${host["cpu_count_physical"] ? `, ${str(host["cpu_count_physical"])} physical` : ""}`
                }
              />
              <Row
                label="Memory"
                value={typeof host["memory_total_gb"] === "number" && `${formatNumber(host["memory_total_gb"])} GiB`}
              />
              <Row
                label="GPUs"
                value={
                  gpuList.length === 0 ? (
                    "none"
                  ) : (
                    <ul className="plain">
                      {gpuList.map((g, i) => (
                        <li key={i}>
                          {str(g["index"]) ?? i}: {str(g["name"]) ?? "unknown"}
                          {typeof g["memory_total_gb"] === "number" && `, ${formatNumber(g["memory_total_gb"])} GiB`}
                          {str(g["driver"]) && <span className="muted"> (driver {str(g["driver"])})</span>}
                        </li>
                      ))}
                    </ul>
                  )
                }
              />
            </tbody>
          </table>
        ) : (
          !sectionError(md, "host") && notCaptured("Hardware")
        )}
      </Card>

      <Card title="Python" error={sectionError(md, "python")} testId="env-python">
        {python ? (
          <table className="kv">
            <tbody>
              <Row label="Version" value={str(python["version"])} testId="python-version" />
              <Row label="Implementation" value={str(python["implementation"])} />
            </tbody>
          </table>
        ) : (
          notCaptured("Python")
        )}
        <Packages pkgs={pkgs} error={str(dict(dict(md)?.["packages"])?.["error"])} />
      </Card>

      <Card title="Main script" error={str(code?.["error"])} testId="env-code">
        {code && !code["error"] ? (
          <>
            <p>
              {str(code["path"]) && <code>{str(code["path"])}</code>}{" "}
              {str(code["sha256"]) && <span className="muted">sha256 {str(code["sha256"])?.slice(0, 16)}…</span>}
            </p>
            {str(code["skipped"]) && <p className="muted">Content not kept: {str(code["skipped"])}</p>}
            {typeof code["content"] === "string" && <CodeView text={code["content"]} testId="code-view" />}
          </>
        ) : (
          !code?.["error"] && notCaptured("The script")
        )}
      </Card>
    </div>
  );
}

function Packages({ pkgs, error }: { pkgs: Record<string, string>; error?: string }) {
  const [query, setQuery] = useQueryParam("pkg", "");
  const names = Object.keys(pkgs);
  const q = query.trim().toLowerCase();
  const shown = q ? names.filter((n) => n.toLowerCase().includes(q) || (pkgs[n] ?? "").includes(q)) : names;
  return (
    <div className="packages" data-testid="packages">
      <h4>
        Packages <span className="muted">({names.length})</span>
      </h4>
      {error && <div className="error">Not captured: {error}</div>}
      {names.length > 0 ? (
        <>
          <input
            type="search"
            value={query}
            onChange={(e) => setQuery(e.target.value)}
            placeholder="Filter packages…"
            aria-label="Filter packages"
            data-testid="packages-search"
          />
          <div className="pkg-list">
            <table className="grid compact">
              <tbody>
                {shown.map((n) => (
                  <tr key={n} data-package={n}>
                    <td>{n}</td>
                    <td className="mono">{pkgs[n]}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            {shown.length === 0 && <div className="muted">No package matches.</div>}
          </div>
        </>
      ) : (
        !error && <p className="muted">No package list was captured.</p>
      )}
    </div>
  );
}
