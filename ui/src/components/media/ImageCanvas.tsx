// One image with its overlays on a canvas: the image, then each shown mask layer (coloured by
// class, see maskToRgba), then each shown box layer (outlines in the class colour, with labels).
// Used at every size: panel cells, the zoomed view and table thumbnails.
//
// Test hooks on the canvas: data-testid (default "media-canvas"), data-state
// (loading|drawn|error), data-scale (canvas pixels per image pixel), data-width/data-height
// (the image's), data-boxes (boxes drawn), data-masks (mask layers drawn).
import { useEffect, useLayoutEffect, useRef, useState } from "react";
import {
  classColor,
  className,
  fitSize,
  layerId,
  maskToRgba,
  shownClasses,
  visibleBoxes,
  type ImageDescriptor,
  type OverlayState,
} from "../../lib/overlay";
import { formatNumber } from "../../lib/format";
import { errorText } from "../../lib/data";
import { loadImage, loadMask, rgbaCanvas } from "./bitmaps";

interface Props {
  project: string;
  image: ImageDescriptor;
  overlay: OverlayState;
  maxWidth: number;
  maxHeight: number;
  /** draw small images larger than their size (default true) */
  upscale?: boolean;
  onClick?: () => void;
  testId?: string;
  label?: string;
}

interface Loaded {
  bitmap: ImageBitmap;
  masks: Record<string, ImageData>;
}

