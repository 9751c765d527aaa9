// The files of an artifact version: a folder tree (folders collapse) beside the preview of the
// chosen file. The chosen file is in the URL (?file=path).
import { useMemo, useState, type ReactNode } from "react";
import { useQueryParam } from "../../lib/url";
import type { FileEntry } from "./api";
import { allFolders, buildFileTree, formatBytes, parentFolders, type TreeFolder } from "./files";
import { FilePreview, type FileSource } from "./FilePreview";

/** Folders start open when the version has at most this many files. */
const OPEN_ALL_UP_TO = 300;
const MAX_ROWS = 3000;

export function FileBrowser({ source, files, total }: { source: FileSource; files: readonly FileEntry[]; total: number }) {
  const tree = useMemo(() => buildFileTree(files), [files]);
  const [selected, setSelected] = useQueryParam("file", "");
  const [filter, setFilter] = useState("");
  const [open, setOpen] = useState<Set<string>>(() =>
    files.length <= OPEN_ALL_UP_TO ? new Set(allFolders(tree)) : new Set(parentFolders(selected)),
  );
  // a version of one file shows it at once
  const entry = selected ? files.find((f) => f.path === selected) : files.length === 1 ? files[0] : undefined;
  const q = filter.trim().toLowerCase();
  const flip = (path: string) =>
    setOpen((prev) => {
      const next = new Set(prev);
      if (next.has(path)) next.delete(path);
      else next.add(path);
      return next;
    });

  const rows: ReactNode[] = [];
  let cut = false;
  const walk = (folder: TreeFolder, depth: number) => {
    for (const child of folder.folders) {
      if (rows.length >= MAX_ROWS) {
        cut = true;
        return;
      }
      const isOpen = q ? true : open.has(child.path);
      if (q && !child.path.toLowerCase().includes(q) && !hasMatch(child, q)) continue;
      rows.push(
        <button
          key={`d:${child.path}`}
          type="button"
          className="tree-entry folder"
          style={{ paddingLeft: 6 + depth * 14 }}
          onClick={() => flip(child.path)}
          aria-expanded={isOpen}
          data-testid="folder-row"
          data-path={child.path}
          data-open={isOpen ? "true" : "false"}
        >
          <span className="twisty" aria-hidden="true">
            {isOpen ? "▾" : "▸"}
          </span>
          <span className="entry-name">{child.name}/</span>
          <span className="entry-size muted">
            {child.fileCount} · {formatBytes(child.size)}
          </span>
        </button>,
      );
      if (isOpen) walk(child, depth + 1);
    }
    for (const file of folder.files) {
      if (rows.length >= MAX_ROWS) {
        cut = true;
        return;
      }
      if (q && !file.path.toLowerCase().includes(q)) continue;
      rows.push(
        <button
          key={`f:${file.path}`}
          type="button"
          className={file.path === selected ? "tree-entry file selected" : "tree-entry file"}
          style={{ paddingLeft: 20 + depth * 14 }}
          onClick={() => setSelected(file.path, true)}
          aria-current={file.path === selected ? "true" : undefined}
          data-testid="file-row"
          data-path={file.path}
        >
          <span className="entry-name">{file.name}</span>
          {file.entry.ref && <span className="badge">ref</span>}
          <span className="entry-size muted">{formatBytes(file.entry.size)}</span>
        </button>,
      );
    }
  };
  walk(tree, 0);

  return (
    <div className="file-browser" data-testid="file-browser">
      <div className="file-tree-pane">
        <div className="toolbar">
          <input
            type="search"
            value={filter}
            onChange={(e) => setFilter(e.target.value)}
            placeholder="Filter files…"
            aria-label="Filter files"
            data-testid="file-filter"
          />
        </div>
        <div className="muted small-text">
          {total} file{total === 1 ? "" : "s"}, {formatBytes(tree.size)}
          {total > files.length && ` (first ${files.length} listed)`}
        </div>
        <div className="file-tree" data-testid="file-tree">
          {rows}
          {cut && <div className="muted small-text">Only the first {MAX_ROWS} entries are listed: filter to find the others.</div>}
          {rows.length === 0 && <div className="muted small-text">No file matches.</div>}
        </div>
      </div>
      <div className="file-preview-pane">
        {entry ? (
          <FilePreview key={entry.path} source={source} entry={entry} files={files} />
        ) : selected ? (
          <div className="preview-note">This version has no file {JSON.stringify(selected)}.</div>
        ) : (
          <div className="preview-note muted">Choose a file to preview it.</div>
        )}
      </div>
    </div>
  );
}

function hasMatch(folder: TreeFolder, q: string): boolean {
  return folder.files.some((f) => f.path.toLowerCase().includes(q)) || folder.folders.some((f) => hasMatch(f, q));
}
