// Columns and rows of the runs table. Rows are memoised: while scrolling, only rows that come
// into view render; the ones already there are left alone.
import { memo, type CSSProperties, type ReactNode } from "react";
import type { RunRead } from "../api/client";
import { Link } from "../App";
import { formatDuration, formatNumber, formatTime, formatValue, getPath } from "../lib/format";
import { meanOf } from "../lib/grouping";
import type { RunGroup } from "../lib/types";
import { hrefFor } from "../lib/url";
import { columnSortField, isLiteralKey, splitColumnId } from "./RunsTableModel";

export const ROW_HEIGHT = 30;
export const HEADER_HEIGHT = 32;
/** Widths of the two leading columns: row selection, then colour + shown in charts. */
export const LEAD_WIDTHS = [32, 48] as const;
const NAME_LEFT = LEAD_WIDTHS[0] + LEAD_WIDTHS[1];

export interface Column {
  id: string;
  label: ReactNode;
  title: string;
  width: number;
  sortField?: string;
  num?: boolean;
  /** Left offset when the column stays in view while scrolling sideways. */
  sticky?: number;
  cell: (run: RunRead) => ReactNode;
  /** The cell of a group header row (e.g. the mean over the group's runs). */
  groupCell?: (runs: RunRead[]) => ReactNode;
}

function valueCell(value: unknown): ReactNode {
  if (value === undefined || value === null) return <span className="rt-muted">–</span>;
  const text = formatValue(value);
  return <span title={text}>{text}</span>;
}

/** The chosen columns whose dotted key some run holds as one literal key (see isLiteralKey). */
export function literalColumns(chosen: readonly string[], runs: readonly RunRead[]): string[] {
  return chosen.filter((id) => {
    const parts = splitColumnId(id);
    return parts !== undefined && isLiteralKey(runs, parts.scope, parts.key);
  });
}

/** The fixed columns, then the chosen config/summary columns. */
export function buildColumns(project: string, chosen: readonly string[], literal: readonly string[]): Column[] {
  const fixed: Column[] = [
    {
      id: "name",
      label: "Name",
      title: "Run name",
      width: 220,
      sortField: "name",
      sticky: NAME_LEFT,
      cell: (r) => (
        <Link to={hrefFor({ name: "run", project, run: r.id })} title={`${r.name} (${r.id})`} className="rt-name">
          {r.name}
        </Link>
      ),
    },
    {
      id: "state",
      label: "State",
      title: "Run state",
      width: 96,
      sortField: "state",
      cell: (r) => <span className={`state state-${r.state}`}>{r.state}</span>,
    },
    {
      id: "tags",
      label: "Tags",
      title: "Tags",
      width: 150,
      cell: (r) =>
        r.tags.length === 0 ? null : (
          <span className="rt-tags" title={r.tags.join(", ")}>
            {r.tags.map((t) => (
              <span key={t} className="tag">
                {t}
              </span>
            ))}
          </span>
        ),
    },
    { id: "group", label: "Group", title: "Run group", width: 120, sortField: "group", cell: (r) => valueCell(r.group) },
    {
      id: "created",
      label: "Created",
      title: "Created at",
      width: 136,
      sortField: "created_at",
      cell: (r) => formatTime(r.created_at),
    },
    { id: "runtime", label: "Runtime", title: "Duration", width: 84, num: true, cell: (r) => formatDuration(r.runtime) },
  ];
  const custom: Column[] = chosen.flatMap((id) => {
    const parts = splitColumnId(id);
    if (!parts) return [];
    const col: Column = {
      id,
      label: (
        <>
          <span className={`rt-scope rt-scope-${parts.scope}`}>{parts.scope === "config" ? "c" : "s"}</span>
          {parts.key}
        </>
      ),
      title: id,
      width: 120,
      num: true,
      sortField: columnSortField(id, literal.includes(id)),
      cell: (r) => valueCell(getPath(r, id)),
    };
    if (parts.scope === "summary") {
      col.groupCell = (groupRuns) => {
        const mean = meanOf(groupRuns.map((r) => getPath(r, id)));
        return mean === undefined ? null : (
          <span className="rt-mean" title={`mean of ${id} over the group's runs`}>
            {formatNumber(mean)}
          </span>
        );
      };
    }
    return [col];
  });
  return [...fixed, ...custom];
}

function cellClass(c: Column): string {
  return `rt-cell${c.num ? " num" : ""}${c.sticky !== undefined ? " rt-sticky" : ""}`;
}

export interface RunRowProps {
  run: RunRead;
  columns: Column[];
  gridStyle: CSSProperties;
  top: number;
  rowIndex: number;
  color: string;
  selected: boolean;
  hidden: boolean;
  inGroup: boolean;
  onSelect: (id: string, on: boolean, range: boolean) => void;
  onSetHidden: (ids: string[], hide: boolean) => void;
}

