// Runs side by side, one row per key: rows whose values differ are highlighted.
import type { ReactNode } from "react";
import { leafText, visibleRows, type DiffRow } from "../../lib/diff";
import "./run.css";

export interface DiffColumn {
  id: string;
  name: string;
  color: string;
}

interface Props {
  rows: DiffRow[];
  columns: DiffColumn[];
  onlyDiffs: boolean;
  query: string;
  testId: string;
  keyLabel?: string;
  /** How a value reads (default: NaN/inf as words, lists and dicts as JSON). */
  format?: (value: unknown) => ReactNode;
}

export function DiffTable({ rows, columns, onlyDiffs, query, testId, keyLabel = "Key", format = leafText }: Props) {
  const shown = visibleRows(rows, onlyDiffs, query);
  const differing = rows.filter((r) => r.differs).length;
  return (
    <div className="diff-wrap">
      <div className="muted diff-count" data-testid={`${testId}-count`}>
        {rows.length} keys, {differing} differ{shown.length !== rows.length && `, ${shown.length} shown`}
      </div>
      <div className="diff-scroll">
        <table className="grid diff-table" data-testid={testId}>
          <thead>
            <tr>
              <th>{keyLabel}</th>
              {columns.map((c) => (
                <th key={c.id} data-run={c.id}>
                  <span className="swatch" style={{ background: c.color }} />
                  {c.name}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {shown.map((row) => (
              <tr key={row.key} data-key={row.key} data-differs={row.differs ? "true" : "false"} className={row.differs ? "differs" : ""}>
                <th scope="row" className="diff-key" title={row.key}>
                  {row.key}
                </th>
                {columns.map((c, i) => (
                  <td key={c.id} data-run={c.id} className={row.present[i] ? "" : "missing"} title={row.present[i] ? leafText(row.values[i]) : "not set"}>
                    {row.present[i] ? format(row.values[i]) : "—"}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
        {shown.length === 0 && (
          <div className="muted diff-empty">
            {rows.length === 0 ? "Nothing recorded." : onlyDiffs ? "No differences." : "No key matches."}
          </div>
        )}
      </div>
    </div>
  );
}
