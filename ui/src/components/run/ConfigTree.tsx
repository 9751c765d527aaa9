// A nested dict (config or summary) as an expandable tree; the search keeps matching keys and
// values with the path to them. Values are text (markup stays inert), NaN/inf as words.
import { useMemo, useState, type ReactNode } from "react";
import { leafText, matchingPaths, pathKey } from "../../lib/diff";
import { dict } from "./meta";
import "./run.css";

interface Props {
  data: Record<string, unknown>;
  query: string;
  testId: string;
  /** Dicts deeper than this start collapsed. */
  openDepth?: number;
}

export function ConfigTree({ data, query, testId, openDepth = 3 }: Props) {
  const [toggled, setToggled] = useState<Set<string>>(() => new Set());
  const shown = useMemo(() => matchingPaths(data, query), [data, query]);
  const flip = (key: string) =>
    setToggled((prev) => {
      const next = new Set(prev);
      if (next.has(key)) next.delete(key);
      else next.add(key);
      return next;
    });

  const rows: ReactNode[] = [];
  const walk = (node: Record<string, unknown>, path: string[]) => {
    for (const key of Object.keys(node)) {
      const childPath = [...path, key];
      const id = pathKey(childPath);
      if (shown && !shown.has(id)) continue;
      const value = node[key];
      const child = dict(value);
      const depth = path.length;
      const dotted = childPath.join(".");
      if (child && Object.keys(child).length > 0) {
        // While searching every shown dict is open; otherwise the default flips on click.
        const open = shown ? true : (depth < openDepth) !== toggled.has(id);
        rows.push(
          <div key={id} className="tree-row tree-branch" data-key={dotted} style={{ paddingLeft: depth * 16 }}>
            <button
              type="button"
              className="tree-toggle"
              aria-expanded={open}
              onClick={() => flip(id)}
              disabled={shown !== null}
            >
              {open ? "▾" : "▸"} <span className="tree-key">{key}</span>
            </button>
            {!open && <span className="tree-count">{Object.keys(child).length} keys</span>}
          </div>,
        );
        if (open) walk(child, childPath);
      } else {
        const text = child ? "{}" : leafText(value);
        rows.push(
          <div key={id} className="tree-row tree-leaf" data-key={dotted} style={{ paddingLeft: depth * 16 + 14 }}>
            <span className="tree-key">{key}</span>
            <span className={`tree-value tree-${valueKind(value)}`} data-value={text} title={text}>
              {text}
            </span>
          </div>,
        );
      }
    }
  };
  walk(data, []);

  return (
    <div className="tree" data-testid={testId}>
      {rows.length > 0 ? rows : <div className="muted">{query ? "No key or value matches." : "Empty."}</div>}
    </div>
  );
}

function valueKind(value: unknown): string {
  if (typeof value === "number") return Number.isFinite(value) ? "number" : "nonfinite";
  if (typeof value === "string") return "string";
  if (typeof value === "boolean" || value === null) return "literal";
  return "other";
}
