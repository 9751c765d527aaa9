// A step picker over the steps that have an item: a slider by position, the step number, and
// "latest" (the default, which follows a live run).
//
// Test hooks: step-slider (range input, value = position), step-value (data-step), step-latest.
import { stepIndex } from "./state";

interface Props {
  steps: readonly number[];
  /** undefined = latest */
  value: number | undefined;
  onChange: (step: number | undefined) => void;
}

export function StepSlider({ steps, value, onChange }: Props) {
  if (steps.length === 0) return <span className="muted">no steps</span>;
  const index = Math.max(0, stepIndex(steps, value));
  const shown = steps[index] as number;
  const last = steps.length - 1;
  const move = (i: number) => {
    const clamped = Math.max(0, Math.min(last, i));
    onChange(clamped === last ? undefined : steps[clamped]);
  };
  return (
    <span className="step-slider">
      <button type="button" className="small" onClick={() => move(index - 1)} disabled={index === 0} aria-label="Previous step">
        ‹
      </button>
      <input
        type="range"
        min={0}
        max={last}
        step={1}
        value={index}
        disabled={last === 0}
        onChange={(e) => move(Number(e.target.value))}
        data-testid="step-slider"
        aria-label="Step"
      />
      <button type="button" className="small" onClick={() => move(index + 1)} disabled={index === last} aria-label="Next step">
        ›
      </button>
      <span className="num" data-testid="step-value" data-step={shown}>
        step {shown}
      </span>
      <span className="muted">
        ({index + 1}/{steps.length})
      </span>
      <button
        type="button"
        className="small"
        aria-pressed={value === undefined}
        onClick={() => onChange(undefined)}
        data-testid="step-latest"
        title="Always show the latest step"
      >
        latest
      </button>
    </span>
  );
}
