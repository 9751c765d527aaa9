// A logged table, read a page at a time from the server (200k rows never come to the browser):
// sort by a header click, filter with an expression (evaluated by the server; its error shows
// under the box), group by a column (counts and means), page through, and compare the table
// with another run's, rows aligned by a key column.
//
// State in the URL, per key K: ms.K step, tf.K filter, ts.K sort (+col / -col), tg.K group,
// tp.K offset, tc.K compared run, tk.K key column, mo.K overlays of image cells, tz.K zoomed
// cell (run, row, column).
//
// Test hooks: data-testid="table-viewer" (data-key, data-total, data-rows-total, data-offset,
// data-state), table-filter, table-filter-error, table-row (data-index) with cells
// td[data-col], table-header (data-col, data-sort), table-group-select, table-groups (rows
// data-testid="table-group" with data-count), table-prev / table-next / table-range,
// compare-run / compare-key selects, compare-table with rows data-testid="compare-row"
// (data-key, data-matched) and cells td[data-col][data-side].
import { useEffect, useMemo, useRef, useState } from "react";
import { formatNumber } from "../../lib/format";
import { asImage, overlayInfo, type ImageDescriptor } from "../../lib/overlay";
import { decodeList, encodeList, setQuery, useQueryParam } from "../../lib/url";
import { getTable, type TableAnswer } from "./api";
import { prefetchBlobs } from "./bitmaps";
import { useAsync, useEvery, useSeen } from "./hooks";
import { ImageCanvas } from "./ImageCanvas";
import { OverlayControls } from "./OverlayControls";
import { useOverlayParam, useStepParam } from "./state";
import { StepSlider } from "./StepSlider";
import { cellText, TableCell } from "./TableCells";
import { andFilter, cellsDiffer, equalsFilter, inFilter, keyOf, nextSort, parseSort, rowsByKey } from "./tableQuery";
import { ZoomModal } from "./ZoomModal";

export const PAGE = 50;

export const FILTER_HELP =
  'Column names (`backticks` for names with spaces or dots), = != < <= > >= and ~ (substring), ' +
  '"bicycle" in ground_truth.classes (a mask or box layer of the image column; ' +
  "img.ground_truth.classes with several image columns), col in [1, 2], and / or / not, parentheses.";

export interface RunChoice {
  id: string;
  name: string;
}

function imagesOfRows(answer: TableAnswer | undefined): ImageDescriptor[] {
  const out: ImageDescriptor[] = [];
  if (!answer) return out;
  const cols = answer.columns.map((c, i) => [c, i] as const).filter(([c]) => {
    const t = answer.types[c];
    return t === "image" || t === "mixed" || t === undefined;
  });
  for (const row of answer.rows) {
    for (const [, i] of cols) {
      const v = row.cells[i];
      if (v !== null && typeof v === "object") {
        const img = asImage(v);
        if (img) out.push(img);
      }
    }
  }
  return out;
}

/** Start fetching a page's thumbnails and masks as soon as the page arrives, in batches,
 * instead of one request per canvas once the rows are laid out (small images only: a big
 * image is fetched on its own when its cell is drawn). */
function prefetchPage(project: string, answer: TableAnswer): TableAnswer {
  const shas: string[] = [];
  for (const img of imagesOfRows(answer)) {
    if (img.width * img.height > PREFETCH_PIXELS) continue;
    shas.push(img.sha256, ...Object.values(img.masks).map((m) => m.sha256));
  }
  prefetchBlobs(project, shas);
  return answer;
}
const PREFETCH_PIXELS = 256 * 256;