export function ImageCanvas(props: Props) {
  const { project, image, overlay, maxWidth, maxHeight, upscale = true } = props;
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const fit = fitSize(image.width, image.height, maxWidth, maxHeight, upscale);
  const dpr = typeof window !== "undefined" ? window.devicePixelRatio || 1 : 1;
  const backingW = Math.max(1, Math.round(fit.width * dpr));
  const backingH = Math.max(1, Math.round(fit.height * dpr));
  const [loaded, setLoaded] = useState<Loaded | null>(null);
  const [error, setError] = useState<string>();
  const [drawn, setDrawn] = useState({ boxes: 0, masks: 0 });

  // Decode the image (at the canvas size when smaller than the image) and its masks.
  const shrink = image.width > backingW || image.height > backingH;
  const maskW = shrink ? backingW : image.width || backingW;
  const maskH = shrink ? backingH : image.height || backingH;
  const maskShas = Object.entries(image.masks)
    .map(([n, m]) => `${n}=${m.sha256}`)
    .join("|");
  useEffect(() => {
    let live = true;
    setError(undefined);
    const masks = Object.entries(image.masks);
    Promise.all([
      shrink ? loadImage(project, image.sha256, backingW, backingH) : loadImage(project, image.sha256),
      Promise.all(masks.map(([, m]) => loadMask(project, m.sha256, maskW, maskH).catch(() => null))),
    ])
      .then(([bitmap, decoded]) => {
        if (!live) return;
        const out: Record<string, ImageData> = {};
        masks.forEach(([name], i) => {
          const d = decoded[i];
          if (d) out[name] = d;
        });
        setLoaded({ bitmap, masks: out });
      })
      .catch((err: unknown) => {
        if (live) {
          setLoaded(null);
          setError(errorText(err));
        }
      });
    return () => {
      live = false;
    };
    // maskShas stands for image.masks
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [project, image.sha256, maskShas, shrink, backingW, backingH, maskW, maskH]);

  // Draw whenever the overlay settings or the size change (before the browser paints, so a
  // canvas marked "drawn" holds the drawing).
  useLayoutEffect(() => {
    const canvas = canvasRef.current;
    if (!canvas || !loaded) return;
    const ctx = canvas.getContext("2d", { willReadFrequently: true });
    if (!ctx) return;
    ctx.clearRect(0, 0, backingW, backingH);
    const sx = backingW / (image.width || backingW);
    const sy = backingH / (image.height || backingH);
    ctx.imageSmoothingEnabled = sx < 1;
    ctx.drawImage(loaded.bitmap, 0, 0, backingW, backingH);
    let masks = 0;
    for (const [name, data] of Object.entries(loaded.masks)) {
      const mask = image.masks[name];
      if (!mask || overlay.hiddenLayers.has(layerId("mask", name)) || overlay.opacity <= 0) continue;
      const rgba = maskToRgba(data.data, mask.encoding, shownClasses(overlay, "mask", name), overlay.opacity, classColor);
      ctx.imageSmoothingEnabled = false;
      ctx.drawImage(rgbaCanvas(rgba, data.width, data.height), 0, 0, backingW, backingH);
      masks++;
    }
    let boxes = 0;
    const line = Math.max(2, Math.round(2 * dpr));
    const font = Math.max(10, Math.round(11 * dpr));
    ctx.font = `${font}px system-ui, sans-serif`;
    ctx.textBaseline = "top";
    for (const [name, layer] of Object.entries(image.boxes)) {
      if (overlay.hiddenLayers.has(layerId("box", name))) continue;
      for (const i of visibleBoxes(layer, shownClasses(overlay, "box", name), overlay.thresholds)) {
        const box = layer.boxes[i];
        if (!box) continue;
        const [r, g, b] = classColor(box.classId);
        const x0 = Math.round(box.rect[0] * sx);
        const y0 = Math.round(box.rect[1] * sy);
        const x1 = Math.max(x0 + line, Math.round(box.rect[2] * sx));
        const y1 = Math.max(y0 + line, Math.round(box.rect[3] * sy));
        ctx.strokeStyle = `rgb(${r},${g},${b})`;
        ctx.lineWidth = line;
        // inside the box's edges, on whole pixels: the edge pixels are exactly the class colour
        ctx.strokeRect(x0 + line / 2, y0 + line / 2, x1 - x0 - line, y1 - y0 - line);
        boxes++;
        if (overlay.captions && backingW >= 120) {
          const score = Object.entries(box.scores)[0];
          const label =
            box.caption ??
            `${className(box.classId, layer.labels, image.classes)}${score ? ` ${formatNumber(score[1], 2)}` : ""}`;
          const w = Math.min(ctx.measureText(label).width + 6, backingW - x0);
          const h = font + 4;
          const ty = y0 - h >= 0 ? y0 - h : y0 + line;
          ctx.fillStyle = `rgb(${r},${g},${b})`;
          ctx.fillRect(x0, ty, w, h);
          ctx.fillStyle = r * 0.299 + g * 0.587 + b * 0.114 > 150 ? "#000" : "#fff";
          ctx.fillText(label, x0 + 3, ty + 2, w - 6);
        }
      }
    }
    setDrawn((d) => (d.boxes === boxes && d.masks === masks ? d : { boxes, masks }));
  }, [loaded, overlay, image, backingW, backingH, dpr]);

  const state = error ? "error" : loaded ? "drawn" : "loading";
  return (
    <div className="media-image" style={{ width: fit.width }}>
      <canvas
        ref={canvasRef}
        width={backingW}
        height={backingH}
        style={{ width: fit.width, height: fit.height, cursor: props.onClick ? "zoom-in" : undefined }}
        className="media-canvas"
        data-testid={props.testId ?? "media-canvas"}
        data-state={state}
        data-scale={backingW / (image.width || backingW)}
        data-width={image.width}
        data-height={image.height}
        data-boxes={drawn.boxes}
        data-masks={drawn.masks}
        onClick={props.onClick}
        role={props.onClick ? "button" : "img"}
        tabIndex={props.onClick ? 0 : undefined}
        onKeyDown={(e) => {
          if (props.onClick && (e.key === "Enter" || e.key === " ")) {
            e.preventDefault();
            props.onClick();
          }
        }}
        aria-label={props.label ?? image.caption ?? "image"}
      />
      {error && (
        <div className="media-note error-text" data-testid="media-error">
          {error}
        </div>
      )}
      {overlay.captions && image.caption && (
        <div className="media-caption" data-testid="media-caption" title={image.caption}>
          {image.caption}
        </div>
      )}
    </div>
  );
}
