// The runs table: filter, quick search, grouping, chosen config/summary columns, server-side
// sort, row selection with chart visibility actions, and a virtual list (10k runs stay smooth).
// View settings live in the URL: filter, q, order, group, cols (hide is kept by Workspace).
import { useVirtualizer } from "@tanstack/react-virtual";
import { useCallback, useLayoutEffect, useMemo, useRef, useState, type CSSProperties, type Key } from "react";
import type { Catalogue, RunRead } from "../api/client";
import type { RunGroup } from "../lib/types";
import { encodeList, hrefFor, navigate, useQueryParam } from "../lib/url";
import "./RunsTable.css";
import { ColumnPicker } from "./RunsTableColumnPicker";
import { encodeColumns, nextOrder, parseColumns, sortDirection, splitColumnId, tableItems, toggleColumn } from "./RunsTableModel";
import {
  buildColumns,
  GroupRow,
  HEADER_HEIGHT,
  LEAD_WIDTHS,
  LightRow,
  literalColumns,
  ROW_HEIGHT,
  RunRow,
} from "./RunsTableRows";
import { FilterInput, GroupSelect, QuickSearch } from "./RunsTableToolbar";

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

const rowHeight = () => ROW_HEIGHT;

/** Must match Workspace's fallback so that choosing the default clears the parameter. */
const DEFAULT_ORDER = "-created_at";

