// The controls above the runs table: server filter expression, quick search, grouping.
import { useEffect, useRef, useState } from "react";
import type { Catalogue } from "../api/client";

const SEARCH_DELAY_MS = 150;

/** The server filter expression: edited freely, applied on Enter; the server's error below. */
export function FilterInput(props: { value: string; error: string | undefined; onApply: (text: string) => void }) {
  const { value, error, onApply } = props;
  const [text, setText] = useState(value);
  useEffect(() => setText(value), [value]);
  const dirty = text.trim() !== value.trim();
  return (
    <div className="rt-filter">
      <form
        className="rt-filter-row"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          onApply(text.trim());
        }}
      >
        <input
          type="text"
          className="mono"
          data-testid="filter-input"
          aria-label="Filter expression (press Enter to apply)"
          aria-invalid={error ? true : undefined}
          aria-describedby={error ? "rt-filter-error" : undefined}
          placeholder='Filter, e.g. config.lr > 0.01 and state = "finished"'
          spellCheck={false}
          value={text}
          onChange={(e) => setText(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === "Escape") setText(value);
          }}
        />
        <button type="submit" disabled={!dirty} title="Apply the filter (Enter)">
          Apply
        </button>
        {value && (
          <button
            type="button"
            className="ghost"
            aria-label="Clear the filter"
            title="Clear the filter"
            onClick={() => {
              setText("");
              onApply("");
            }}
          >
            ✕
          </button>
        )}
      </form>
      {error && (
        <div id="rt-filter-error" className="error rt-filter-error" role="alert" data-testid="filter-error">
          {error}
        </div>
      )}
    </div>
  );
}

/** Client-side quick search; the URL follows the box after a short pause in typing. */
export function QuickSearch(props: { value: string; onChange: (text: string) => void }) {
  const { value, onChange } = props;
  const [text, setText] = useState(value);
  const pushed = useRef(value);
  useEffect(() => {
    if (value !== pushed.current) {
      pushed.current = value;
      setText(value);
    }
  }, [value]);
  useEffect(() => {
    if (text === pushed.current) return;
    const timer = window.setTimeout(() => {
      pushed.current = text;
      onChange(text);
    }, SEARCH_DELAY_MS);
    return () => window.clearTimeout(timer);
  }, [text, onChange]);
  return (
    <input
      type="search"
      className="rt-search"
      data-testid="quick-search"
      aria-label="Quick search by name, id, tag or group"
      placeholder="Search runs"
      value={text}
      onChange={(e) => setText(e.target.value)}
    />
  );
}

/** Grouping key: run group, state or any config key. */
export function GroupSelect(props: { value: string; catalogue: Catalogue | undefined; onChange: (key: string) => void }) {
  const { value, catalogue } = props;
  const configKeys = catalogue?.config ?? [];
  const known = value === "" || value === "group" || value === "state" || configKeys.some((k) => `config.${k}` === value);
  return (
    <label className="rt-group">
      <span>Group by</span>
      <select data-testid="group-select" value={value} onChange={(e) => props.onChange(e.target.value)}>
        <option value="">none</option>
        <option value="group">run group</option>
        <option value="state">state</option>
        {configKeys.length > 0 && (
          <optgroup label="config">
            {configKeys.map((k) => (
              <option key={k} value={`config.${k}`}>
                {k}
              </option>
            ))}
          </optgroup>
        )}
        {!known && <option value={value}>{value}</option>}
      </select>
    </label>
  );
}