function useTableParams(key: string) {
  const [filter, setFilter] = useQueryParam(`tf.${key}`, "");
  const [sort] = useQueryParam(`ts.${key}`, "");
  const [group] = useQueryParam(`tg.${key}`, "");
  const [offsetRaw] = useQueryParam(`tp.${key}`, "");
  const [compareRun] = useQueryParam(`tc.${key}`, "");
  const [keyCol] = useQueryParam(`tk.${key}`, "");
  const offset = Math.max(0, Math.floor(Number(offsetRaw) || 0));
  const set = (changes: Record<string, string | undefined>, push = false) => {
    const q: Record<string, string | undefined> = {};
    for (const [k, v] of Object.entries(changes)) q[`${k}.${key}`] = v;
    setQuery(q, push);
  };
  return { filter, setFilter, sort, group, offset, compareRun, keyCol, set };
}

export function TableViewer(props: {
  project: string;
  runId: string;
  runName?: string;
  mediaKey: string;
  /** runs offered to compare with (the viewed run is left out) */
  runs: RunChoice[];
  live: boolean;
}) {
  const { project, runId, mediaKey } = props;
  const ref = useRef<HTMLElement>(null);
  const seen = useSeen(ref);
  const [step, setStep] = useStepParam(mediaKey);
  const [overlay, setOverlay] = useOverlayParam(mediaKey);
  const p = useTableParams(mediaKey);
  const [zoomRaw, setZoomRaw] = useQueryParam(`tz.${mediaKey}`, "");
  const sort = parseSort(p.sort);
  const comparing = p.compareRun !== "" && p.keyCol !== "";
  // Aligned rows read best in key order; a header click still sorts by any column.
  const sortCol = sort?.column ?? (comparing ? p.keyCol : "");
  const query = {
    key: mediaKey,
    step,
    filter: p.filter,
    sort: sortCol,
    desc: sort?.desc ?? false,
    offset: p.offset,
    limit: PAGE,
    group: comparing ? "" : p.group,
  };
  const table = useAsync(seen ? JSON.stringify([project, runId, query]) : null, (signal) =>
    getTable(project, runId, query, signal).then((answer) => prefetchPage(project, answer)),
  );
  useEvery(seen && props.live && step === undefined, 5000, table.reload);
  const lastAnswer = table.data;
  // After an error (a bad filter) the last answer's steps and columns stay; its rows do not.
  const answer = table.error ? undefined : lastAnswer;
  const columns = lastAnswer?.columns ?? [];
  const info = useMemo(() => overlayInfo(imagesOfRows(answer)), [answer]);

  // The filter box edits a draft; Enter (or Apply) sends it.
  const [draft, setDraft] = useState(p.filter);
  useEffect(() => setDraft(p.filter), [p.filter]);
  const apply = (text: string) => p.set({ tf: text.trim() || undefined, tp: undefined }, true);
  const filterError = table.error && table.status === 400 ? table.error : undefined;

  const last = answer ? Math.max(0, Math.floor((answer.total - 1) / PAGE) * PAGE) : 0;
  const goto = (offset: number) => p.set({ tp: offset > 0 ? String(offset) : undefined });
  const zoom = decodeList(zoomRaw);
  const state = table.error ? "error" : !answer ? "loading" : table.loading ? "updating" : "ready";

  return (
    <section
      ref={ref}
      className="card media-panel table-viewer"
      data-testid="table-viewer"
      data-key={mediaKey}
      data-state={state}
      data-total={answer?.total ?? ""}
      data-rows-total={answer?.rows_total ?? ""}
      data-offset={answer?.offset ?? ""}
    >
      <header className="media-head">
        <h3 className="media-title" title={mediaKey}>
          {mediaKey}
        </h3>
        {lastAnswer && <StepSlider steps={lastAnswer.steps} value={step} onChange={(s) => { setStep(s); goto(0); }} />}
      </header>
      <form
        className="table-filter"
        onSubmit={(e) => {
          e.preventDefault();
          apply(draft);
        }}
      >
        <input
          type="search"
          value={draft}
          onChange={(e) => setDraft(e.target.value)}
          placeholder='Filter rows, e.g. "bicycle" in ground_truth.classes and iou < 0.5'
          aria-label="Filter rows"
          title={FILTER_HELP}
          data-testid="table-filter"
          spellCheck={false}
        />
        <button type="submit">Apply</button>
        {p.filter && (
          <button type="button" onClick={() => apply("")} data-testid="table-filter-clear">
            Clear
          </button>
        )}
        <details className="filter-help">
          <summary>syntax</summary>
          <p>{FILTER_HELP}</p>
        </details>
      </form>
      {filterError && (
        <div className="error inline-block" data-testid="table-filter-error">
          {filterError}
        </div>
      )}
      {table.error && !filterError && <div className="error">{table.error}</div>}
      <div className="table-tools">
        <label className="check">
          group by
          <select
            value={comparing ? "" : p.group}
            disabled={comparing}
            onChange={(e) => p.set({ tg: e.target.value || undefined })}
            data-testid="table-group-select"
          >
            <option value="">(none)</option>
            {columns
              .filter((c) => lastAnswer?.types[c] !== "image" && lastAnswer?.types[c] !== "histogram")
              .map((c) => (
                <option key={c} value={c}>
                  {c}
                </option>
              ))}
          </select>
        </label>
        <CompareControls
          runs={props.runs.filter((r) => r.id !== runId)}
          columns={columns.filter((c) => lastAnswer?.types[c] !== "image" && lastAnswer?.types[c] !== "histogram")}
          run={p.compareRun}
          keyCol={p.keyCol}
          onChange={(run, keyCol) => p.set({ tc: run || undefined, tk: keyCol || undefined, tp: undefined })}
        />
        <span className="spacer" />
        {answer && (
          <Pager
            offset={answer.offset}
            shown={answer.rows.length}
            total={answer.total}
            rowsTotal={answer.rows_total}
            onFirst={() => goto(0)}
            onPrev={() => goto(Math.max(0, answer.offset - PAGE))}
            onNext={() => goto(Math.min(last, answer.offset + PAGE))}
            onLast={() => goto(last)}
          />
        )}
      </div>
      {info.layers.length > 0 && <OverlayControls info={info} state={overlay} onChange={setOverlay} />}
      {answer && answer.state !== "stored" && (
        <div className="media-note" data-testid="media-note" data-state={answer.state}>
          {answer.state === "missing"
            ? "table missing: the process ended before it was stored"
            : answer.state === "pending"
              ? "still being stored"
              : answer.error ?? answer.state}
        </div>
      )}
      {answer?.groups && !comparing && (
        <GroupsView
          answer={answer}
          group={p.group}
          onPick={(value) => {
            const f = equalsFilter(p.group, value);
            if (f) apply(andFilter(p.filter, f));
          }}
        />
      )}
      {answer && !comparing && (
        <RowsView
          project={project}
          answer={answer}
          sort={p.sort}
          onSort={(col) => p.set({ ts: nextSort(p.sort, col) || undefined, tp: undefined })}
          overlay={overlay}
          onZoom={(row, col) => setZoomRaw(encodeList([runId, String(row), String(col)]), true)}
        />
      )}
      {answer && comparing && (
        <CompareView
          project={project}
          a={{ id: runId, name: props.runName ?? runId }}
          b={props.runs.find((r) => r.id === p.compareRun) ?? { id: p.compareRun, name: p.compareRun }}
          mediaKey={mediaKey}
          step={step}
          answer={answer}
          keyCol={p.keyCol}
          sort={p.sort}
          onSort={(col) => p.set({ ts: nextSort(p.sort, col) || undefined, tp: undefined })}
          overlay={overlay}
          onZoom={(run, row, col) => setZoomRaw(encodeList([run, String(row), String(col)]), true)}
        />
      )}
      {zoom.length === 3 && (
        <ZoomedTableCell
          project={project}
          mediaKey={mediaKey}
          step={answer?.step ?? step}
          run={zoom[0] as string}
          row={Number(zoom[1])}
          col={Number(zoom[2])}
          overlay={overlay}
          setOverlay={setOverlay}
          onClose={() => setZoomRaw(undefined)}
        />
      )}
    </section>
  );
}

