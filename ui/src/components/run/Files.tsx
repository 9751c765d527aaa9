// Files of a run. kiseki keeps no uploaded artefacts: these are built from what the SDK captured
// when the run started (the main script, the uncommitted diff, the package list, the metadata).
import { useMemo } from "react";
import type { RunDetail } from "../../api/client";
import { useQueryParam } from "../../lib/url";
import { baseName, dict, packages, section, str } from "./meta";
import { CodeView, PatchView } from "./TextViews";
import "./run.css";

export interface RunFile {
  name: string;
  description: string;
  kind: "code" | "patch" | "text";
  content: string;
  /** Size in bytes (UTF-8). */
  size: number;
}

/** The files a run's captured metadata holds. */
export function runFiles(run: RunDetail): RunFile[] {
  const md = run.metadata;
  const files: Omit<RunFile, "size">[] = [];
  const code = section(md, "code");
  if (code && typeof code["content"] === "string") {
    files.push({
      name: `code/${baseName(str(code["path"]) ?? "main.py")}`,
      description: "The main script, as it was when the run started",
      kind: "code",
      content: code["content"],
    });
  }
  const diff = str(section(md, "git")?.["diff"]);
  if (diff) files.push({ name: "diff.patch", description: "Uncommitted changes (git diff HEAD)", kind: "patch", content: diff });
  const pkgs = packages(md);
  const names = Object.keys(pkgs);
  if (names.length > 0) {
    files.push({
      name: "requirements.txt",
      description: "Installed packages (pip freeze format)",
      kind: "text",
      content: names.map((n) => `${n}==${pkgs[n]}`).join("\n") + "\n",
    });
  }
  if (dict(md) && Object.keys(md).length > 0) {
    files.push({
      name: "metadata.json",
      description: "Everything captured about the environment",
      kind: "code",
      content: JSON.stringify(md, (_k, v: unknown) => (typeof v === "number" && !Number.isFinite(v) ? String(v) : v), 2),
    });
  }
  files.push({
    name: "config.json",
    description: "The run's config",
    kind: "code",
    content: JSON.stringify(run.config, (_k, v: unknown) => (typeof v === "number" && !Number.isFinite(v) ? String(v) : v), 2),
  });
  const encoder = new TextEncoder();
  return files.map((f) => ({ ...f, size: encoder.encode(f.content).length }));
}

function download(file: RunFile): void {
  const url = URL.createObjectURL(new Blob([file.content], { type: "text/plain;charset=utf-8" }));
  const a = document.createElement("a");
  a.href = url;
  a.download = baseName(file.name);
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

export function Files({ run }: { run: RunDetail }) {
  const files = useMemo(() => runFiles(run), [run]);
  const [selected, setSelected] = useQueryParam("file", "");
  const file = files.find((f) => f.name === selected) ?? files[0];
  return (
    <div className="files" data-testid="files">
      <p className="muted">
        Files come from what the SDK captured when the run started (script, uncommitted diff, packages,
        metadata).
      </p>
      <div className="files-layout">
        <ul className="file-list" role="listbox" aria-label="Files">
          {files.map((f) => (
            <li key={f.name}>
              <button
                type="button"
                role="option"
                aria-selected={f === file}
                className={f === file ? "selected" : ""}
                onClick={() => setSelected(f.name)}
                data-file={f.name}
                title={f.description}
              >
                {f.name}
                <span className="muted file-size">{formatBytes(f.size)}</span>
              </button>
            </li>
          ))}
        </ul>
        <div className="file-view">
          {file ? (
            <>
              <div className="toolbar">
                <strong data-testid="file-name">{file.name}</strong>
                <span className="muted">{file.description}</span>
                <span className="spacer" />
                <button type="button" onClick={() => download(file)}>
                  Download
                </button>
              </div>
              {file.kind === "patch" ? (
                <PatchView patch={file.content} testId="file-content" />
              ) : (
                <CodeView text={file.content} testId="file-content" />
              )}
            </>
          ) : (
            <p className="muted">No files were captured for this run.</p>
          )}
        </div>
      </div>
    </div>
  );
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}
