// The runs table. (Basic version: name, state, created; column picker etc. to come.)
import type { Catalogue, RunRead } from "../api/client";
import { Link } from "../App";
import { formatDuration, formatTime } from "../lib/format";
import type { RunGroup } from "../lib/types";
import { hrefFor } from "../lib/url";

export interface RunsTableProps {
  project: string;
  runs: RunRead[];
  total: number;
  loading: boolean;
  error: string | undefined;
  catalogue: Catalogue | undefined;
  colors: Map<string, string>;
  hidden: Set<string>;
  onSetHidden: (ids: string[], hide: boolean) => void;
  groups: RunGroup[] | null;
}

export function RunsTable(props: RunsTableProps) {
  const { project, runs, colors, hidden, onSetHidden } = props;
  return (
    <section className="runs-panel" data-testid="runs-table">
      {props.error && <div className="error">{props.error}</div>}
      <div className="runs-count">
        {runs.length} of {props.total} runs
      </div>
      <table className="grid">
        <tbody>
          {runs.map((r) => (
            <tr key={r.id} data-run-id={r.id} data-state={r.state}>
              <td>
                <input
                  type="checkbox"
                  aria-label={`show ${r.name} in charts`}
                  checked={!hidden.has(r.id)}
                  onChange={(e) => onSetHidden([r.id], !e.target.checked)}
                />
              </td>
              <td>
                <span className="swatch" style={{ background: colors.get(r.id) }} />
                <Link to={hrefFor({ name: "run", project, run: r.id })}>{r.name}</Link>
              </td>
              <td>{r.state}</td>
              <td>{formatTime(r.created_at)}</td>
              <td>{formatDuration(r.runtime)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
