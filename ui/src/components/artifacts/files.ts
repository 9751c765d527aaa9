// Pure helpers of the artifact views: a file tree from flat paths, which preview a file gets,
// the diff of two versions (files by sha256, metadata by key), kiseki tables read back,
// collections grouped by type and a registered model's aliases.
import { diffRows } from "../../lib/diff";
import type { Collection, FileEntry, RegisteredModel, VersionInfo } from "./api";

// -- file tree -----------------------------------------------------------------------------------

export interface TreeFolder {
  kind: "folder";
  name: string;
  /** "a/b" for the folder b inside a ("" for the root) */
  path: string;
  folders: TreeFolder[];
  files: TreeFile[];
  /** files below this folder, at any depth */
  fileCount: number;
  /** bytes below this folder, at any depth */
  size: number;
}

export interface TreeFile {
  kind: "file";
  name: string;
  path: string;
  entry: FileEntry;
}

const byName = (a: { name: string }, b: { name: string }) =>
  a.name.localeCompare(b.name, undefined, { numeric: true }) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/** Folders from the slashes of the paths; folders first, then files, each in natural order. */
export function buildFileTree(entries: readonly FileEntry[]): TreeFolder {
  const root: TreeFolder = { kind: "folder", name: "", path: "", folders: [], files: [], fileCount: 0, size: 0 };
  const folders = new Map<string, TreeFolder>([["", root]]);
  const folderOf = (path: string): TreeFolder => {
    const found = folders.get(path);
    if (found) return found;
    const slash = path.lastIndexOf("/");
    const parent = folderOf(slash < 0 ? "" : path.slice(0, slash));
    const folder: TreeFolder = {
      kind: "folder",
      name: slash < 0 ? path : path.slice(slash + 1),
      path,
      folders: [],
      files: [],
      fileCount: 0,
      size: 0,
    };
    parent.folders.push(folder);
    folders.set(path, folder);
    return folder;
  };
  for (const entry of entries) {
    const parts = entry.path.split("/").filter(Boolean);
    if (parts.length === 0) continue;
    const dir = parts.slice(0, -1).join("/");
    const folder = folderOf(dir);
    folder.files.push({ kind: "file", name: parts[parts.length - 1] ?? entry.path, path: entry.path, entry });
    // sizes and counts up the chain
    let at: string | null = dir;
    while (at !== null) {
      const f = folders.get(at);
      if (f) {
        f.fileCount += 1;
        f.size += entry.size;
      }
      if (at === "") at = null;
      else {
        const slash = at.lastIndexOf("/");
        at = slash < 0 ? "" : at.slice(0, slash);
      }
    }
  }
  const sort = (folder: TreeFolder) => {
    folder.folders.sort(byName);
    folder.files.sort(byName);
    folder.folders.forEach(sort);
  };
  sort(root);
  return root;
}

/** The folders that hold ``path`` ("a", "a/b" for "a/b/c.txt"). */
export function parentFolders(path: string): string[] {
  const parts = path.split("/").filter(Boolean);
  const out: string[] = [];
  for (let i = 1; i < parts.length; i++) out.push(parts.slice(0, i).join("/"));
  return out;
}

/** Every folder path of the tree, the root left out. */
export function allFolders(tree: TreeFolder): string[] {
  const out: string[] = [];
  const walk = (f: TreeFolder) => {
    for (const child of f.folders) {
      out.push(child.path);
      walk(child);
    }
  };
  walk(tree);
  return out;
}

// -- previews ------------------------------------------------------------------------------------

export type PreviewKind = "text" | "json" | "table" | "image" | "none";

