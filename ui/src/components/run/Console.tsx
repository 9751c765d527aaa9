// A run's console output: a virtualised list (a million lines scroll as smoothly as ten),
// fetched page by page around what is on screen, searchable on the server, and following new
// lines every second while the run is alive.
//
// Line numbers are contiguous from 1, so without a search row i is line i + 1 and any page can
// be fetched directly (jumping to the end of a long log costs one request). With a search the
// matches are read front to back, a page at a time as the list is scrolled.
import { useVirtualizer } from "@tanstack/react-virtual";
import { useCallback, useEffect, useReducer, useRef, useState, type ReactNode } from "react";
import { call, type ConsoleLine } from "../../api/client";
import { errorText } from "../../lib/data";
import { formatNumber } from "../../lib/format";
import { useQueryParam } from "../../lib/url";
import "./run.css";

const PAGE = 500;
const TAIL = 1000;
const POLL_MS = 1000;
const ROW_H = 18;

interface Buffer {
  /** Lines by line number (no search). */
  lines: Map<number, ConsoleLine>;
  /** Highest line number on the server, as last seen. */
  total: number;
  /** Matching lines in order (search). */
  matches: ConsoleLine[];
  /** Line number up to which the search has looked. */
  scanned: number;
  exhausted: boolean;
  /** Page offsets being fetched, and the total seen when each page was fetched. */
  inflight: Set<number | "tail" | "more">;
  fetched: Map<number, number>;
  loaded: boolean;
  error?: string;
}

function emptyBuffer(): Buffer {
  return {
    lines: new Map(),
    total: 0,
    matches: [],
    scanned: 0,
    exhausted: false,
    inflight: new Set(),
    fetched: new Map(),
    loaded: false,
  };
}

