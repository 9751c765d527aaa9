// Read-only text viewers: a unified diff with +/- colouring and source code with line numbers.
// Very long texts show their first lines until the user asks for the rest.
import { useMemo, useState } from "react";
import { classifyPatch } from "../../lib/diff";
import "./run.css";

const FIRST_LINES = 3000;

function useCapped<T>(items: T[]): [T[], number, () => void] {
  const [all, setAll] = useState(false);
  const shown = all ? items : items.slice(0, FIRST_LINES);
  return [shown, items.length - shown.length, () => setAll(true)];
}

function ShowMore({ hidden, onClick }: { hidden: number; onClick: () => void }) {
  if (hidden <= 0) return null;
  return (
    <button type="button" onClick={onClick}>
      Show {hidden} more lines
    </button>
  );
}

export function PatchView({ patch, testId }: { patch: string; testId?: string }) {
  const lines = useMemo(() => classifyPatch(patch), [patch]);
  const [shown, hidden, showAll] = useCapped(lines);
  return (
    <div className="textview" data-testid={testId}>
      <pre className="patch">
        {shown.map((l, i) => (
          <div key={i} className={`patch-line patch-${l.kind}`} data-kind={l.kind}>
            {l.text || " "}
          </div>
        ))}
      </pre>
      <ShowMore hidden={hidden} onClick={showAll} />
    </div>
  );
}

export function CodeView({ text, testId }: { text: string; testId?: string }) {
  const lines = useMemo(() => (text.endsWith("\n") ? text.slice(0, -1) : text).split("\n"), [text]);
  const [shown, hidden, showAll] = useCapped(lines);
  const width = String(lines.length).length;
  return (
    <div className="textview" data-testid={testId}>
      <pre className="code">
        {shown.map((line, i) => (
          <div key={i} className="code-line">
            <span className="code-no" style={{ width: `${width + 1}ch` }} aria-hidden="true">
              {i + 1}
            </span>
            <span className="code-text">{line || " "}</span>
          </div>
        ))}
      </pre>
      <ShowMore hidden={hidden} onClick={showAll} />
    </div>
  );
}