const TEXT_EXT = new Set([
  "txt", "text", "csv", "tsv", "md", "markdown", "rst", "py", "pyi", "ipynb", "yaml", "yml", "toml", "ini", "cfg", "conf",
  "log", "out", "err", "sh", "bash", "zsh", "js", "mjs", "cjs", "ts", "tsx", "jsx", "css", "scss", "html", "htm", "xml",
  "sql", "r", "jl", "c", "h", "cc", "cpp", "hpp", "cu", "java", "kt", "go", "rs", "rb", "php", "pl", "lua", "swift",
  "scala", "proto", "env", "properties", "gitignore", "dockerfile", "makefile", "patch", "diff", "tex", "bib", "srt",
  "vtt", "jsonl", "ndjson", "svg",
]);
const TEXT_NAMES = new Set(["readme", "license", "licence", "makefile", "dockerfile", "requirements", "notice", "changelog", "authors"]);
export const IMAGE_MIME: Record<string, string> = {
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  gif: "image/gif",
  webp: "image/webp",
};

export function extension(path: string): string {
  const base = path.slice(path.lastIndexOf("/") + 1).toLowerCase();
  const dot = base.lastIndexOf(".");
  return dot <= 0 ? "" : base.slice(dot + 1);
}

/** How a file is previewed, by its name alone. HTML and SVG are shown as text (never rendered). */
export function previewKind(path: string): PreviewKind {
  const lower = path.toLowerCase();
  const base = lower.slice(lower.lastIndexOf("/") + 1);
  if (base.endsWith(".table.json")) return "table";
  const ext = extension(lower);
  if (ext === "json") return "json";
  if (ext in IMAGE_MIME) return "image";
  if (TEXT_EXT.has(ext)) return "text";
  if (!ext && TEXT_NAMES.has(base)) return "text";
  if (TEXT_NAMES.has(base.replace(/\.[^.]*$/, ""))) return "text";
  return "none";
}

/** True when bytes look binary (a NUL byte within the first 8 KiB). */
export function looksBinary(bytes: Uint8Array): boolean {
  const n = Math.min(bytes.length, 8192);
  for (let i = 0; i < n; i++) if (bytes[i] === 0) return true;
  return false;
}

/** UTF-8 text of bytes that may have been cut anywhere (a split last character is dropped). */
export function decodeText(bytes: Uint8Array, truncated: boolean): string {
  const text = new TextDecoder("utf-8", { fatal: false }).decode(bytes);
  return truncated ? text.replace(/\uFFFD$/, "") : text;
}

export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return "";
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)} ${units[i]}`;
}

// -- kiseki tables -------------------------------------------------------------------------------

export interface KisekiTable {
  columns: string[];
  types: Record<string, string>;
  rows: unknown[][];
}

/** A ``*.table.json`` ({"columns", "types", "data"}); null when the JSON is not one. */
export function readKisekiTable(value: unknown): KisekiTable | null {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return null;
  const d = value as Record<string, unknown>;
  if (!Array.isArray(d["columns"]) || !Array.isArray(d["data"])) return null;
  const columns = d["columns"].map((c) => (typeof c === "string" ? c : String(c)));
  const types: Record<string, string> = {};
  const rawTypes = d["types"];
  if (rawTypes && typeof rawTypes === "object" && !Array.isArray(rawTypes)) {
    for (const [k, v] of Object.entries(rawTypes as Record<string, unknown>)) if (typeof v === "string") types[k] = v;
  }
  const rows = d["data"].map((r) => (Array.isArray(r) ? r : [r]));
  return { columns, types, rows };
}

/** The sha256 of an image cell of a kiseki table ({"_type": "image", "sha256": ...}). */
export function imageCellSha(cell: unknown): string | null {
  if (cell === null || typeof cell !== "object" || Array.isArray(cell)) return null;
  const d = cell as Record<string, unknown>;
  return d["_type"] === "image" && typeof d["sha256"] === "string" && /^[0-9a-f]{64}$/.test(d["sha256"]) ? d["sha256"] : null;
}

// -- version diff --------------------------------------------------------------------------------

export interface FileChange {
  path: string;
  status: "added" | "removed" | "changed";
  /** sizes in the old and the new version (null where absent) */
  before: FileEntry | null;
  after: FileEntry | null;
}

export interface MetadataChange {
  key: string;
  status: "added" | "removed" | "changed";
  before: unknown;
  after: unknown;
}

export interface VersionDiff {
  files: FileChange[];
  unchanged: number;
  metadata: MetadataChange[];
  description: { before: string; after: string } | null;
}

/** What a file's content is compared by: its sha256, or for a reference its URI and digest. */
function contentKey(f: FileEntry): string {
  return f.sha256 ?? `ref:${f.ref ?? ""}#${f.ref_digest ?? ""}`;
}