function Pager(props: {
  offset: number;
  shown: number;
  total: number;
  rowsTotal: number;
  onFirst: () => void;
  onPrev: () => void;
  onNext: () => void;
  onLast: () => void;
}) {
  const { offset, shown, total, rowsTotal } = props;
  const atEnd = offset + shown >= total;
  return (
    <span className="pager">
      <button type="button" className="small" onClick={props.onFirst} disabled={offset === 0} aria-label="First page">
        «
      </button>
      <button type="button" className="small" onClick={props.onPrev} disabled={offset === 0} data-testid="table-prev">
        ‹ prev
      </button>
      <span className="num" data-testid="table-range">
        {total === 0 ? "no rows" : `${formatNumber(offset + 1)}–${formatNumber(offset + shown)} of ${total.toLocaleString()}`}
        {rowsTotal !== total && <span className="muted"> (filtered from {rowsTotal.toLocaleString()})</span>}
      </span>
      <button type="button" className="small" onClick={props.onNext} disabled={atEnd} data-testid="table-next">
        next ›
      </button>
      <button type="button" className="small" onClick={props.onLast} disabled={atEnd} aria-label="Last page">
        »
      </button>
    </span>
  );
}

function SortHeader({ column, type, sort, onSort }: { column: string; type?: string; sort: string; onSort: (c: string) => void }) {
  const s = parseSort(sort);
  const dir = s && s.column === column ? (s.desc ? "desc" : "asc") : "";
  return (
    <th
      data-testid="table-header"
      data-col={column}
      data-sort={dir}
      aria-sort={dir === "asc" ? "ascending" : dir === "desc" ? "descending" : "none"}
    >
      <button type="button" className="ghost sort-button" onClick={() => onSort(column)} title={`Sort by ${column}`}>
        {column}
        <span className="sort-mark">{dir === "asc" ? " ▲" : dir === "desc" ? " ▼" : ""}</span>
      </button>
      {type && <span className="col-type muted">{type}</span>}
    </th>
  );
}

