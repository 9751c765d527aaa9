// One file of an artifact version: its size, sha256, a download link and, for safe formats, a
// preview. Text and JSON are shown as text (never as HTML), images through a typed blob: URL
// in <img>, kiseki tables (*.table.json) as a table. Only the first bytes of big files are read.
import { useEffect, useMemo, useRef, useState } from "react";
import { errorText } from "../../lib/data";
import { formatValue } from "../../lib/format";
import { useAsync, useSeen } from "../media/hooks";
import { downloadFile, fetchFileBytes, fileUrl, type FileEntry } from "./api";
import { decodeText, extension, formatBytes, IMAGE_MIME, imageCellSha, looksBinary, previewKind, readKisekiTable, type KisekiTable } from "./files";

const TEXT_LIMIT = 1 << 20; // 1 MiB of text
const TABLE_LIMIT = 32 << 20;
const IMAGE_LIMIT = 64 << 20;
const TABLE_ROWS = 200;

export interface FileSource {
  project: string;
  name: string;
  /** the resolved version ("v3"): file URLs of a version never change */
  version: string;
}

export function DownloadLink({ source, path, children = "Download" }: { source: FileSource; path: string; children?: string }) {
  const url = fileUrl(source.project, source.name, source.version, path);
  const base = path.slice(path.lastIndexOf("/") + 1);
  const [error, setError] = useState<string>();
  return (
    <>
      <a
        href={url}
        download={base}
        data-testid="file-download"
        onClick={(e) => {
          if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
          e.preventDefault();
          setError(undefined);
          downloadFile(url, base).catch((err: unknown) => setError(errorText(err)));
        }}
      >
        {children}
      </a>
      {error && <span className="error inline">{error}</span>}
    </>
  );
}

export function FilePreview({ source, entry, files }: { source: FileSource; entry: FileEntry; files: readonly FileEntry[] }) {
  const kind = previewKind(entry.path);
  return (
    <div className="file-preview" data-testid="file-preview" data-path={entry.path} data-kind={entry.ref ? "reference" : kind}>
      <div className="preview-head">
        <span className="preview-path mono" data-testid="preview-path">
          {entry.path}
        </span>
        <span className="muted" data-testid="preview-size" title={`${entry.size} bytes`}>
          {formatBytes(entry.size)}
        </span>
        {entry.sha256 && (
          <span className="muted mono" title={`sha256 ${entry.sha256}`}>
            sha256 {entry.sha256.slice(0, 12)}…
          </span>
        )}
        <span className="spacer" />
        {entry.sha256 && <DownloadLink source={source} path={entry.path} />}
      </div>
      {entry.ref ? (
        <div className="preview-note" data-testid="preview-none">
          A reference, not stored by kiseki: <span className="mono wrap">{entry.ref}</span>
          {entry.ref_digest && <span className="muted"> (digest {entry.ref_digest})</span>}
        </div>
      ) : entry.size === 0 ? (
        <div className="preview-note" data-testid="preview-empty">
          Empty file.
        </div>
      ) : kind === "text" || kind === "json" ? (
        <TextPreview source={source} entry={entry} json={kind === "json"} />
      ) : kind === "image" ? (
        <ImagePreview source={source} entry={entry} />
      ) : kind === "table" ? (
        <TablePreview source={source} entry={entry} files={files} />
      ) : (
        <div className="preview-note" data-testid="preview-none">
          No preview for this file type. <DownloadLink source={source} path={entry.path}>Download it</DownloadLink> to open it.
        </div>
      )}
    </div>
  );
}

function useBytes(source: FileSource, path: string, limit: number, enabled = true) {
  const url = fileUrl(source.project, source.name, source.version, path);
  return useAsync(enabled ? `${url}\n${limit}` : null, (signal) => fetchFileBytes(url, limit, signal));
}

function TextPreview({ source, entry, json }: { source: FileSource; entry: FileEntry; json: boolean }) {
  const bytes = useBytes(source, entry.path, TEXT_LIMIT);
  const [pretty, setPretty] = useState(false);
  const truncated = entry.size > TEXT_LIMIT;
  const text = useMemo(() => (bytes.data ? decodeText(bytes.data, truncated) : ""), [bytes.data, truncated]);
  const formatted = useMemo(() => {
    if (!json || truncated || !bytes.data) return null;
    try {
      return JSON.stringify(JSON.parse(text), null, 2);
    } catch {
      return null;
    }
  }, [json, truncated, text, bytes.data]);
  if (bytes.error) return <div className="error">{bytes.error}</div>;
  if (!bytes.data) return <div className="loading">Loading…</div>;
  if (looksBinary(bytes.data))
    return (
      <div className="preview-note" data-testid="preview-none">
        This file holds binary data: no preview. <DownloadLink source={source} path={entry.path}>Download it</DownloadLink>.
      </div>
    );
  return (
    <div>
      {(formatted !== null || truncated) && (
        <div className="toolbar">
          {formatted !== null && (
            <button type="button" aria-pressed={pretty} onClick={() => setPretty(!pretty)} data-testid="json-pretty">
              Formatted
            </button>
          )}
          {truncated && (
            <span className="muted" data-testid="preview-truncated">
              The first {formatBytes(TEXT_LIMIT)} of {formatBytes(entry.size)}.
            </span>
          )}
        </div>
      )}
      <pre className="preview-text" data-testid="preview-text">
        {pretty && formatted !== null ? formatted : text}
      </pre>
    </div>
  );
}