export function Console({ project, runId, live }: { project: string; runId: string; live: boolean }) {
  const [search, setSearch] = useQueryParam("cq", "");
  const [input, setInput] = useState(search);
  useEffect(() => {
    const t = setTimeout(() => {
      if (input !== search) setSearch(input);
    }, 300);
    return () => clearTimeout(t);
  }, [input, search, setSearch]);

  const [, rerender] = useReducer((x: number) => x + 1, 0);
  const buf = useRef<Buffer>(emptyBuffer());
  const ctrl = useRef<AbortController>(new AbortController());
  const scroller = useRef<HTMLDivElement>(null);
  const follow = useRef(live);

  const get = useCallback(
    async (key: number | "tail" | "more", offset: number, limit: number, term: string) => {
      const b = buf.current;
      if (b.inflight.has(key)) return undefined;
      b.inflight.add(key);
      const signal = ctrl.current.signal;
      try {
        const page = await call("get_console", {
          path: { project, run_id: runId },
          query: { offset, limit, search: term || undefined },
          signal,
        });
        if (signal.aborted || b !== buf.current) return undefined;
        b.total = Math.max(b.total, page.total);
        b.loaded = true;
        b.error = undefined;
        return page;
      } catch (err) {
        if (!signal.aborted && b === buf.current) {
          b.error = errorText(err);
          rerender();
        }
        return undefined;
      } finally {
        b.inflight.delete(key);
      }
    },
    [project, runId],
  );

  /** Without a search: the page of PAGE lines starting after line ``offset``. */
  const fetchPage = useCallback(
    async (offset: number) => {
      const b = buf.current;
      const page = await get(offset, offset, PAGE, "");
      if (!page) return;
      for (const line of page.lines) b.lines.set(line.line_no, line);
      b.fetched.set(offset, page.total);
      rerender();
    },
    [get],
  );

  /** With a search: the next matches after what has been searched so far. */
  const fetchMatches = useCallback(async () => {
    const b = buf.current;
    const page = await get("more", b.scanned, PAGE, search);
    if (!page) return;
    b.matches.push(...page.lines.filter((l) => l.line_no > b.scanned));
    const last = page.lines[page.lines.length - 1];
    if (page.lines.length < PAGE) {
      b.exhausted = true;
      b.scanned = Math.max(b.scanned, last?.line_no ?? 0, page.total);
    } else {
      b.scanned = last?.line_no ?? b.scanned;
    }
    rerender();
  }, [get, search]);

  /** New lines at the end (while the run is alive). */
  const poll = useCallback(async () => {
    const b = buf.current;
    if (!b.loaded) return;
    if (search) {
      if (b.exhausted) {
        b.exhausted = false;
        await fetchMatches();
      }
      return;
    }
    const page = await get("tail", b.total, TAIL, "");
    if (!page || page.lines.length === 0) return;
    for (const line of page.lines) b.lines.set(line.line_no, line);
    rerender();
  }, [get, fetchMatches, search]);

  // A fresh buffer for each run and search.
  useEffect(() => {
    ctrl.current.abort();
    ctrl.current = new AbortController();
    buf.current = emptyBuffer();
    rerender();
    if (search) void fetchMatches();
    else void fetchPage(0);
    return () => ctrl.current.abort();
  }, [project, runId, search, fetchMatches, fetchPage]);

  // Follow the run while it is alive, and look once more when it ends (its last lines).
  useEffect(() => {
    void poll();
    if (!live) return;
    const timer = setInterval(() => void poll(), POLL_MS);
    return () => clearInterval(timer);
  }, [live, poll]);

  const b = buf.current;
  const count = search ? b.matches.length : b.total;
  const virtualizer = useVirtualizer({
    count,
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW_H,
    overscan: 30,
  });
  const items = virtualizer.getVirtualItems();

  // Fetch what is on screen and missing.
  const first = items[0]?.index ?? 0;
  const last = items[items.length - 1]?.index ?? -1;
  useEffect(() => {
    const cur = buf.current;
    if (!cur.loaded) return;
    if (search) {
      if (!cur.exhausted && last >= cur.matches.length - 50) void fetchMatches();
      return;
    }
    for (let i = first; i <= last; i++) {
      const lineNo = i + 1;
      if (cur.lines.has(lineNo)) continue;
      const offset = Math.floor(i / PAGE) * PAGE;
      const seen = cur.fetched.get(offset);
      // A page is fetched again only if the server had fewer lines then than it has now.
      if (seen === undefined || seen < Math.min(offset + PAGE, cur.total)) void fetchPage(offset);
      i = offset + PAGE - 1;
    }
  });

  // Stick to the bottom while following.
  useEffect(() => {
    const el = scroller.current;
    if (!el || count === 0) return;
    if (el.scrollHeight <= el.clientHeight + ROW_H) follow.current = true;
    if (follow.current) virtualizer.scrollToIndex(count - 1, { align: "end" });
  }, [count, virtualizer]);

  const onScroll = () => {
    const el = scroller.current;
    if (el) follow.current = el.scrollTop + el.clientHeight >= el.scrollHeight - ROW_H;
  };
  const jump = (where: "top" | "end") => {
    follow.current = where === "end";
    if (count > 0) virtualizer.scrollToIndex(where === "end" ? count - 1 : 0, { align: where === "end" ? "end" : "start" });
  };

  const lineAt = (i: number): ConsoleLine | undefined => (search ? b.matches[i] : b.lines.get(i + 1));
  const digits = String(Math.max(b.total, 1)).length;

  return (
    <div className="console-wrap">
      <div className="toolbar">
        <input
          type="search"
          placeholder="Search the output…"
          value={input}
          onChange={(e) => setInput(e.target.value)}
          aria-label="Search console output"
          data-testid="console-search"
        />
        <span className="muted" data-testid="console-count">
          {!b.loaded
            ? "Loading…"
            : search
              ? `${formatNumber(b.matches.length)}${b.exhausted ? "" : "+"} matching of ${formatNumber(b.total)} lines`
              : `${formatNumber(b.total)} lines`}
        </span>
        {live && <span className="live-dot" title="The run is alive: new lines appear as they are written">live</span>}
        <span className="spacer" />
        <button type="button" onClick={() => jump("top")}>
          Top
        </button>
        <button type="button" onClick={() => jump("end")}>
          End
        </button>
      </div>
      {b.error && <div className="error">{b.error}</div>}
      <div className="console" ref={scroller} onScroll={onScroll} data-testid="console" data-total={b.total}>
        {b.loaded && count === 0 && (
          <div className="muted console-empty">{search ? "No line matches." : "No console output captured."}</div>
        )}
        <div className="console-inner" style={{ height: virtualizer.getTotalSize() }}>
          {items.map((item) => {
            const line = lineAt(item.index);
            const no = line?.line_no ?? (search ? undefined : item.index + 1);
            return (
              <div
                key={item.key}
                className={`console-line${line?.stream === "stderr" ? " stderr" : ""}`}
                style={{ transform: `translateY(${item.start}px)`, height: ROW_H }}
                data-line={line ? line.line_no : undefined}
                data-stream={line?.stream}
              >
                <span className="console-no" style={{ width: `${digits + 1}ch` }}>
                  {no}
                </span>
                <span className="console-text">{line ? highlight(line.text, search) : "…"}</span>
              </div>
            );
          })}
        </div>
      </div>
    </div>
  );
}

function highlight(text: string, term: string): ReactNode {
  if (!term) return text || " ";
  const lower = text.toLowerCase();
  const needle = term.toLowerCase();
  const parts: ReactNode[] = [];
  let at = 0;
  for (let i = lower.indexOf(needle); i >= 0 && needle; i = lower.indexOf(needle, at)) {
    if (i > at) parts.push(text.slice(at, i));
    parts.push(<mark key={i}>{text.slice(i, i + needle.length)}</mark>);
    at = i + needle.length;
  }
  if (at < text.length) parts.push(text.slice(at));
  return parts;
}
