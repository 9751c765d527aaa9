// Small hooks of the media views: load when scrolled near, measure width, call with abort.
import { useCallback, useEffect, useRef, useState } from "react";
import { errorText } from "../../lib/data";

/** True once the element has come within 300 px of the viewport (and stays true: media
 * already loaded need not be dropped when scrolled away). */
export function useSeen(ref: React.RefObject<HTMLElement | null>): boolean {
  const [seen, setSeen] = useState(false);
  useEffect(() => {
    const el = ref.current;
    if (!el || seen) return;
    if (typeof IntersectionObserver === "undefined") {
      setSeen(true);
      return;
    }
    const io = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) setSeen(true);
    }, { rootMargin: "300px 0px" });
    io.observe(el);
    return () => io.disconnect();
  }, [ref, seen]);
  return seen;
}

export function useWidth(ref: React.RefObject<HTMLElement | null>): number {
  const [width, setWidth] = useState(0);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    setWidth(el.clientWidth);
    if (typeof ResizeObserver === "undefined") return;
    const ro = new ResizeObserver(() => setWidth(el.clientWidth));
    ro.observe(el);
    return () => ro.disconnect();
  }, [ref]);
  return width;
}

export interface Async<T> {
  data: T | undefined;
  error: string | undefined;
  /** the HTTP status of the error, when the server answered one */
  status: number | undefined;
  loading: boolean;
  reload: () => void;
}

/** Runs ``load`` whenever ``key`` changes (null: not yet); the previous answer stays shown
 * while the next one loads, so sliders do not flicker. */
export function useAsync<T>(key: string | null, load: (signal: AbortSignal) => Promise<T>): Async<T> {
  const [state, setState] = useState<{ data?: T; error?: string; status?: number; loading: boolean }>({ loading: true });
  const [tick, setTick] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  useEffect(() => {
    if (key === null) return;
    const ctrl = new AbortController();
    setState((s) => ({ ...s, loading: true }));
    loadRef
      .current(ctrl.signal)
      .then((data) => setState({ data, loading: false }))
      .catch((err: unknown) => {
        if (ctrl.signal.aborted) return;
        const status = typeof err === "object" && err !== null && "status" in err ? Number((err as { status: unknown }).status) : undefined;
        // the last answer stays (callers decide whether to show it next to the error)
        setState((s) => ({ data: s.data, error: errorText(err), status, loading: false }));
      });
    return () => ctrl.abort();
  }, [key, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data: state.data, error: state.error, status: state.status, loading: state.loading, reload };
}

/** Calls ``fn`` every ``ms`` while ``on``. */
export function useEvery(on: boolean, ms: number, fn: () => void): void {
  const ref = useRef(fn);
  ref.current = fn;
  useEffect(() => {
    if (!on) return;
    const id = setInterval(() => ref.current(), ms);
    return () => clearInterval(id);
  }, [on, ms]);
}
