// Two or more runs side by side (/p/<project>/compare?runs=a,b): config and summary diffs,
// environment diff and overlaid charts of the metrics they share.
import { useEffect, useMemo, useState, type FormEvent } from "react";
import { call, type RunDetail } from "../api/client";
import { Link } from "../App";
import { DiffTable, type DiffColumn } from "../components/run/DiffTable";
import { argv, gpus, packages, section, str } from "../components/run/meta";
import { RunCharts } from "../components/run/RunCharts";
import "../components/run/run.css";
import { colorFor } from "../lib/colors";
import { errorText, useCall } from "../lib/data";
import { diffRows, shellJoin } from "../lib/diff";
import type { Theme } from "../lib/theme";
import type { ChartRun } from "../lib/types";
import { decodeList, encodeList, hrefFor, setQuery, useQueryParam } from "../lib/url";

interface Loaded {
  runs: Map<string, RunDetail>;
  errors: Map<string, string>;
  loading: boolean;
}

function useRuns(project: string, ids: string[]): Loaded {
  const [state, setState] = useState<Loaded>({ runs: new Map(), errors: new Map(), loading: true });
  const key = ids.join(",");
  useEffect(() => {
    const ctrl = new AbortController();
    setState((s) => ({ ...s, loading: true }));
    Promise.all(
      ids.map((id) =>
        call("get_run", { path: { project, run_id: id }, signal: ctrl.signal }).then(
          (run) => ({ id, run, error: undefined }),
          (err: unknown) => ({ id, run: undefined, error: errorText(err) }),
        ),
      ),
    ).then((results) => {
      if (ctrl.signal.aborted) return;
      const runs = new Map<string, RunDetail>();
      const errors = new Map<string, string>();
      for (const r of results) {
        if (r.run) runs.set(r.id, r.run);
        else errors.set(r.id, r.error ?? "not found");
      }
      setState({ runs, errors, loading: false });
    });
    return () => ctrl.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [project, key]);
  return state;
}

/** Each run's usual colour unless an earlier run here has it already: side by side, two runs
 * must never share a colour. */
function distinctColors(ids: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  const used = new Set<string>();
  for (const id of ids) {
    let color = colorFor(id);
    for (let n = 1; used.has(color) && n < 64; n++) color = colorFor(`${id}#${n}`);
    used.add(color);
    out.set(id, color);
  }
  return out;
}

/** The facts of an environment worth comparing, as flat rows. */
function environmentOf(run: RunDetail): Record<string, unknown> {
  const md = run.metadata;
  const git = section(md, "git");
  const host = section(md, "host");
  const python = section(md, "python");
  const out: Record<string, unknown> = {};
  const put = (k: string, v: unknown) => {
    if (v !== undefined && v !== null && v !== "") out[k] = v;
  };
  put("git.commit", str(git?.["commit"]));
  put("git.branch", str(git?.["branch"]));
  put("git.remote", str(git?.["remote"]));
  put("git.dirty", typeof git?.["dirty"] === "boolean" ? git["dirty"] : undefined);
  put("python.version", str(python?.["version"]));
  put("host.hostname", str(host?.["hostname"]));
  put("host.os", str(host?.["platform"]) ?? str(host?.["os"]));
  put("host.cpu", str(host?.["cpu_model"]));
  put("host.memory_gb", host?.["memory_total_gb"]);
  const g = gpus(md);
  put("gpus", g.length ? g.map((x) => str(x["name"]) ?? "?").join(", ") : undefined);
  const args = argv(md);
  put("command", args.length ? shellJoin(args) : undefined);
  put("sdk_version", run.sdk_version ?? undefined);
  return out;
}

export function ComparePage({ project, theme }: { project: string; theme: Theme }) {
  const [runsParam] = useQueryParam("runs", "");
  const ids = useMemo(() => [...new Set(decodeList(runsParam))], [runsParam]);
  const [diffParam, setDiffParam] = useQueryParam("diff", "");
  const onlyDiffs = diffParam === "1";
  const [query, setQ] = useQueryParam("q", "");
  const loaded = useRuns(project, ids);
  const runs = useMemo(
    () => ids.map((id) => loaded.runs.get(id)).filter((r): r is RunDetail => r !== undefined),
    [ids, loaded.runs],
  );

  const colors = useMemo(() => distinctColors(ids), [ids]);
  const color = (id: string) => colors.get(id) ?? colorFor(id);
  const columns: DiffColumn[] = runs.map((r) => ({ id: r.id, name: r.name, color: color(r.id) }));
  const chartKey = runs.map((r) => `${r.id}\u0000${r.name}\u0000${r.state}\u0000${color(r.id)}`).join("\u0001");
  const chartRuns: ChartRun[] = useMemo(
    () => runs.map((r) => ({ id: r.id, name: r.name, color: colors.get(r.id) ?? colorFor(r.id), state: r.state })),
    // A new array only when what the charts show changes (not on every reload).
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [chartKey],
  );
  const config = useMemo(() => diffRows(runs.map((r) => r.config)), [runs]);
  const summary = useMemo(() => diffRows(runs.map((r) => r.summary)), [runs]);
  const env = useMemo(() => diffRows(runs.map(environmentOf), { flat: false }), [runs]);
  const pkgs = useMemo(
    () => diffRows(runs.map((r) => packages(r.metadata)), { flat: false }).filter((row) => row.differs),
    [runs],
  );
  const shared = useMemo(() => {
    const [first, ...rest] = runs;
    return (first?.keys ?? []).filter((k) => rest.every((r) => r.keys.includes(k)));
  }, [runs]);

  const remove = (id: string) => setQuery({ runs: encodeList(ids.filter((x) => x !== id)) }, true);

  return (
    <section className="page compare-page" data-testid="compare-page">
      <header className="run-head">
        <h1>Compare runs</h1>
        <span className="muted">in {project}</span>
      </header>
      <div className="compare-runs" data-testid="compare-runs">
        {ids.map((id) => {
          const run = loaded.runs.get(id);
          const error = loaded.errors.get(id);
          return (
            <span key={id} className="compare-chip" data-run={id}>
              <span className="swatch" style={{ background: color(id) }} />
              {run ? (
                <Link to={hrefFor({ name: "run", project, run: id })}>{run.name}</Link>
              ) : (
                <code>{id}</code>
              )}
              {run && <span className={`state state-${run.state}`}>{run.state}</span>}
              {error && <span className="error inline">{error}</span>}
              <button type="button" className="ghost" aria-label={`Remove ${run?.name ?? id}`} onClick={() => remove(id)}>
                ×
              </button>
            </span>
          );
        })}
        <AddRun project={project} ids={ids} />
      </div>
      {ids.length < 2 && <p className="muted">Pick at least two runs to compare (select them in the workspace, or add them here).</p>}
      {loaded.loading && runs.length === 0 && ids.length > 0 && <div className="loading">Loading runs…</div>}
      {runs.length > 0 && (
        <>
          <div className="toolbar">
            <label className="check">
              <input
                type="checkbox"
                checked={onlyDiffs}
                onChange={(e) => setDiffParam(e.target.checked ? "1" : "")}
                data-testid="only-diffs"
              />
              Only differences
            </label>
            <input
              type="search"
              value={query}
              onChange={(e) => setQ(e.target.value)}
              placeholder="Filter keys…"
              aria-label="Filter keys"
            />
          </div>
          <section className="card">
            <h3>Config</h3>
            <DiffTable rows={config} columns={columns} onlyDiffs={onlyDiffs} query={query} testId="config-diff" />
          </section>
          <section className="card">
            <h3>Summary</h3>
            <DiffTable rows={summary} columns={columns} onlyDiffs={onlyDiffs} query={query} testId="summary-diff" />
          </section>
          <section className="card">
            <h3>Environment</h3>
            <DiffTable rows={env} columns={columns} onlyDiffs={onlyDiffs} query={query} testId="env-diff" />
            <h4>
              Packages that differ <span className="muted">({pkgs.length})</span>
            </h4>
            {pkgs.length > 0 ? (
              <DiffTable
                rows={pkgs}
                columns={columns}
                onlyDiffs={false}
                query={query}
                testId="package-diff"
                keyLabel="Package"
              />
            ) : (
              <p className="muted">The runs have the same packages (or none were captured).</p>
            )}
          </section>
          <section className="card">
            <h3>
              Charts <span className="muted">(metrics all {runs.length} runs logged: {shared.length})</span>
            </h3>
            <RunCharts
              project={project}
              runs={chartRuns}
              keys={shared}
              theme={theme}
              testId="compare-charts"
              empty="These runs share no metric."
            />
          </section>
        </>
      )}
    </section>
  );
}

function AddRun({ project, ids }: { project: string; ids: string[] }) {
  const [draft, setDraft] = useState("");
  const recent = useCall(
    "list_runs",
    { path: { project }, query: { order: "-created_at", limit: 200 } },
    `${project}/recent`,
  );
  const options = (recent.data?.items ?? []).filter((r) => !ids.includes(r.id));
  const add = (e: FormEvent) => {
    e.preventDefault();
    const text = draft.trim();
    if (!text) return;
    const match = recent.data?.items.find((r) => r.id === text) ?? recent.data?.items.find((r) => r.name === text);
    const id = match?.id ?? text;
    if (!ids.includes(id)) setQuery({ runs: encodeList([...ids, id]) }, true);
    setDraft("");
  };
  return (
    <form className="inline-form" onSubmit={add}>
      <input
        list="compare-run-options"
        value={draft}
        onChange={(e) => setDraft(e.target.value)}
        placeholder="Add run (id or name)"
        aria-label="Add a run to compare"
      />
      <datalist id="compare-run-options">
        {options.map((r) => (
          <option key={r.id} value={r.id}>
            {r.name}
          </option>
        ))}
      </datalist>
      <button type="submit">Add</button>
    </form>
  );
}
