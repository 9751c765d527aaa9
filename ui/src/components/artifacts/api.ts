// Artifact, lineage and registry calls and their answers. The generated client types these
// operations' answers as unknown, so they are declared here and read defensively: names,
// descriptions and metadata are user data and every field is checked before it is used.
import { ApiError, authHeaders, call, urlFor } from "../../api/client";

export interface Collection {
  name: string;
  type: string;
  created_at: number | null;
  versions: number;
  latest: string | null;
}

export interface VersionInfo {
  id: number;
  project: string | null;
  name: string;
  type: string;
  kind: string; // "artifact" | "registry"
  version: string; // "v3"
  index: number;
  aliases: string[];
  digest: string;
  size: number;
  file_count: number;
  description: string;
  metadata: Record<string, unknown>;
  state: string;
  created_at: number | null;
  /** run id of the producing run */
  logged_by: string | null;
  client_id: string | null;
  /** registry versions: the artifact version it links */
  source?: VersionInfo;
  /** get_artifact only: run ids of the consumers */
  used_by?: string[];
}

export interface FileEntry {
  path: string;
  sha256: string | null;
  size: number;
  ref: string | null;
  ref_digest: string | null;
}

export interface FileList {
  total: number;
  files: FileEntry[];
}

export interface RunNode {
  id: string;
  kind: "run";
  project: string;
  run_id: string;
  name: string;
  state: string;
  job_type: string;
}

export interface ArtifactNode {
  id: string;
  kind: "artifact";
  project: string;
  name: string;
  type: string;
  version: string;
  aliases: string[];
  size: number;
  state: string;
}

export type LineageNode = RunNode | ArtifactNode;

export interface LineageEdge {
  from: string;
  to: string;
}

export interface LineageGraph {
  nodes: LineageNode[];
  edges: LineageEdge[];
}

export interface RegistryEvent {
  action: string;
  alias: string | null;
  from_version: string | null;
  to_version: string | null;
  actor: string;
  ts: number | null;
}

export interface RegisteredModel {
  name: string;
  type: string;
  versions: VersionInfo[];
  protected_aliases: string[];
  history: RegistryEvent[];
}

// -- readers -------------------------------------------------------------------------------------

type Dict = Record<string, unknown>;
export const dict = (v: unknown): Dict => (v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Dict) : {});
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown, fallback = ""): string => (typeof v === "string" ? v : fallback);
const strOrNull = (v: unknown): string | null => (typeof v === "string" ? v : null);
const int = (v: unknown, fallback = 0): number => (typeof v === "number" && Number.isFinite(v) ? v : fallback);
const numOrNull = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);
const strings = (v: unknown): string[] => list(v).filter((x): x is string => typeof x === "string");

export function readCollections(raw: unknown): Collection[] {
  return list(raw)
    .map(dict)
    .filter((c) => typeof c["name"] === "string")
    .map((c) => ({
      name: str(c["name"]),
      type: str(c["type"], "unknown"),
      created_at: numOrNull(c["created_at"]),
      versions: int(c["versions"]),
      latest: strOrNull(c["latest"]),
    }));
}

export function readVersion(raw: unknown): VersionInfo {
  const d = dict(raw);
  const out: VersionInfo = {
    id: int(d["id"]),
    project: strOrNull(d["project"]),
    name: str(d["name"]),
    type: str(d["type"]),
    kind: str(d["kind"], "artifact"),
    version: str(d["version"], `v${int(d["index"])}`),
    index: int(d["index"]),
    aliases: strings(d["aliases"]),
    digest: str(d["digest"]),
    size: int(d["size"]),
    file_count: int(d["file_count"]),
    description: str(d["description"]),
    metadata: dict(d["metadata"]),
    state: str(d["state"], "committed"),
    created_at: numOrNull(d["created_at"]),
    logged_by: strOrNull(d["logged_by"]),
    client_id: strOrNull(d["client_id"]),
  };
  if (d["source"] && typeof d["source"] === "object") out.source = readVersion(d["source"]);
  if (Array.isArray(d["used_by"])) out.used_by = strings(d["used_by"]);
  return out;
}

export function readVersions(raw: unknown): VersionInfo[] {
  return list(raw).map(readVersion);
}

export function readFiles(raw: unknown): FileList {
  const d = dict(raw);
  const files = list(d["files"])
    .map(dict)
    .filter((f) => typeof f["path"] === "string")
    .map((f) => ({
      path: str(f["path"]),
      sha256: strOrNull(f["sha256"]),
      size: int(f["size"]),
      ref: strOrNull(f["ref"]),
      ref_digest: strOrNull(f["ref_digest"]),
    }));
  return { total: int(d["total"], files.length), files };
}

export function readLineage(raw: unknown): LineageGraph {
  const d = dict(raw);
  const nodes: LineageNode[] = [];
  for (const n of list(d["nodes"]).map(dict)) {
    const id = n["id"];
    if (typeof id !== "string") continue;
    if (n["kind"] === "run") {
      nodes.push({
        id,
        kind: "run",
        project: str(n["project"]),
        run_id: str(n["run_id"]),
        name: str(n["name"], str(n["run_id"])),
        state: str(n["state"]),
        job_type: str(n["job_type"]),
      });
    } else if (n["kind"] === "artifact") {
      nodes.push({
        id,
        kind: "artifact",
        project: str(n["project"]),
        name: str(n["name"]),
        type: str(n["type"]),
        version: str(n["version"]),
        aliases: strings(n["aliases"]),
        size: int(n["size"]),
        state: str(n["state"]),
      });
    }
  }
  const edges = list(d["edges"])
    .map(dict)
    .filter((e) => typeof e["from"] === "string" && typeof e["to"] === "string")
    .map((e) => ({ from: str(e["from"]), to: str(e["to"]) }));
  return { nodes, edges };
}