export function RunsTable(props: RunsTableProps) {
  const { project, runs, colors, hidden, onSetHidden, catalogue, groups } = props;
  const [filter, setFilter] = useQueryParam("filter");
  const [q, setQ] = useQueryParam("q");
  const [order, setOrder] = useQueryParam("order", DEFAULT_ORDER);
  const [group, setGroup] = useQueryParam("group");
  const [colsParam, setColsParam] = useQueryParam("cols");
  const [pickerOpen, setPickerOpen] = useState(false);
  const [collapsed, setCollapsed] = useState<Set<string>>(() => new Set());
  const [selectedRaw, setSelected] = useState<Set<string>>(() => new Set());
  const lastClicked = useRef<string | null>(null);
  const scrollRef = useRef<HTMLDivElement>(null);
  const columnsButton = useRef<HTMLButtonElement>(null);

  const chosen = useMemo(() => parseColumns(colsParam, catalogue), [colsParam, catalogue]);
  const setChosen = useCallback((ids: string[]) => setColsParam(encodeColumns(ids)), [setColsParam]);
  // Columns (and so every row) only change when the chosen columns do, not per live update.
  const literalSig = useMemo(() => literalColumns(chosen, runs).join("\u0000"), [chosen, runs]);
  const columns = useMemo(
    () => buildColumns(project, chosen, literalSig ? literalSig.split("\u0000") : []),
    [project, chosen, literalSig],
  );
  const gridStyle: CSSProperties = useMemo(() => {
    const widths = [...LEAD_WIDTHS, ...columns.map((c) => c.width)];
    return {
      gridTemplateColumns: widths.map((w) => `${w}px`).join(" "),
      width: widths.reduce((a, b) => a + b, 0),
      height: ROW_HEIGHT,
    };
  }, [columns]);

  // Selection only ever covers runs that are on screen (filters drop the rest).
  const runIds = useMemo(() => runs.map((r) => r.id), [runs]);
  const selected = useMemo(() => {
    const present = new Set(runIds);
    const s = new Set<string>();
    for (const id of selectedRaw) if (present.has(id)) s.add(id);
    return s;
  }, [selectedRaw, runIds]);
  const nHidden = useMemo(() => runIds.filter((id) => hidden.has(id)).length, [runIds, hidden]);

  const items = useMemo(() => tableItems(runs, groups, collapsed), [runs, groups, collapsed]);
  const runOrder = useMemo(() => items.flatMap((it) => (it.kind === "run" ? [it.run.id] : [])), [items]);
  const runOrderRef = useRef(runOrder);
  runOrderRef.current = runOrder;
  const selectedIds = useMemo(() => runOrder.filter((id) => selected.has(id)), [runOrder, selected]);

  const toggleRun = useCallback((id: string, on: boolean, range: boolean) => {
    const order = runOrderRef.current;
    const from = lastClicked.current;
    lastClicked.current = id;
    setSelected((prev) => {
      const next = new Set(prev);
      const a = from ? order.indexOf(from) : -1;
      const b = order.indexOf(id);
      const ids = range && a >= 0 && b >= 0 ? order.slice(Math.min(a, b), Math.max(a, b) + 1) : [id];
      for (const rid of ids) {
        if (on) next.add(rid);
        else next.delete(rid);
      }
      return next;
    });
  }, []);
  const selectMany = useCallback((ids: string[], on: boolean) => {
    setSelected((prev) => {
      const next = new Set(prev);
      for (const id of ids) {
        if (on) next.add(id);
        else next.delete(id);
      }
      return next;
    });
  }, []);
  const toggleGroup = useCallback((key: string) => {
    setCollapsed((prev) => {
      const next = new Set(prev);
      if (next.has(key)) next.delete(key);
      else next.add(key);
      return next;
    });
  }, []);

  // Stable callbacks: the virtualizer rebuilds its 10k measurements when these change.
  const getItemKey = useCallback(
    (i: number) => {
      const it = items[i];
      if (!it) return i;
      return it.kind === "group" ? `group:${it.group.key}` : `run:${it.run.id}`;
    },
    [items],
  );
  const getScrollElement = useCallback(() => scrollRef.current, []);
  const virtualizer = useVirtualizer({
    count: items.length,
    getScrollElement,
    estimateSize: rowHeight,
    overscan: 10,
    scrollMargin: HEADER_HEIGHT,
    getItemKey,
  });

  // A fast fling or a scrollbar drag brings a whole screen of new rows every frame: those are
  // drawn as light rows (name only) until scrolling stops; rows already drawn in full stay so.
  const offset = virtualizer.scrollOffset ?? 0;
  const lastOffset = useRef(offset);
  const fullKeys = useRef<Set<Key>>(new Set());
  const viewport = scrollRef.current?.clientHeight ?? 600;
  const fast = virtualizer.isScrolling && Math.abs(offset - lastOffset.current) > viewport / 3;
  const virtualItems = virtualizer.getVirtualItems();
  const drawnFull = new Set<Key>();
  for (const v of virtualItems) if (!fast || fullKeys.current.has(v.key)) drawnFull.add(v.key);
  useLayoutEffect(() => {
    lastOffset.current = offset;
    fullKeys.current = drawnFull;
  });

  // After a failed request the last total would be stale: nothing matches a broken filter.
  const total = props.error ? 0 : props.total;

  const showOnlySelected = () => {
    // Two updates back to back: Workspace reads the URL each time, so they compose.
    onSetHidden(selectedIds.filter((id) => hidden.has(id)), false);
    onSetHidden(runIds.filter((id) => !selected.has(id) && !hidden.has(id)), true);
  };

  return (
    <section className="runs-panel rt" data-testid="runs-table" aria-label="Runs">
      <div className="rt-toolbar">
        <FilterInput value={filter} error={props.error} onApply={(text) => setFilter(text, true)} />
        <div className="rt-toolbar-row">
          <QuickSearch value={q} onChange={setQ} />
          <GroupSelect value={group} catalogue={catalogue} onChange={(key) => setGroup(key, true)} />
          <div className="rt-columns">
            <button
              ref={columnsButton}
              type="button"
              className="rt-columns-button"
              aria-expanded={pickerOpen}
              aria-haspopup="dialog"
              data-testid="columns-button"
              onClick={() => setPickerOpen((o) => !o)}
            >
              Columns ({chosen.length})
            </button>
            {pickerOpen && (
              <ColumnPicker
                catalogue={catalogue}
                chosen={chosen}
                onToggle={(id, on) => setChosen(toggleColumn(chosen, id, on))}
                onReset={() => setColsParam(undefined)}
                onClose={(refocus) => {
                  setPickerOpen(false);
                  if (refocus) columnsButton.current?.focus();
                }}
              />
            )}
          </div>
        </div>
        <div className="rt-toolbar-row rt-actions" aria-label="Selection actions">
          <span className="rt-count" data-testid="runs-count" data-shown={runs.length} data-total={total}>
            {runs.length} of {total} runs
            {props.loading && runs.length > 0 && <span className="rt-muted"> (loading…)</span>}
          </span>
          {nHidden > 0 && (
            <span className="rt-muted" data-testid="hidden-count">
              · {nHidden} hidden from charts
            </span>
          )}
          <span className="spacer" />
          {/* Selection actions appear with a selection; "Show all" once something is hidden. */}
          <span className="rt-buttons">
            {selected.size > 0 && (
              <>
                <span className="rt-selected" data-testid="selected-count">
                  {selected.size} selected
                </span>
                <button
                  type="button"
                  onClick={showOnlySelected}
                  data-testid="show-only-selected"
                  title="Draw only the selected runs in the charts"
                >
                  Show only
                </button>
                <button
                  type="button"
                  onClick={() => onSetHidden(selectedIds, true)}
                  data-testid="hide-selected"
                  title="Hide the selected runs from the charts"
                >
                  Hide
                </button>
              </>
            )}
            {hidden.size > 0 && (
              <button
                type="button"
                onClick={() => onSetHidden([...hidden], false)}
                data-testid="show-all"
                title="Draw every run in the charts"
              >
                Show all
              </button>
            )}
            {selected.size > 0 && (
              <>
                <button
                  type="button"
                  className="primary"
                  disabled={selected.size < 2}
                  onClick={() => navigate(hrefFor({ name: "compare", project }, { runs: encodeList(selectedIds) }))}
                  data-testid="compare-selected"
                  title={selected.size < 2 ? "Select two or more runs to compare" : "Compare the selected runs"}
                >
                  Compare
                </button>
                <button
                  type="button"
                  className="ghost"
                  onClick={() => setSelected(new Set())}
                  aria-label="Clear the selection"
                  title="Clear the selection"
                >
                  ✕
                </button>
              </>
            )}
          </span>
        </div>
      </div>

      {/* The scroll box is absolutely placed in a wrapper so that it can be a layout boundary:
          rows changing while scrolling then never lay out the rest of the page. */}
      <div className="rt-scroll-wrap">
        <div
          ref={scrollRef}
          className="rt-scroll"
          data-testid="runs-scroll"
          role="table"
          aria-rowcount={items.length + 1}
          aria-label="Runs"
        >
          <div className="rt-row rt-head" role="row" style={{ ...gridStyle, height: HEADER_HEIGHT }}>
            <div className="rt-cell rt-sticky" style={{ left: 0 }} role="columnheader">
              <input
                type="checkbox"
                aria-label="select all runs"
                data-testid="select-all"
                checked={runs.length > 0 && selected.size === runs.length}
                ref={(el) => {
                  if (el) el.indeterminate = selected.size > 0 && selected.size < runs.length;
                }}
                onChange={(e) => setSelected(e.target.checked ? new Set(runIds) : new Set())}
              />
            </div>
            <div className="rt-cell rt-sticky" style={{ left: LEAD_WIDTHS[0] }} role="columnheader" title="Colour; shown in charts">
              <span className="rt-muted">Vis</span>
            </div>
            {columns.map((c) => {
              const dir = c.sortField ? sortDirection(order, c.sortField) : undefined;
              return (
                <div
                  key={c.id}
                  role="columnheader"
                  aria-sort={dir === "asc" ? "ascending" : dir === "desc" ? "descending" : undefined}
                  className={`rt-cell${c.num ? " num" : ""}${c.sticky !== undefined ? " rt-sticky" : ""}`}
                  style={c.sticky !== undefined ? { left: c.sticky } : undefined}
                  data-col={c.id}
                  data-sort={dir}
                  title={c.title}
                >
                  {c.sortField ? (
                    <button
                      type="button"
                      className="rt-sort"
                      data-testid={`sort-${c.id}`}
                      onClick={() => setOrder(nextOrder(order, c.sortField as string), true)}
                      title={`Sort by ${c.title}${dir === "asc" ? " (descending next)" : ""}`}
                    >
                      <span className="rt-label">{c.label}</span>
                      <span className="rt-arrow" aria-hidden="true">
                        {dir === "asc" ? "▲" : dir === "desc" ? "▼" : ""}
                      </span>
                    </button>
                  ) : (
                    <span className="rt-label">{c.label}</span>
                  )}
                  {splitColumnId(c.id) && (
                    <button
                      type="button"
                      className="ghost rt-remove"
                      aria-label={`remove column ${c.id}`}
                      title="Remove this column"
                      onClick={() => setChosen(toggleColumn(chosen, c.id, false))}
                    >
                      ✕
                    </button>
                  )}
                </div>
              );
            })}
          </div>

          <div className="rt-body" style={{ height: virtualizer.getTotalSize(), width: gridStyle.width }} role="rowgroup">
            {virtualItems.map((v) => {
              const it = items[v.index];
              if (!it) return null;
              const top = v.start - HEADER_HEIGHT;
              if (it.kind === "group") {
                const ids = it.runs;
                return (
                  <GroupRow
                    key={v.key}
                    group={it.group}
                    runs={ids}
                    collapsed={it.collapsed}
                    columns={columns}
                    gridStyle={gridStyle}
                    top={top}
                    rowIndex={v.index + 2}
                    nSelected={ids.reduce((n, r) => n + (selected.has(r.id) ? 1 : 0), 0)}
                    nHidden={ids.reduce((n, r) => n + (hidden.has(r.id) ? 1 : 0), 0)}
                    onToggle={toggleGroup}
                    onSelectMany={selectMany}
                    onSetHidden={onSetHidden}
                  />
                );
              }
              if (!drawnFull.has(v.key))
                return (
                  <LightRow
                    key={v.key}
                    run={it.run}
                    gridStyle={gridStyle}
                    top={top}
                    rowIndex={v.index + 2}
                    color={colors.get(it.run.id) ?? "#888"}
                  />
                );
              return (
                <RunRow
                  key={v.key}
                  run={it.run}
                  columns={columns}
                  gridStyle={gridStyle}
                  top={top}
                  rowIndex={v.index + 2}
                  color={colors.get(it.run.id) ?? "#888"}
                  selected={selected.has(it.run.id)}
                  hidden={hidden.has(it.run.id)}
                  inGroup={it.group !== undefined}
                  onSelect={toggleRun}
                  onSetHidden={onSetHidden}
                />
              );
            })}
          </div>
          {items.length === 0 && (
            <div className="rt-empty" data-testid="runs-empty">
              {props.loading ? "Loading runs…" : props.error ? "No runs: the filter has an error." : "No runs match."}
            </div>
          )}
        </div>
      </div>
    </section>
  );
}
