// The workspace's Media section: one panel per image key, one column per shown run, all at the
// same step (a shared slider over every run's steps; a run without an image at that step shows
// its closest earlier one, marked). Overlay settings are shared by the columns of a key.
//
// Test hooks: data-testid="workspace-media" (data-keys), panels data-testid="media-compare"
// (data-key, data-step), columns data-testid="media-column" (data-run, data-step, data-state).
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { overlayInfo, type ImageDescriptor, type OverlayState } from "../../lib/overlay";
import type { ChartRun } from "../../lib/types";
import { useQueryParam } from "../../lib/url";
import { getMedia, getMediaKeys } from "./api";
import { useAsync, useEvery, useSeen, useWidth } from "./hooks";
import { MediaCell, useZoom, ZoomedCell } from "./ImagePanel";
import { cellsOf, imagesIn } from "./items";
import { OverlayControls } from "./OverlayControls";
import { stepIndex, unionSteps, useOverlayParam, useStepParam } from "./state";
import { StepSlider } from "./StepSlider";
import "./media.css";

const MAX_COLUMNS = 12;
/** Above this many shown runs the key list is asked for the whole project (shorter URL). */
const MAX_KEY_RUNS = 500;

function RunColumn(props: {
  project: string;
  run: ChartRun;
  mediaKey: string;
  step: number | undefined;
  size: number;
  overlay: OverlayState;
  setOverlay: (s: OverlayState) => void;
  seen: boolean;
  report: (run: string, steps: number[], images: ImageDescriptor[]) => void;
}) {
  const { project, run, mediaKey, step, report } = props;
  const media = useAsync(props.seen ? `${project}\n${run.id}\n${mediaKey}\n${step ?? ""}` : null, (signal) =>
    getMedia(project, run.id, mediaKey, step, signal),
  );
  const cells = useMemo(() => (media.error ? [] : cellsOf(media.data?.items ?? [])), [media.data, media.error]);
  const pending = cells.some((c) => c.kind === "note" && c.state === "pending");
  useEvery(props.seen && (pending || (run.state === "running" && step === undefined)), pending ? 2000 : 5000, media.reload);
  useEffect(() => {
    if (media.data) report(run.id, media.data.steps, imagesIn(cells));
  }, [media.data, cells, run.id, report]);
  const [zoom, setZoom] = useZoom(mediaKey, run.id);
  const shownStep = media.data?.step ?? null;
  const nearest = step !== undefined && shownStep !== null && shownStep !== step;
  const state = media.status === 404 ? "none" : media.error ? "error" : !media.data ? "loading" : "ready";
  return (
    <div className="media-column" data-testid="media-column" data-run={run.id} data-step={shownStep ?? ""} data-state={state}>
      <div className="media-column-head" title={run.id}>
        <span className="swatch" style={{ background: run.color }} />
        <span className="media-column-name">{run.name}</span>
      </div>
      {shownStep !== null && (
        <div className={nearest ? "media-column-step warn-text" : "media-column-step muted"}>
          step {shownStep}
          {nearest ? " (closest)" : ""}
        </div>
      )}
      {state === "none" && <div className="muted small-text">not logged by this run</div>}
      {state === "error" && <div className="error">{media.error}</div>}
      {state === "loading" && <div className="muted small-text">Loading…</div>}
      {cells.map((cell, i) => (
        <MediaCell key={i} project={project} cell={cell} overlay={props.overlay} size={props.size} onZoom={() => setZoom(i)} />
      ))}
      {zoom !== undefined && media.data && (
        <ZoomedCell
          project={project}
          title={`${mediaKey} · ${run.name} · step ${shownStep ?? ""}`}
          cells={cells}
          index={zoom}
          overlay={props.overlay}
          setOverlay={props.setOverlay}
          setIndex={setZoom}
        />
      )}
    </div>
  );
}