function RowsView(props: {
  project: string;
  answer: TableAnswer;
  sort: string;
  onSort: (col: string) => void;
  overlay: ReturnType<typeof useOverlayParam>[0];
  onZoom: (row: number, col: number) => void;
}) {
  const { answer } = props;
  if (answer.rows.length === 0) return <p className="muted">No rows{answer.rows_total ? " match the filter" : ""}.</p>;
  return (
    <div className="table-scroll">
      <table className="grid media-table">
        <thead>
          <tr>
            <th className="num">#</th>
            {answer.columns.map((c) => (
              <SortHeader key={c} column={c} type={answer.types[c]} sort={props.sort} onSort={props.onSort} />
            ))}
          </tr>
        </thead>
        <tbody>
          {answer.rows.map((row) => (
            <tr key={row.index} data-testid="table-row" data-index={row.index}>
              <td className="num muted">{row.index}</td>
              {answer.columns.map((c, i) => (
                <td key={c} data-col={c}>
                  <TableCell project={props.project} value={row.cells[i]} overlay={props.overlay} onZoom={() => props.onZoom(row.index, i)} />
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** Groups drawn at most (the server sends them largest first). */
const MAX_GROUPS = 200;

function GroupsView({ answer, group, onPick }: { answer: TableAnswer; group: string; onPick: (value: unknown) => void }) {
  const all = answer.groups ?? [];
  const groups = all.slice(0, MAX_GROUPS);
  const numeric = answer.columns.filter((c) => answer.types[c] === "number" && c !== group);
  return (
    <div className="table-scroll groups" data-testid="table-groups">
      <table className="grid media-table">
        <thead>
          <tr>
            <th>{group}</th>
            <th className="num">rows</th>
            {numeric.map((c) => (
              <th key={c} className="num">
                mean {c}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {groups.map((g, i) => (
            <tr key={i} data-testid="table-group" data-value={cellText(g.value)} data-count={g.count}>
              <td>
                <button type="button" className="ghost link-button" onClick={() => onPick(g.value)} title="Show only these rows">
                  {cellText(g.value)}
                </button>
              </td>
              <td className="num">{g.count.toLocaleString()}</td>
              {numeric.map((c) => {
                const m = g.means[c];
                return (
                  <td key={c} className="num" data-col={c}>
                    {m === null || m === undefined ? "" : formatNumber(m)}
                  </td>
                );
              })}
            </tr>
          ))}
        </tbody>
      </table>
      {all.length > groups.length && (
        <p className="muted small-text" data-testid="table-groups-more">
          {all.length.toLocaleString()} groups; the {MAX_GROUPS} largest are shown.
        </p>
      )}
    </div>
  );
}

function CompareControls(props: {
  runs: RunChoice[];
  columns: string[];
  run: string;
  keyCol: string;
  onChange: (run: string, keyCol: string) => void;
}) {
  const { runs, columns, run, keyCol } = props;
  const known = runs.some((r) => r.id === run);
  return (
    <span className="compare-controls">
      <label className="check">
        compare with
        <select value={run} onChange={(e) => props.onChange(e.target.value, keyCol || columns[0] || "")} data-testid="compare-run">
          <option value="">(no run)</option>
          {!known && run && <option value={run}>{run}</option>}
          {runs.map((r) => (
            <option key={r.id} value={r.id}>
              {r.name}
            </option>
          ))}
        </select>
      </label>
      {run && (
        <label className="check">
          rows matched by
          <select value={keyCol} onChange={(e) => props.onChange(run, e.target.value)} data-testid="compare-key">
            {!columns.includes(keyCol) && keyCol && <option value={keyCol}>{keyCol}</option>}
            {columns.map((c) => (
              <option key={c} value={c}>
                {c}
              </option>
            ))}
          </select>
        </label>
      )}
    </span>
  );
}

/** The page of run A, and for each of its rows the row of run B with the same key value
 * (found with one filtered query: ``key in [values of this page]``). */
function CompareView(props: {
  project: string;
  a: RunChoice;
  b: RunChoice;
  mediaKey: string;
  step: number | undefined;
  answer: TableAnswer;
  keyCol: string;
  sort: string;
  onSort: (col: string) => void;
  overlay: ReturnType<typeof useOverlayParam>[0];
  onZoom: (run: string, row: number, col: number) => void;
}) {
  const { answer, keyCol, project } = props;
  const at = answer.columns.indexOf(keyCol);
  const values = useMemo(() => answer.rows.map((r) => r.cells[at]), [answer, at]);
  const filter = at >= 0 ? inFilter(keyCol, values) : null;
  const q = { key: props.mediaKey, step: props.step, filter: filter ?? "", offset: 0, limit: Math.min(1000, Math.max(PAGE, values.length * 2)) };
  const other = useAsync(filter ? JSON.stringify([project, props.b.id, q]) : null, (signal) => getTable(project, props.b.id, q, signal));
  const byKey = useMemo(() => rowsByKey(other.data?.rows ?? [], other.data ? other.data.columns.indexOf(keyCol) : -1), [other.data, keyCol]);
  const bCols = other.data?.columns ?? [];
  const columns = [...answer.columns, ...bCols.filter((c) => !answer.columns.includes(c))].filter((c) => c !== keyCol);
  if (at < 0) return <div className="error">This table has no column {keyCol}.</div>;
  return (
    <div className="table-scroll">
      {other.error && <div className="error">{props.b.name}: {other.error}</div>}
      <table className="grid media-table compare-table" data-testid="compare-table" data-matched={other.data ? byKey.size : ""}>
        <thead>
          <tr>
            <SortHeader column={keyCol} sort={props.sort} onSort={props.onSort} />
            {columns.map((c) => (
              <th key={c} colSpan={2} className="compare-col">
                <button type="button" className="ghost sort-button" onClick={() => props.onSort(c)}>
                  {c}
                </button>
              </th>
            ))}
          </tr>
          <tr className="compare-runs-row">
            <th className="muted">
              step {answer.step ?? ""} / {other.data?.step ?? "…"}
            </th>
            {columns.map((c) => [
              <th key={`${c}-a`} className="side-a" title={props.a.id}>
                {props.a.name}
              </th>,
              <th key={`${c}-b`} className="side-b" title={props.b.id}>
                {props.b.name}
              </th>,
            ])}
          </tr>
        </thead>
        <tbody>
          {answer.rows.map((row) => {
            const key = row.cells[at];
            const match = byKey.get(keyOf(key));
            return (
              <tr key={row.index} data-testid="compare-row" data-key={cellText(key)} data-matched={match ? "true" : "false"}>
                <th className="diff-key">{cellText(key)}</th>
                {columns.map((c) => {
                  const ia = answer.columns.indexOf(c);
                  const ib = bCols.indexOf(c);
                  const va = ia >= 0 ? row.cells[ia] : undefined;
                  const vb = match && ib >= 0 ? match.cells[ib] : undefined;
                  const differs = match !== undefined && cellsDiffer(va ?? null, vb ?? null);
                  return [
                    <td key={`${c}-a`} data-col={c} data-side="a" className={differs ? "side-a differs" : "side-a"}>
                      {ia >= 0 ? (
                        <TableCell
                          project={project}
                          value={va}
                          overlay={props.overlay}
                          onZoom={() => props.onZoom(props.a.id, row.index, ia)}
                        />
                      ) : (
                        <span className="muted">—</span>
                      )}
                    </td>,
                    <td key={`${c}-b`} data-col={c} data-side="b" className={differs ? "side-b differs" : "side-b"}>
                      {match && ib >= 0 ? (
                        <TableCell project={project} value={vb} overlay={props.overlay} onZoom={() => props.onZoom(props.b.id, match.index, ib)} />
                      ) : (
                        <span className="muted" data-missing="true">{other.loading ? "…" : "—"}</span>
                      )}
                    </td>,
                  ];
                })}
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

/** One image cell, large: the row is read again with a filter-free one-row page. */
function ZoomedTableCell(props: {
  project: string;
  mediaKey: string;
  step: number | undefined;
  run: string;
  row: number;
  col: number;
  overlay: ReturnType<typeof useOverlayParam>[0];
  setOverlay: ReturnType<typeof useOverlayParam>[1];
  onClose: () => void;
}) {
  const { project, run, row, col } = props;
  // A row's index is its position in the unfiltered, unsorted table: offset = index.
  const q = { key: props.mediaKey, step: props.step, offset: Number.isFinite(row) ? row : 0, limit: 1 };
  const loaded = useAsync(JSON.stringify([project, run, q]), (signal) => getTable(project, run, q, signal));
  const cell = loaded.data?.rows[0]?.cells[col];
  const image = cell !== null && typeof cell === "object" ? asImage(cell) : null;
  const info = useMemo(() => overlayInfo(image ? [image] : []), [image]);
  const w = typeof window !== "undefined" ? window.innerWidth : 1200;
  const h = typeof window !== "undefined" ? window.innerHeight : 800;
  return (
    <ZoomModal title={`${props.mediaKey} · row ${row} · ${loaded.data?.columns[col] ?? ""}`} onClose={props.onClose}>
      {loaded.error && <div className="error">{loaded.error}</div>}
      {!loaded.data && !loaded.error && <div className="muted">Loading…</div>}
      {image && <OverlayControls info={info} state={props.overlay} onChange={props.setOverlay} />}
      <div className="media-zoom-body">
        {image ? (
          <ImageCanvas
            project={project}
            image={image}
            overlay={props.overlay}
            maxWidth={Math.max(200, w * 0.9 - 40)}
            maxHeight={Math.max(200, h * 0.9 - 160)}
            testId="media-zoom-canvas"
          />
        ) : (
          loaded.data && <div className="muted">{cellText(cell)}</div>
        )}
      </div>
    </ZoomModal>
  );
}
