// Safe readers for a run's captured metadata (free-form JSON from the SDK: any section may be
// missing, hold {"error": "..."} or have unexpected types when written by another client).

export type Dict = Record<string, unknown>;

export function dict(value: unknown): Dict | undefined {
  return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Dict) : undefined;
}

export function str(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return undefined;
}

export function num(value: unknown): number | undefined {
  return typeof value === "number" ? value : undefined;
}

export function section(metadata: unknown, name: string): Dict | undefined {
  return dict(dict(metadata)?.[name]);
}

/** A section's capture error ({"error": "..."}), if it failed. */
export function sectionError(metadata: unknown, name: string): string | undefined {
  return str(section(metadata, name)?.["error"]);
}

export function argv(metadata: unknown): string[] {
  const list = section(metadata, "command")?.["argv"];
  return Array.isArray(list) ? list.map((a) => (typeof a === "string" ? a : String(a))) : [];
}

export function packages(metadata: unknown): Record<string, string> {
  const raw = dict(dict(metadata)?.["packages"]) ?? dict(section(metadata, "python")?.["packages"]) ?? {};
  const out: Record<string, string> = {};
  for (const [name, version] of Object.entries(raw)) {
    if (name === "error") continue;
    out[name] = str(version) ?? "";
  }
  return out;
}

export function gpus(metadata: unknown): Dict[] {
  const list = dict(metadata)?.["gpus"] ?? section(metadata, "host")?.["gpus"];
  return Array.isArray(list) ? list.map((g) => dict(g) ?? {}) : [];
}

export function shortCommit(commit: string | undefined): string {
  return commit ? commit.slice(0, 10) : "";
}

export function baseName(path: string): string {
  const i = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  return i >= 0 ? path.slice(i + 1) : path;
}