function KeyPanel({ project, mediaKey, runs }: { project: string; mediaKey: string; runs: ChartRun[] }) {
  const ref = useRef<HTMLElement>(null);
  const gridRef = useRef<HTMLDivElement>(null);
  const seen = useSeen(ref);
  const width = useWidth(gridRef);
  const [step, setStep] = useStepParam(mediaKey);
  const [overlay, setOverlay] = useOverlayParam(mediaKey);
  const [byRun, setByRun] = useState<Record<string, { steps: number[]; images: ImageDescriptor[] }>>({});
  const report = useCallback((run: string, steps: number[], images: ImageDescriptor[]) => {
    setByRun((prev) => {
      const old = prev[run];
      if (old && old.steps.length === steps.length && old.steps[old.steps.length - 1] === steps[steps.length - 1] && old.images === images)
        return prev;
      return { ...prev, [run]: { steps, images } };
    });
  }, []);
  const columns = useMemo(() => runs.slice(0, MAX_COLUMNS), [runs]);
  const steps = useMemo(() => unionSteps(columns.map((r) => byRun[r.id]?.steps ?? [])), [byRun, columns]);
  const info = useMemo(() => overlayInfo(columns.flatMap((r) => byRun[r.id]?.images ?? [])), [byRun, columns]);
  const gap = 8;
  const size = Math.max(96, Math.min(256, Math.floor(((width || 800) - gap * (columns.length - 1)) / Math.max(1, columns.length)) - 2));
  const shownStep = steps[stepIndex(steps, step)];
  return (
    <section ref={ref} className="card media-panel" data-testid="media-compare" data-key={mediaKey} data-step={shownStep ?? ""}>
      <header className="media-head">
        <h3 className="media-title" title={mediaKey}>
          {mediaKey}
        </h3>
        <StepSlider steps={steps} value={step} onChange={setStep} />
      </header>
      <OverlayControls info={info} state={overlay} onChange={setOverlay} />
      <div className="media-columns" ref={gridRef} style={{ gridTemplateColumns: `repeat(${columns.length}, ${size}px)`, gap }}>
        {columns.map((run) => (
          <RunColumn
            key={run.id}
            project={project}
            run={run}
            mediaKey={mediaKey}
            step={step === undefined ? undefined : shownStep}
            size={size}
            overlay={overlay}
            setOverlay={setOverlay}
            seen={seen && width > 0}
            report={report}
          />
        ))}
      </div>
      {runs.length > MAX_COLUMNS && (
        <p className="muted">
          Showing the first {MAX_COLUMNS} of {runs.length} runs; hide runs in the table to pick others.
        </p>
      )}
    </section>
  );
}

export function WorkspaceMedia({ project, runs }: { project: string; runs: ChartRun[] }) {
  const [collapsedRaw, setCollapsed] = useQueryParam("media", "");
  const collapsed = collapsedRaw === "0";
  const ids = useMemo(() => runs.map((r) => r.id), [runs]);
  const idKey = ids.length <= MAX_KEY_RUNS ? ids.join(",") : "*";
  const keys = useAsync(ids.length ? `${project}\n${idKey}` : null, (signal) =>
    getMediaKeys(project, ids.length <= MAX_KEY_RUNS ? ids : undefined, signal),
  );
  // running runs may log new keys
  useEvery(runs.some((r) => r.state === "running"), 15_000, keys.reload);
  const imageKeys = (keys.data ?? []).filter((k) => k.kind === "image" || k.kind === "images");
  const others = (keys.data ?? []).length - imageKeys.length;
  if (!keys.data || keys.data.length === 0 || runs.length === 0) return null;
  return (
    <section className="workspace-media" data-testid="workspace-media" data-keys={imageKeys.length}>
      <h3 className="section-head">
        <button
          type="button"
          className="ghost section-toggle"
          aria-expanded={!collapsed}
          onClick={() => setCollapsed(collapsed ? undefined : "0")}
          data-testid="section-toggle-media"
        >
          <span aria-hidden="true">{collapsed ? "▸" : "▾"}</span> Media <span className="section-count">({imageKeys.length})</span>
        </button>
      </h3>
      {!collapsed && (
        <>
          {imageKeys.map((k) => (
            <KeyPanel key={k.key} project={project} mediaKey={k.key} runs={runs} />
          ))}
          {others > 0 && (
            <p className="muted">
              {others} table and histogram key{others === 1 ? "" : "s"}: open a run's Media tab to see them (a table can be
              compared across two runs there).
            </p>
          )}
        </>
      )}
    </section>
  );
}
