// The overlay controls of a media panel: each mask and box layer on/off, each class of a layer
// on/off (with its colour and name), the mask opacity, a minimum per box score name, captions.
//
// Test hooks: data-testid layer-toggle / class-toggle (inputs with data-kind, data-layer and, for
// classes, data-class and data-color), mask-opacity, score-threshold (data-score),
// captions-toggle.
import { useState } from "react";
import {
  classColor,
  classKey,
  layerId,
  rgbHex,
  scoreRange,
  type LayerInfo,
  type OverlayInfo,
  type OverlayState,
} from "../../lib/overlay";
import { formatNumber } from "../../lib/format";

const CLASSES_SHOWN = 40;

interface Props {
  info: OverlayInfo;
  state: OverlayState;
  onChange: (next: OverlayState) => void;
}

function toggled(set: ReadonlySet<string>, key: string, on: boolean): Set<string> {
  const next = new Set(set);
  if (on) next.delete(key);
  else next.add(key);
  return next;
}

function LayerRow({ layer, state, onChange }: { layer: LayerInfo; state: OverlayState; onChange: Props["onChange"] }) {
  const [all, setAll] = useState(false);
  const id = layerId(layer.kind, layer.name);
  const on = !state.hiddenLayers.has(id);
  const classes = [...layer.classes.entries()];
  const shown = all ? classes : classes.slice(0, CLASSES_SHOWN);
  const setClasses = (visible: boolean) => {
    const next = new Set(state.hiddenClasses);
    for (const [cid] of classes) {
      const key = classKey(layer.kind, layer.name, cid);
      if (visible) next.delete(key);
      else next.add(key);
    }
    onChange({ ...state, hiddenClasses: next });
  };
  return (
    <div className={on ? "overlay-layer" : "overlay-layer off"} data-layer={layer.name} data-kind={layer.kind}>
      <label className="check layer-name">
        <input
          type="checkbox"
          checked={on}
          onChange={(e) => onChange({ ...state, hiddenLayers: toggled(state.hiddenLayers, id, e.target.checked) })}
          data-testid="layer-toggle"
          data-kind={layer.kind}
          data-layer={layer.name}
        />
        <span className="muted">{layer.kind === "mask" ? "mask" : "boxes"}</span> <strong>{layer.name}</strong>
      </label>
      {classes.length > 1 && (
        <span className="overlay-all">
          <button type="button" className="small ghost" onClick={() => setClasses(true)} disabled={!on}>
            all
          </button>
          <button type="button" className="small ghost" onClick={() => setClasses(false)} disabled={!on}>
            none
          </button>
        </span>
      )}
      <span className="overlay-classes">
        {shown.map(([cid, name]) => {
          const key = classKey(layer.kind, layer.name, cid);
          const color = rgbHex(classColor(cid));
          return (
            <label key={cid} className="check class-chip" title={`class id ${cid}`}>
              <input
                type="checkbox"
                checked={!state.hiddenClasses.has(key)}
                disabled={!on}
                onChange={(e) => onChange({ ...state, hiddenClasses: toggled(state.hiddenClasses, key, e.target.checked) })}
                data-testid="class-toggle"
                data-kind={layer.kind}
                data-layer={layer.name}
                data-class={cid}
                data-color={color}
              />
              <span className="swatch" style={{ background: color }} />
              <span className="class-name">{name}</span>
            </label>
          );
        })}
        {classes.length > CLASSES_SHOWN && (
          <button type="button" className="small ghost" onClick={() => setAll((v) => !v)}>
            {all ? "fewer" : `+${classes.length - CLASSES_SHOWN} more`}
          </button>
        )}
      </span>
    </div>
  );
}

export function OverlayControls({ info, state, onChange }: Props) {
  const hasMasks = info.layers.some((l) => l.kind === "mask");
  const hasBoxes = info.layers.some((l) => l.kind === "box");
  if (info.layers.length === 0 && !info.captions) return null;
  return (
    <div className="overlay-controls" data-testid="overlay-controls">
      {info.layers.map((layer) => (
        <LayerRow key={layerId(layer.kind, layer.name)} layer={layer} state={state} onChange={onChange} />
      ))}
      <div className="overlay-sliders">
        {hasMasks && (
          <label className="check">
            mask opacity
            <input
              type="range"
              min={0}
              max={1}
              step={0.05}
              value={state.opacity}
              onChange={(e) => onChange({ ...state, opacity: Number(e.target.value) })}
              data-testid="mask-opacity"
              aria-label="Mask opacity"
            />
            <span className="num">{Math.round(state.opacity * 100)}%</span>
          </label>
        )}
        {[...info.scores.entries()].map(([name, range]) => {
          const [lo, hi] = scoreRange(range);
          const value = state.thresholds[name];
          const set = (v: number) => {
            const next = { ...state.thresholds };
            if (v <= lo) delete next[name];
            else next[name] = v;
            onChange({ ...state, thresholds: next });
          };
          return (
            <label key={name} className="check">
              {name} ≥
              <input
                type="range"
                min={lo}
                max={hi}
                step={(hi - lo) / 100}
                value={value ?? lo}
                onChange={(e) => set(Number(e.target.value))}
                data-testid="score-threshold"
                data-score={name}
                aria-label={`Minimum ${name}`}
              />
              <span className="num" data-testid="score-threshold-value" data-score={name}>
                {value === undefined ? "any" : formatNumber(value, 3)}
              </span>
            </label>
          );
        })}
        {(info.captions || hasBoxes) && (
          <label className="check">
            <input
              type="checkbox"
              checked={state.captions}
              onChange={(e) => onChange({ ...state, captions: e.target.checked })}
              data-testid="captions-toggle"
            />
            captions
          </label>
        )}
      </div>
    </div>
  );
}
