// The run at a glance: state, timing, where and how it ran, editable tags and notes, and for
// a failed run its exit code and traceback.
import { useState, type FormEvent, type ReactNode } from "react";
import { call, type RunDetail } from "../../api/client";
import { errorText } from "../../lib/data";
import { shellJoin } from "../../lib/diff";
import { formatDuration, formatTime } from "../../lib/format";
import { argv, section, shortCommit, str } from "./meta";
import "./run.css";

interface Props {
  run: RunDetail;
  onChange: (run: RunDetail) => void;
}

function Fact({ label, children, testId }: { label: string; children: ReactNode; testId?: string }) {
  return (
    <>
      <dt>{label}</dt>
      <dd data-testid={testId}>{children}</dd>
    </>
  );
}

export function fullTime(epoch: number | null | undefined): string {
  if (epoch === null || epoch === undefined) return "";
  return new Date(epoch * 1000).toLocaleString();
}

export function Overview({ run, onChange }: Props) {
  const git = section(run.metadata, "git");
  const host = section(run.metadata, "host");
  const command = section(run.metadata, "command");
  const args = argv(run.metadata);
  const failed = run.state === "failed" || run.state === "crashed" || (run.exit_code ?? 0) !== 0;
  return (
    <div className="overview">
      {failed && (run.error || run.exit_code !== null) && (
        <div className="run-failure" data-testid="run-failure">
          <strong>
            Run {run.state}
            {run.exit_code !== null && ` with exit code ${run.exit_code}`}
          </strong>
          {run.error && <pre data-testid="run-error">{run.error}</pre>}
        </div>
      )}
      <dl className="facts">
        <Fact label="State">
          <span className={`state state-${run.state}`}>{run.state}</span>
        </Fact>
        <Fact label="Run id">
          <code>{run.id}</code>
        </Fact>
        <Fact label="Created">
          <span title={fullTime(run.created_at)}>{formatTime(run.created_at)}</span>
        </Fact>
        <Fact label="Finished">
          <span title={fullTime(run.finished_at)}>{run.finished_at ? formatTime(run.finished_at) : "—"}</span>
        </Fact>
        <Fact label="Duration" testId="run-duration">
          {formatDuration(run.runtime)}
        </Fact>
        <Fact label="Last step">{run.last_step ?? "—"}</Fact>
        <Fact label="Host">{str(host?.["hostname"]) ?? "—"}</Fact>
        <Fact label="User">{str(command?.["user"]) ?? "—"}</Fact>
        <Fact label="Command" testId="run-command">
          {args.length > 0 ? <code className="wrap">{shellJoin(args)}</code> : "—"}
        </Fact>
        <Fact label="Working dir">{str(command?.["cwd"]) ? <code>{str(command?.["cwd"])}</code> : "—"}</Fact>
        <Fact label="Git" testId="run-git">
          {str(git?.["commit"]) ? (
            <>
              <code title={str(git?.["commit"])}>{shortCommit(str(git?.["commit"]))}</code>
              {str(git?.["branch"]) && <span className="muted"> on {str(git?.["branch"])}</span>}
              {git?.["dirty"] === true && <span className="badge warn">uncommitted changes</span>}
            </>
          ) : (
            "—"
          )}
        </Fact>
        <Fact label="Group">{run.group ?? "—"}</Fact>
        <Fact label="Job type">{run.job_type ?? "—"}</Fact>
        <Fact label="Exit code" testId="run-exit-code">
          {run.exit_code ?? "—"}
        </Fact>
        <Fact label="SDK">{run.sdk_version ?? "—"}</Fact>
        <Fact label="Tags">
          <TagsEditor run={run} onChange={onChange} />
        </Fact>
      </dl>
      <NotesEditor run={run} onChange={onChange} />
      {run.alerts.length > 0 && (
        <div className="alerts" data-testid="alerts">
          <h3>Alerts</h3>
          {run.alerts.map((a, i) => (
            <div key={i} className={`alert alert-${a.level}`}>
              <span className="badge">{a.level}</span> <strong>{a.title}</strong>{" "}
              <span className="muted">{formatTime(a.ts)}</span>
              {a.text && <div className="alert-text">{a.text}</div>}
            </div>
          ))}
        </div>
      )}
    </div>
  );
}

function TagsEditor({ run, onChange }: Props) {
  const [draft, setDraft] = useState("");
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const save = async (tags: string[]) => {
    setBusy(true);
    setError(undefined);
    try {
      onChange(await call("update_run", { path: { project: run.project, run_id: run.id }, body: { tags } }));
      return true;
    } catch (err) {
      setError(errorText(err));
      return false;
    } finally {
      setBusy(false);
    }
  };
  const add = async (e: FormEvent) => {
    e.preventDefault();
    const tag = draft.trim();
    if (!tag || run.tags.includes(tag)) {
      setDraft("");
      return;
    }
    if (await save([...run.tags, tag])) setDraft("");
  };
  return (
    <div className="tags-editor" data-testid="tags">
      {run.tags.map((t) => (
        <span key={t} className="tag" data-tag={t}>
          {t}
          <button
            type="button"
            className="tag-remove"
            aria-label={`Remove tag ${t}`}
            disabled={busy}
            onClick={() => void save(run.tags.filter((x) => x !== t))}
          >
            ×
          </button>
        </span>
      ))}
      <form onSubmit={(e) => void add(e)} className="inline-form">
        <input
          value={draft}
          onChange={(e) => setDraft(e.target.value)}
          placeholder="add tag"
          aria-label="New tag"
          maxLength={200}
          data-testid="tag-input"
          disabled={busy}
        />
      </form>
      {error && <span className="error inline">{error}</span>}
    </div>
  );
}

function NotesEditor({ run, onChange }: Props) {
  const [editing, setEditing] = useState(false);
  const [draft, setDraft] = useState(run.notes ?? "");
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const save = async () => {
    setBusy(true);
    setError(undefined);
    try {
      onChange(
        await call("update_run", { path: { project: run.project, run_id: run.id }, body: { notes: draft } }),
      );
      setEditing(false);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="notes" data-testid="notes">
      <div className="notes-head">
        <h3>Notes</h3>
        {!editing && (
          <button
            type="button"
            onClick={() => {
              setDraft(run.notes ?? "");
              setEditing(true);
            }}
            data-testid="notes-edit"
          >
            Edit
          </button>
        )}
      </div>
      {editing ? (
        <div className="notes-form">
          <textarea
            value={draft}
            onChange={(e) => setDraft(e.target.value)}
            rows={6}
            aria-label="Notes"
            data-testid="notes-input"
            autoFocus
            onKeyDown={(e) => {
              if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) void save();
              if (e.key === "Escape") setEditing(false);
            }}
          />
          <div className="row-gap">
            <button type="button" className="primary" disabled={busy} onClick={() => void save()} data-testid="notes-save">
              Save
            </button>
            <button type="button" disabled={busy} onClick={() => setEditing(false)}>
              Cancel
            </button>
            <span className="muted">Ctrl+Enter saves, Esc cancels</span>
          </div>
        </div>
      ) : run.notes ? (
        <div className="notes-text" data-testid="notes-text">
          {run.notes}
        </div>
      ) : (
        <div className="muted" data-testid="notes-text">
          No notes yet.
        </div>
      )}
      {error && <div className="error">{error}</div>}
    </div>
  );
}