function ImagePreview({ source, entry }: { source: FileSource; entry: FileEntry }) {
  const tooBig = entry.size > IMAGE_LIMIT;
  const bytes = useBytes(source, entry.path, IMAGE_LIMIT, !tooBig);
  const [url, setUrl] = useState<string>();
  const [dims, setDims] = useState<string>();
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    if (!bytes.data || tooBig) return;
    // The server sends every file as octet-stream; the blob gets the type of its extension
    // (one of the four raster formats previewKind lets through, never SVG or HTML).
    const mime = IMAGE_MIME[extension(entry.path)] ?? "application/octet-stream";
    const href = URL.createObjectURL(new Blob([bytes.data as BlobPart], { type: mime }));
    setUrl(href);
    setFailed(false);
    return () => URL.revokeObjectURL(href);
  }, [bytes.data, entry.path, tooBig]);
  if (tooBig)
    return (
      <div className="preview-note" data-testid="preview-none">
        Too large to preview ({formatBytes(entry.size)}). <DownloadLink source={source} path={entry.path}>Download it</DownloadLink>.
      </div>
    );
  if (bytes.error) return <div className="error">{bytes.error}</div>;
  if (!url) return <div className="loading">Loading…</div>;
  if (failed) return <div className="preview-note">This image could not be decoded.</div>;
  return (
    <div className="preview-image-wrap">
      <img
        src={url}
        alt={entry.path}
        className="preview-image"
        data-testid="preview-image"
        onLoad={(e) => setDims(`${e.currentTarget.naturalWidth} × ${e.currentTarget.naturalHeight} px`)}
        onError={() => setFailed(true)}
      />
      {dims && (
        <div className="muted small-text" data-testid="preview-dims">
          {dims}
        </div>
      )}
    </div>
  );
}

function TablePreview({ source, entry, files }: { source: FileSource; entry: FileEntry; files: readonly FileEntry[] }) {
  const tooBig = entry.size > TABLE_LIMIT;
  const bytes = useBytes(source, entry.path, tooBig ? TEXT_LIMIT : TABLE_LIMIT);
  const [rows, setRows] = useState(TABLE_ROWS);
  const parsed = useMemo((): { table: KisekiTable | null; text: string; error?: string } | null => {
    if (!bytes.data) return null;
    const text = decodeText(bytes.data, tooBig);
    if (tooBig) return { table: null, text, error: `Too large to show as a table (${formatBytes(entry.size)}): its first bytes as text.` };
    try {
      const table = readKisekiTable(JSON.parse(text));
      return { table, text, error: table ? undefined : "Not a kiseki table: shown as text." };
    } catch (err) {
      return { table: null, text, error: `Not valid JSON (${errorText(err)}): shown as text.` };
    }
  }, [bytes.data, tooBig, entry.size]);
  if (bytes.error) return <div className="error">{bytes.error}</div>;
  if (!parsed) return <div className="loading">Loading…</div>;
  if (!parsed.table)
    return (
      <div>
        {parsed.error && <p className="muted">{parsed.error}</p>}
        <pre className="preview-text" data-testid="preview-text">
          {parsed.text}
        </pre>
      </div>
    );
  const { table } = parsed;
  const folder = entry.path.includes("/") ? entry.path.slice(0, entry.path.lastIndexOf("/") + 1) : "";
  const stored = new Set(files.map((f) => f.path));
  return (
    <div>
      <p className="muted" data-testid="preview-table-size">
        {table.rows.length} row{table.rows.length === 1 ? "" : "s"}, {table.columns.length} column{table.columns.length === 1 ? "" : "s"}
      </p>
      <div className="art-scroll">
        <table className="grid preview-table" data-testid="preview-table">
          <thead>
            <tr>
              {table.columns.map((c, i) => (
                <th key={i} data-column={c}>
                  {c}
                  {table.types[c] && <span className="col-type muted">{table.types[c]}</span>}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {table.rows.slice(0, rows).map((row, r) => (
              <tr key={r} data-testid="preview-table-row">
                {table.columns.map((_, c) => (
                  <td key={c}>
                    <Cell value={row[c]} source={source} imagePath={(sha) => (stored.has(`${folder}media/${sha}.png`) ? `${folder}media/${sha}.png` : null)} />
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {table.rows.length > rows && (
        <button type="button" onClick={() => setRows(rows + 1000)}>
          Show {Math.min(1000, table.rows.length - rows)} more rows
        </button>
      )}
    </div>
  );
}

function Cell({ value, source, imagePath }: { value: unknown; source: FileSource; imagePath: (sha: string) => string | null }) {
  const sha = imageCellSha(value);
  if (sha) {
    const path = imagePath(sha);
    if (path) return <Thumb source={source} path={path} />;
    return <span className="muted">image {sha.slice(0, 8)}</span>;
  }
  if (value === null || value === undefined) return <span className="muted cell-null">null</span>;
  const text = typeof value === "object" ? JSON.stringify(value) : formatValue(value);
  return <span className="cell-text">{text}</span>;
}

function Thumb({ source, path }: { source: FileSource; path: string }) {
  const ref = useRef<HTMLSpanElement>(null);
  const seen = useSeen(ref);
  const bytes = useBytes(source, path, IMAGE_LIMIT, seen);
  const [url, setUrl] = useState<string>();
  useEffect(() => {
    if (!bytes.data) return;
    const href = URL.createObjectURL(new Blob([bytes.data as BlobPart], { type: "image/png" }));
    setUrl(href);
    return () => URL.revokeObjectURL(href);
  }, [bytes.data]);
  if (!url)
    return (
      <span ref={ref} className="muted">
        {bytes.error ? "no image" : "…"}
      </span>
    );
  return <img src={url} alt={path} className="preview-thumb" data-testid="preview-thumb" />;
}
