// Data hooks shared by the pages: one-shot calls, all runs of a project, live updates (SSE).
import { useCallback, useEffect, useRef, useState } from "react";
import { ApiError, call, parseJson, urlFor, type CallArgs, type ResultOf, type RunRead } from "../api/client";
import type { OperationId } from "../api/ops.gen";

export interface Loaded<T> {
  data: T | undefined;
  error: string | undefined;
  loading: boolean;
  reload: () => void;
}

export function errorText(err: unknown): string {
  if (err instanceof ApiError) return err.detail;
  if (err instanceof Error) return err.message;
  return String(err);
}

/** Calls ``op`` whenever ``key`` changes (a string that captures the arguments). */
export function useCall<K extends OperationId>(op: K, args: CallArgs<K> | null, key: string): Loaded<ResultOf<K>> {
  const [state, setState] = useState<{ data?: ResultOf<K>; error?: string; loading: boolean }>({ loading: true });
  const [tick, setTick] = useState(0);
  const argsRef = useRef(args);
  argsRef.current = args;
  useEffect(() => {
    const current = argsRef.current;
    if (current === null) return;
    const ctrl = new AbortController();
    setState((s) => ({ ...s, loading: true }));
    call(op, { ...current, signal: ctrl.signal })
      .then((data) => setState({ data, loading: false }))
      .catch((err: unknown) => {
        if (!ctrl.signal.aborted) setState({ error: errorText(err), loading: false });
      });
    return () => ctrl.abort();
  }, [op, key, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data: state.data, error: state.error, loading: state.loading, reload };
}

const PAGE = 1000;
export const MAX_TABLE_RUNS = 20_000;

export interface ProjectRuns {
  runs: RunRead[];
  total: number;
  loading: boolean;
  error: string | undefined;
  /** Merge changed runs (from live updates) into the list. */
  patch: (changed: RunRead[]) => void;
  reload: () => void;
}

/** Every run matching ``filter`` (server-side expression), in pages of 1000. */
export function useProjectRuns(project: string, filter: string, order: string): ProjectRuns {
  const [runs, setRuns] = useState<RunRead[]>([]);
  const [total, setTotal] = useState(0);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string | undefined>();
  const [tick, setTick] = useState(0);
  useEffect(() => {
    const ctrl = new AbortController();
    setLoading(true);
    setError(undefined);
    (async () => {
      const all: RunRead[] = [];
      let offset = 0;
      for (;;) {
        const page = await call("list_runs", {
          path: { project },
          query: { filter: filter || undefined, order: order || undefined, offset, limit: PAGE },
          signal: ctrl.signal,
        });
        all.push(...page.items);
        setTotal(page.total);
        if (offset === 0 || all.length >= page.total) setRuns([...all]);
        offset += page.items.length;
        if (page.items.length < PAGE || all.length >= Math.min(page.total, MAX_TABLE_RUNS)) break;
      }
      setRuns(all);
      setLoading(false);
    })().catch((err: unknown) => {
      if (ctrl.signal.aborted) return;
      setError(errorText(err));
      setRuns([]);
      setLoading(false);
    });
    return () => ctrl.abort();
  }, [project, filter, order, tick]);
  const patch = useCallback((changed: RunRead[]) => {
    setRuns((prev) => {
      const byId = new Map(changed.map((r) => [r.id, r]));
      let hit = false;
      const next = prev.map((r) => {
        const c = byId.get(r.id);
        if (c) {
          hit = true;
          byId.delete(r.id);
          return c;
        }
        return r;
      });
      return hit || byId.size === 0 ? next : next;
    });
  }, []);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { runs, total, loading, error, patch, reload };
}

/** Live run updates of a project over Server-Sent Events; ``onUpdate`` gets each changed run. */
export function useLiveUpdates(project: string, onUpdate: (run: RunRead) => void, enabled = true): void {
  const handler = useRef(onUpdate);
  handler.current = onUpdate;
  useEffect(() => {
    if (!enabled || typeof EventSource === "undefined") return;
    const source = new EventSource(urlFor("live_updates", { path: { project }, query: { interval: 0.5 } }));
    source.addEventListener("update", (event) => {
      try {
        handler.current(parseJson((event as MessageEvent<string>).data) as RunRead);
      } catch {
        /* a malformed event must not break the page */
      }
    });
    return () => source.close();
  }, [project, enabled]);
}