export function readEvent(raw: unknown): RegistryEvent {
  const e = dict(raw);
  return {
    action: str(e["action"]),
    alias: strOrNull(e["alias"]),
    from_version: strOrNull(e["from_version"]),
    to_version: strOrNull(e["to_version"]),
    actor: str(e["actor"]),
    ts: numOrNull(e["ts"]),
  };
}

export function readRegisteredModel(raw: unknown): RegisteredModel {
  const d = dict(raw);
  return {
    name: str(d["name"]),
    type: str(d["type"]),
    versions: readVersions(d["versions"]),
    protected_aliases: strings(d["protected_aliases"]),
    history: list(d["history"]).map(readEvent),
  };
}

// -- calls ---------------------------------------------------------------------------------------

export async function listCollections(project: string, signal?: AbortSignal): Promise<Collection[]> {
  return readCollections(await call("list_artifacts", { path: { project }, signal }));
}

export async function listVersions(project: string, name: string, signal?: AbortSignal): Promise<VersionInfo[]> {
  return readVersions(await call("list_artifact_versions", { path: { project, name }, signal }));
}

export async function getVersion(project: string, name: string, tag: string, signal?: AbortSignal): Promise<VersionInfo> {
  return readVersion(await call("get_artifact", { path: { project, name, tag }, signal }));
}

/** Every file of a version (the manifest, in pages of 10 000). */
export async function listFiles(project: string, name: string, tag: string, signal?: AbortSignal): Promise<FileList> {
  const files: FileEntry[] = [];
  const PAGE = 10_000;
  for (;;) {
    const page = readFiles(
      await call("list_artifact_files", { path: { project, name, tag }, query: { offset: files.length, limit: PAGE }, signal }),
    );
    files.push(...page.files);
    if (page.files.length < PAGE || files.length >= page.total) return { total: page.total, files };
  }
}

export async function runArtifacts(
  project: string,
  runId: string,
  direction: "produced" | "used",
  signal?: AbortSignal,
): Promise<VersionInfo[]> {
  return readVersions(await call("run_artifacts", { path: { project, run_id: runId }, query: { direction }, signal }));
}

export type LineageCentre = { kind: "run"; project: string; runId: string } | { kind: "artifact"; project: string; name: string; version: string };

/** The lineage around ``centre``, read by ``read`` (``readLineage``: runs and versions; the
 * graph view's ``readGraph`` keeps registry nodes and edge kinds too). */
export async function getLineage<T = LineageGraph>(
  centre: LineageCentre,
  depth: number,
  read: (raw: unknown) => T = readLineage as (raw: unknown) => T,
  signal?: AbortSignal,
): Promise<T> {
  const query = centre.kind === "run" ? { run: centre.runId, depth } : { artifact: `${centre.name}:${centre.version}`, depth };
  return read(await call("get_lineage", { path: { project: centre.project }, query, signal }));
}

export async function listRegistry(signal?: AbortSignal): Promise<RegisteredModel[]> {
  const raw = await call("list_registry", { signal });
  return (Array.isArray(raw) ? raw : []).map(readRegisteredModel);
}

export async function getRegisteredModel(name: string, signal?: AbortSignal): Promise<RegisteredModel> {
  return readRegisteredModel(await call("get_registered_model", { path: { name }, signal }));
}

export async function moveRegistryAlias(name: string, alias: string, version: number): Promise<VersionInfo> {
  return readVersion(await call("move_registry_alias", { path: { name }, body: { alias, version } }));
}

/** The URL of one stored file (a download: the server sends it as an attachment). */
export function fileUrl(project: string, name: string, tag: string, path: string): string {
  return urlFor("download_artifact_file", { path: { project, name, tag }, query: { path } });
}

/** The first ``limit`` bytes of a stored file (all of it when smaller), with the API key. */
export async function fetchFileBytes(url: string, limit: number, signal?: AbortSignal): Promise<Uint8Array> {
  const headers: Record<string, string> = { ...authHeaders(), Range: `bytes=0-${limit - 1}` };
  const response = await fetch(url, { headers, signal });
  if (!response.ok) {
    let detail = response.statusText;
    try {
      const parsed = (await response.json()) as { detail?: unknown };
      if (typeof parsed.detail === "string") detail = parsed.detail;
    } catch {
      /* not JSON */
    }
    throw new ApiError(response.status, detail || `HTTP ${response.status}`);
  }
  const bytes = new Uint8Array(await response.arrayBuffer());
  return bytes.length > limit ? bytes.slice(0, limit) : bytes;
}

/** Saves a stored file through a blob (so servers that need an API key work too). */
export async function downloadFile(url: string, filename: string): Promise<void> {
  const response = await fetch(url, { headers: authHeaders() });
  if (!response.ok) throw new ApiError(response.status, response.statusText);
  const blob = await response.blob();
  const href = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = href;
  a.download = filename;
  a.click();
  setTimeout(() => URL.revokeObjectURL(href), 1000);
}
