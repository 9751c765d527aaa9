// Data hooks shared by the pages: one-shot calls, all runs of a project, live updates (SSE).
import { useCallback, useEffect, useRef, useState } from "react";
import { ApiError, authHeaders, call, parseJson, urlFor, type CallArgs, type ResultOf, type RunRead } from "../api/client";
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
    const byId = new Map(changed.map((r) => [r.id, r]));
    setRuns((prev) => prev.map((r) => byId.get(r.id) ?? r));
  }, []);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { runs, total, loading, error, patch, reload };
}

/** Splits a Server-Sent Events byte stream into (event, data) pairs. Pure, for tests. */
export function parseSse(buffer: string): { events: { event: string; data: string }[]; rest: string } {
  const events: { event: string; data: string }[] = [];
  const blocks = buffer.replace(/\r\n/g, "\n").split("\n\n");
  const rest = blocks.pop() ?? "";
  for (const block of blocks) {
    let event = "message";
    const data: string[] = [];
    for (const line of block.split("\n")) {
      if (line.startsWith(":")) continue;
      const i = line.indexOf(":");
      const field = i < 0 ? line : line.slice(0, i);
      const value = i < 0 ? "" : line.slice(i + 1).replace(/^ /, "");
      if (field === "event") event = value;
      else if (field === "data") data.push(value);
    }
    if (data.length) events.push({ event, data: data.join("\n") });
  }
  return { events, rest };
}

/** Live run updates of a project over Server-Sent Events; ``onUpdate`` gets each changed run.
 * Read with fetch (not EventSource) so the API key header reaches servers that need one;
 * reconnects after 2 s when the stream ends or fails. */
export function useLiveUpdates(project: string, onUpdate: (run: RunRead) => void, enabled = true): void {
  const handler = useRef(onUpdate);
  handler.current = onUpdate;
  useEffect(() => {
    if (!enabled) return;
    const ctrl = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const connect = async () => {
      try {
        const response = await fetch(urlFor("live_updates", { path: { project }, query: { interval: 0.5 } }), {
          headers: { Accept: "text/event-stream", ...authHeaders() },
          signal: ctrl.signal,
        });
        if (!response.ok || !response.body) throw new Error(`live updates: ${response.status}`);
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          const parsed = parseSse(buffer + value);
          buffer = parsed.rest;
          for (const ev of parsed.events) {
            if (ev.event !== "update") continue;
            try {
              handler.current(parseJson(ev.data) as RunRead);
            } catch {
              /* a malformed event must not break the page */
            }
          }
        }
      } catch {
        if (ctrl.signal.aborted) return;
      }
      if (!ctrl.signal.aborted) timer = setTimeout(() => void connect(), 2000);
    };
    void connect();
    return () => {
      ctrl.abort();
      if (timer) clearTimeout(timer);
    };
  }, [project, enabled]);
}
