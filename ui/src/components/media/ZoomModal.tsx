// The zoomed view: a modal over the page, closed with Escape, the close button or a click on
// the backdrop; ← and → move between the images of the panel.
import { useEffect, useRef, type ReactNode } from "react";

interface Props {
  title: string;
  position?: string;
  onClose: () => void;
  onPrev?: () => void;
  onNext?: () => void;
  children: ReactNode;
}

export function ZoomModal({ title, position, onClose, onPrev, onNext, children }: Props) {
  const ref = useRef<HTMLDivElement>(null);
  const keys = useRef({ onClose, onPrev, onNext });
  keys.current = { onClose, onPrev, onNext };
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape") keys.current.onClose();
      else if (e.key === "ArrowLeft" && !(e.target instanceof HTMLInputElement)) keys.current.onPrev?.();
      else if (e.key === "ArrowRight" && !(e.target instanceof HTMLInputElement)) keys.current.onNext?.();
    };
    window.addEventListener("keydown", onKey);
    ref.current?.focus();
    return () => window.removeEventListener("keydown", onKey);
  }, []);
  return (
    <div className="media-backdrop" onClick={(e) => e.target === e.currentTarget && onClose()}>
      <div className="media-zoom" role="dialog" aria-modal="true" aria-label={title} data-testid="media-zoom" ref={ref} tabIndex={-1}>
        <div className="media-zoom-head">
          <strong className="media-zoom-title">{title}</strong>
          {position && <span className="muted">{position}</span>}
          <span className="spacer" />
          <button type="button" className="small" onClick={onPrev} disabled={!onPrev} aria-label="Previous image">
            ‹
          </button>
          <button type="button" className="small" onClick={onNext} disabled={!onNext} aria-label="Next image">
            ›
          </button>
          <button type="button" className="small" onClick={onClose} data-testid="media-zoom-close" aria-label="Close">
            ✕
          </button>
        </div>
        {children}
      </div>
    </div>
  );
}
