// The panel of one image key of one run: a step slider (or "latest"), the images of that step in
// a grid (a gallery key logs several per step), overlay controls shared by them, and a zoomed
// view of one image on click. Loads when scrolled near; a live run's latest step refreshes.
//
// Test hooks: data-testid="media-panel" with data-key, data-kind, data-step (shown) and
// data-state (loading|ready|error|empty); cells carry data-testid="media-cell"; notes
// data-testid="media-note" with data-state (missing|pending|unreadable).
import { useMemo, useRef } from "react";
import { overlayInfo, type OverlayState } from "../../lib/overlay";
import { decodeList, encodeList, useQueryParam } from "../../lib/url";
import { getMedia } from "./api";
import { useAsync, useEvery, useSeen, useWidth } from "./hooks";
import { ImageCanvas } from "./ImageCanvas";
import { cellsOf, imagesIn, warningsOf, type Cell } from "./items";
import { OverlayControls } from "./OverlayControls";
import { useOverlayParam, useStepParam } from "./state";
import { StepSlider } from "./StepSlider";
import { ZoomModal } from "./ZoomModal";

export const CELL_SIZE = 256;

/** One cell: an image drawn with the overlays, or the note saying why there is none. */
export function MediaCell(props: {
  project: string;
  cell: Cell;
  overlay: OverlayState;
  size: number;
  onZoom?: () => void;
}) {
  const { cell } = props;
  if (cell.kind === "note") {
    return (
      <div className="media-cell media-note" data-testid="media-note" data-state={cell.state} style={{ width: props.size }}>
        {cell.text}
      </div>
    );
  }
  return (
    <div className="media-cell" data-testid="media-cell">
      <ImageCanvas
        project={props.project}
        image={cell.image}
        overlay={props.overlay}
        maxWidth={props.size}
        maxHeight={props.size}
        onClick={props.onZoom}
      />
    </div>
  );
}

/** The zoom parameter: key, run and cell index, as one URL list. */
export function useZoom(key: string, run: string): [number | undefined, (index: number | undefined) => void] {
  const [raw, set] = useQueryParam("zoom", "");
  const [k, r, i] = decodeList(raw);
  const index = k === key && r === run && i !== undefined && /^\d+$/.test(i) ? Number(i) : undefined;
  const setIndex = (next: number | undefined) =>
    set(next === undefined ? undefined : encodeList([key, run, String(next)]), next !== undefined && index === undefined);
  return [index, setIndex];
}

export function ZoomedCell(props: {
  project: string;
  title: string;
  cells: Cell[];
  index: number;
  overlay: OverlayState;
  setOverlay: (s: OverlayState) => void;
  setIndex: (i: number | undefined) => void;
}) {
  const { cells, index } = props;
  const cell = cells[index];
  const info = useMemo(() => overlayInfo(cell?.kind === "image" ? [cell.image] : []), [cell]);
  if (!cell) return null;
  const w = typeof window !== "undefined" ? window.innerWidth : 1200;
  const h = typeof window !== "undefined" ? window.innerHeight : 800;
  return (
    <ZoomModal
      title={props.title}
      position={`${index + 1} of ${cells.length}`}
      onClose={() => props.setIndex(undefined)}
      onPrev={index > 0 ? () => props.setIndex(index - 1) : undefined}
      onNext={index < cells.length - 1 ? () => props.setIndex(index + 1) : undefined}
    >
      <OverlayControls info={info} state={props.overlay} onChange={props.setOverlay} />
      <div className="media-zoom-body">
        {cell.kind === "image" ? (
          <ImageCanvas
            project={props.project}
            image={cell.image}
            overlay={props.overlay}
            maxWidth={Math.max(200, w * 0.9 - 40)}
            maxHeight={Math.max(200, h * 0.9 - 160)}
            testId="media-zoom-canvas"
          />
        ) : (
          <div className="media-note" data-testid="media-note" data-state={cell.state}>
            {cell.text}
          </div>
        )}
      </div>
    </ZoomModal>
  );
}

export function ImagePanel(props: { project: string; runId: string; mediaKey: string; kind: string; live: boolean }) {
  const { project, runId, mediaKey } = props;
  const ref = useRef<HTMLElement>(null);
  const bodyRef = useRef<HTMLDivElement>(null);
  const seen = useSeen(ref);
  const width = useWidth(bodyRef);
  const [step, setStep] = useStepParam(mediaKey);
  const [overlay, setOverlay] = useOverlayParam(mediaKey);
  const [zoom, setZoom] = useZoom(mediaKey, runId);
  const media = useAsync(seen ? `${project}\n${runId}\n${mediaKey}\n${step ?? ""}` : null, (signal) =>
    getMedia(project, runId, mediaKey, step, signal),
  );
  const cells = useMemo(() => (media.error ? [] : cellsOf(media.data?.items ?? [])), [media.data, media.error]);
  const info = useMemo(() => overlayInfo(imagesIn(cells)), [cells]);
  const warnings = useMemo(() => warningsOf(media.data?.items ?? []), [media.data]);
  const pending = cells.some((c) => c.kind === "note" && c.state === "pending");
  useEvery(seen && (pending || (props.live && step === undefined)), pending ? 2000 : 5000, media.reload);
  const size = Math.max(96, Math.min(cells.length <= 1 ? 512 : CELL_SIZE, (width || CELL_SIZE) - 4));

  const state = media.error ? "error" : !media.data ? "loading" : cells.length ? "ready" : "empty";
  return (
    <section
      ref={ref}
      className="card media-panel"
      data-testid="media-panel"
      data-key={mediaKey}
      data-kind={props.kind}
      data-state={state}
      data-step={media.data?.step ?? ""}
    >
      <header className="media-head">
        <h3 className="media-title" title={mediaKey}>
          {mediaKey}
        </h3>
        {media.data && <StepSlider steps={media.data.steps} value={step} onChange={setStep} />}
      </header>
      {media.data && <OverlayControls info={info} state={overlay} onChange={setOverlay} />}
      <div className="media-grid" ref={bodyRef}>
        {media.error && <div className="error">{media.error}</div>}
        {!media.data && !media.error && <div className="muted">Loading…</div>}
        {state === "empty" && <div className="muted">No image at this step.</div>}
        {/* drawn once the width is known, so large images are decoded once, at their size */}
        {width > 0 &&
          cells.map((cell, i) => (
            <MediaCell key={i} project={project} cell={cell} overlay={overlay} size={size} onZoom={() => setZoom(i)} />
          ))}
      </div>
      {warnings.length > 0 && <Warnings warnings={warnings} />}
      {zoom !== undefined && media.data && (
        <ZoomedCell
          project={project}
          title={`${mediaKey} · step ${media.data.step ?? ""}`}
          cells={cells}
          index={zoom}
          overlay={overlay}
          setOverlay={setOverlay}
          setIndex={setZoom}
        />
      )}
    </section>
  );
}

/** What the SDK changed or dropped when it encoded the values (shown as text). */
export function Warnings({ warnings }: { warnings: string[] }) {
  return (
    <details className="media-warnings" data-testid="media-warnings">
      <summary>
        {warnings.length} warning{warnings.length === 1 ? "" : "s"} from the SDK
      </summary>
      <ul>
        {warnings.map((w, i) => (
          <li key={i}>{w}</li>
        ))}
      </ul>
    </details>
  );
}
