// Media view state in the URL, per media key: the step (ms.<key>; absent = latest), the overlay
// settings (mo.<key>), the zoomed image (zoom) and the table settings (t*.<key>).
import { useCallback, useMemo } from "react";
import { decodeOverlay, encodeOverlay, type OverlayState } from "../../lib/overlay";
import { useQueryParam } from "../../lib/url";

/** The step of a key: undefined means "the latest" (follows a live run). */
export function useStepParam(key: string): [number | undefined, (step: number | undefined) => void] {
  const [raw, set] = useQueryParam(`ms.${key}`, "");
  const n = raw === "" ? NaN : Number(raw);
  const step = Number.isFinite(n) ? n : undefined;
  const setStep = useCallback((s: number | undefined) => set(s === undefined ? undefined : String(s)), [set]);
  return [step, setStep];
}

export function useOverlayParam(key: string): [OverlayState, (next: OverlayState) => void] {
  const [raw, set] = useQueryParam(`mo.${key}`, "");
  const state = useMemo(() => decodeOverlay(raw), [raw]);
  const setState = useCallback((next: OverlayState) => set(encodeOverlay(next) || undefined), [set]);
  return [state, setState];
}

/** The index in ``steps`` (ascending) of ``step``, or of the last step before it; -1 if none.
 * undefined (latest) is the last index. */
export function stepIndex(steps: readonly number[], step: number | undefined): number {
  if (steps.length === 0) return -1;
  if (step === undefined) return steps.length - 1;
  let lo = 0;
  let hi = steps.length - 1;
  if (step < (steps[0] as number)) return -1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if ((steps[mid] as number) <= step) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** The sorted union of several step lists. */
export function unionSteps(lists: readonly (readonly number[])[]): number[] {
  const all = new Set<number>();
  for (const l of lists) for (const s of l) all.add(s);
  return [...all].sort((a, b) => a - b);
}