/** Files added, removed and changed (by sha256) from ``before`` to ``after``, in path order. */
export function diffFiles(before: readonly FileEntry[], after: readonly FileEntry[]): { changes: FileChange[]; unchanged: number } {
  const old = new Map(before.map((f) => [f.path, f]));
  const now = new Map(after.map((f) => [f.path, f]));
  const paths = [...new Set([...old.keys(), ...now.keys()])].sort();
  const changes: FileChange[] = [];
  let unchanged = 0;
  for (const path of paths) {
    const a = old.get(path) ?? null;
    const b = now.get(path) ?? null;
    if (a && b) {
      if (contentKey(a) === contentKey(b)) unchanged++;
      else changes.push({ path, status: "changed", before: a, after: b });
    } else if (b) changes.push({ path, status: "added", before: null, after: b });
    else if (a) changes.push({ path, status: "removed", before: a, after: null });
  }
  return { changes, unchanged };
}

/** Metadata keys (flattened, "a.b") added, removed or changed from ``before`` to ``after``. */
export function diffMetadata(before: Record<string, unknown>, after: Record<string, unknown>): MetadataChange[] {
  return diffRows([before, after])
    .filter((r) => r.differs)
    .map((r) => ({
      key: r.key,
      status: !r.present[0] ? "added" : !r.present[1] ? "removed" : "changed",
      before: r.values[0],
      after: r.values[1],
    }));
}

export function diffVersions(
  a: Pick<VersionInfo, "metadata" | "description">,
  b: Pick<VersionInfo, "metadata" | "description">,
  filesA: readonly FileEntry[],
  filesB: readonly FileEntry[],
): VersionDiff {
  const { changes, unchanged } = diffFiles(filesA, filesB);
  return {
    files: changes,
    unchanged,
    metadata: diffMetadata(a.metadata, b.metadata),
    description: a.description === b.description ? null : { before: a.description, after: b.description },
  };
}

/** ``?diff=v0,v2`` read back: two distinct version tags, or null. */
export function parseDiffParam(value: string): [string, string] | null {
  const parts = value.split(",").map((s) => s.trim()).filter(Boolean);
  if (parts.length !== 2 || parts[0] === parts[1]) return null;
  return [parts[0] as string, parts[1] as string];
}

// -- collections ---------------------------------------------------------------------------------

/** Common types first, in pipeline order; the others alphabetically after them. */
const TYPE_ORDER = ["dataset", "model", "predictions", "evaluation", "code"];

export function groupByType(collections: readonly Collection[]): [string, Collection[]][] {
  const groups = new Map<string, Collection[]>();
  for (const c of collections) {
    const list = groups.get(c.type);
    if (list) list.push(c);
    else groups.set(c.type, [c]);
  }
  const rank = (t: string) => {
    const i = TYPE_ORDER.indexOf(t);
    return i < 0 ? TYPE_ORDER.length : i;
  };
  return [...groups.entries()]
    .sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b))
    .map(([t, list]) => [t, [...list].sort((x, y) => x.name.localeCompare(y.name))]);
}

// -- registry ------------------------------------------------------------------------------------

/** alias -> version of a registered model, in alias order. */
export function aliasTable(model: Pick<RegisteredModel, "versions">): [string, VersionInfo][] {
  const out: [string, VersionInfo][] = [];
  for (const v of model.versions) for (const a of v.aliases) out.push([a, v]);
  return out.sort(([a], [b]) => (a === "latest" ? -1 : b === "latest" ? 1 : a.localeCompare(b)));
}