export const RunRow = memo(function RunRow(p: RunRowProps) {
  const r = p.run;
  const cls = `rt-row${p.selected ? " rt-selected-row" : ""}${p.hidden ? " rt-hidden-row" : ""}${p.inGroup ? " rt-in-group" : ""}`;
  return (
    <div
      className={cls}
      role="row"
      aria-rowindex={p.rowIndex}
      aria-selected={p.selected}
      style={{ ...p.gridStyle, transform: `translateY(${p.top}px)` }}
      data-run-id={r.id}
      data-state={r.state}
    >
      <div className="rt-cell rt-sticky" style={{ left: 0 }} role="cell">
        <input
          type="checkbox"
          aria-label={`select ${r.name}`}
          data-testid="select-run"
          checked={p.selected}
          onChange={(e) => p.onSelect(r.id, e.target.checked, (e.nativeEvent as MouseEvent).shiftKey === true)}
        />
      </div>
      <div className="rt-cell rt-sticky rt-vis" style={{ left: LEAD_WIDTHS[0] }} role="cell">
        <span className="swatch" style={{ background: p.color }} aria-hidden="true" />
        <input
          type="checkbox"
          aria-label={`show ${r.name} in charts`}
          title={p.hidden ? "Hidden from charts: click to show" : "Shown in charts: click to hide"}
          data-testid="show-run"
          checked={!p.hidden}
          onChange={(e) => p.onSetHidden([r.id], !e.target.checked)}
        />
      </div>
      {p.columns.map((c) => (
        <div
          key={c.id}
          role="cell"
          className={cellClass(c)}
          style={c.sticky !== undefined ? { left: c.sticky } : undefined}
          data-col={c.id}
        >
          {c.cell(r)}
        </div>
      ))}
    </div>
  );
});

/** A stand-in drawn while rows fly past during fast scrolling: colour and name only. */
export const LightRow = memo(function LightRow(p: {
  run: RunRead;
  gridStyle: CSSProperties;
  top: number;
  rowIndex: number;
  color: string;
}) {
  return (
    <div
      className="rt-row rt-light"
      role="row"
      aria-rowindex={p.rowIndex}
      style={{ ...p.gridStyle, transform: `translateY(${p.top}px)` }}
      data-run-id={p.run.id}
      data-state={p.run.state}
    >
      <div className="rt-cell rt-sticky rt-light-name" role="cell" data-col="name" style={{ left: 0, borderLeftColor: p.color }}>
        {p.run.name}
      </div>
    </div>
  );
});

export interface GroupRowProps {
  group: RunGroup;
  runs: RunRead[];
  collapsed: boolean;
  columns: Column[];
  gridStyle: CSSProperties;
  top: number;
  rowIndex: number;
  nSelected: number;
  nHidden: number;
  onToggle: (key: string) => void;
  onSelectMany: (ids: string[], on: boolean) => void;
  onSetHidden: (ids: string[], hide: boolean) => void;
}

export const GroupRow = memo(function GroupRow(p: GroupRowProps) {
  const g = p.group;
  const ids = p.runs.map((r) => r.id);
  const n = ids.length;
  const firstMean = p.columns.findIndex((c) => c.groupCell);
  const firstCol = LEAD_WIDTHS.length + 1; // grid lines are 1-based
  return (
    <div
      className="rt-row rt-group-row"
      role="row"
      aria-rowindex={p.rowIndex}
      style={{ ...p.gridStyle, transform: `translateY(${p.top}px)` }}
      data-group={g.key}
      data-count={n}
    >
      <div className="rt-cell rt-sticky" style={{ left: 0 }} role="cell">
        <input
          type="checkbox"
          aria-label={`select the runs of ${g.label}`}
          checked={n > 0 && p.nSelected === n}
          ref={(el) => {
            if (el) el.indeterminate = p.nSelected > 0 && p.nSelected < n;
          }}
          onChange={(e) => p.onSelectMany(ids, e.target.checked)}
        />
      </div>
      <div className="rt-cell rt-sticky rt-vis" style={{ left: LEAD_WIDTHS[0] }} role="cell">
        <span className="swatch" style={{ background: g.color }} aria-hidden="true" />
        <input
          type="checkbox"
          aria-label={`show the runs of ${g.label} in charts`}
          checked={p.nHidden < n}
          ref={(el) => {
            if (el) el.indeterminate = p.nHidden > 0 && p.nHidden < n;
          }}
          onChange={(e) => p.onSetHidden(ids, !e.target.checked)}
        />
      </div>
      <div
        className="rt-cell rt-sticky rt-group-label"
        style={{ left: NAME_LEFT, gridColumn: `${firstCol} / ${firstMean >= 0 ? firstMean + firstCol : -1}` }}
        role="cell"
      >
        <button
          type="button"
          className="ghost rt-group-toggle"
          aria-expanded={!p.collapsed}
          data-testid="group-toggle"
          onClick={() => p.onToggle(g.key)}
        >
          <span className="rt-chevron" aria-hidden="true">
            {p.collapsed ? "▸" : "▾"}
          </span>
          <span className="rt-group-name">{g.label}</span>
          <span className="rt-group-count" data-testid="group-count">
            {n} {n === 1 ? "run" : "runs"}
          </span>
        </button>
      </div>
      {p.columns.map((c, i) =>
        c.groupCell ? (
          <div key={c.id} role="cell" className="rt-cell num" data-col={c.id} style={{ gridColumn: `${i + firstCol}` }}>
            {c.groupCell(p.runs)}
          </div>
        ) : null,
      )}
    </div>
  );
});
