// The column picker: a searchable list of config and summary keys with checkboxes.
import { useEffect, useMemo, useRef, useState } from "react";
import type { Catalogue } from "../api/client";
import { columnId, type Scope } from "./RunsTableModel";

const MAX_LISTED = 300;

export function ColumnPicker(props: {
  catalogue: Catalogue | undefined;
  chosen: readonly string[];
  onToggle: (id: string, on: boolean) => void;
  onReset: () => void;
  /** ``refocus``: give focus back to the button that opened the picker (closed by Escape). */
  onClose: (refocus: boolean) => void;
}) {
  const { catalogue, chosen, onToggle, onClose } = props;
  const [search, setSearch] = useState("");
  const root = useRef<HTMLDivElement>(null);
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => input.current?.focus(), []);
  useEffect(() => {
    const onDown = (e: MouseEvent) => {
      const target = e.target as Node | null;
      if (root.current && target && !root.current.contains(target) && !(target as Element).closest?.(".rt-columns-button"))
        onClose(false);
    };
    document.addEventListener("mousedown", onDown);
    return () => document.removeEventListener("mousedown", onDown);
  }, [onClose]);

  const chosenSet = useMemo(() => new Set(chosen), [chosen]);
  const sections = useMemo(() => {
    const words = search.toLowerCase().split(/\s+/).filter(Boolean);
    const match = (id: string) => words.every((w) => id.toLowerCase().includes(w));
    const list = (scope: Scope, keys: string[]) => keys.map((k) => columnId(scope, k)).filter(match);
    return [
      { scope: "summary" as const, title: "Summary", ids: list("summary", catalogue?.summary ?? []) },
      { scope: "config" as const, title: "Config", ids: list("config", catalogue?.config ?? []) },
    ];
  }, [catalogue, search]);
  let budget = MAX_LISTED;

  return (
    <div
      ref={root}
      className="rt-picker"
      role="dialog"
      aria-label="Choose columns"
      data-testid="column-picker"
      onKeyDown={(e) => {
        if (e.key === "Escape") {
          e.stopPropagation();
          onClose(true);
        }
      }}
    >
      <div className="rt-picker-head">
        <input
          ref={input}
          type="search"
          placeholder="Search config and summary keys"
          aria-label="Search columns"
          data-testid="column-search"
          value={search}
          onChange={(e) => setSearch(e.target.value)}
        />
        <button type="button" onClick={props.onReset} title="Back to the default columns">
          Reset
        </button>
      </div>
      <div className="rt-picker-list">
        {!catalogue && <div className="rt-muted">Loading keys…</div>}
        {sections.map((section) => {
          if (section.ids.length === 0) return null;
          const listed = section.ids.slice(0, Math.max(0, budget));
          budget -= listed.length;
          return (
            <fieldset key={section.scope} className="rt-picker-section">
              <legend>
                {section.title} <span className="rt-muted">({section.ids.length})</span>
              </legend>
              {listed.map((id) => (
                <label key={id} className="rt-picker-item" title={id}>
                  <input
                    type="checkbox"
                    data-column={id}
                    checked={chosenSet.has(id)}
                    onChange={(e) => onToggle(id, e.target.checked)}
                  />
                  <span>{id.slice(section.scope.length + 1)}</span>
                </label>
              ))}
              {listed.length < section.ids.length && (
                <div className="rt-muted">{section.ids.length - listed.length} more; refine the search</div>
              )}
            </fieldset>
          );
        })}
        {catalogue && sections.every((s) => s.ids.length === 0) && <div className="rt-muted">No matching keys</div>}
      </div>
    </div>
  );
}
