// Typed calls to the kiseki API by operation id. Method, path and types all come from the
// server's OpenAPI document (see scripts/gen-client.mjs), so a renamed route or field fails the
// type check instead of failing in a user's browser.
import { decodeSeries, fromJsonSeries, seriesAccept, SERIES_MEDIA, type DecodedSeriesMany, type SeriesColumn } from "../lib/seriesCodec";
import { OPERATIONS, type OperationId } from "./ops.gen";
import type { components, operations } from "./schema.gen";

export type Schemas = components["schemas"];
export type RunRead = Schemas["RunRead"];
export type RunDetail = Schemas["RunDetail"];
export type Series = Schemas["Series"];
export type Project = Schemas["ProjectRead"];
export type Catalogue = Schemas["Catalogue"];
export type Workspace = Schemas["Workspace"];
export type ConsoleLine = Schemas["ConsoleLine"];

type Op<K extends OperationId> = operations[K];
type Params<K extends OperationId> = Op<K> extends { parameters: infer P } ? P : never;
type PathOf<K extends OperationId> = Params<K> extends { path: infer X } ? X : never;
type QueryOf<K extends OperationId> = Params<K> extends { query?: infer X } ? X : never;
type BodyOf<K extends OperationId> = Op<K> extends {
  requestBody: { content: { "application/json": infer B } };
}
  ? B
  : never;
export type ResultOf<K extends OperationId> = Op<K> extends {
  responses: { 200: { content: { "application/json": infer R } } };
}
  ? R
  : unknown;

export interface CallArgs<K extends OperationId> {
  path?: PathOf<K>;
  query?: QueryOf<K>;
  body?: BodyOf<K>;
  signal?: AbortSignal;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
  ) {
    super(`${status}: ${detail}`);
  }
}

/** The URL of an operation with its path and query parameters filled in. */
export function urlFor<K extends OperationId>(op: K, args: Pick<CallArgs<K>, "path" | "query">): string {
  let route: string = OPERATIONS[op].path;
  const pathParams = (args.path ?? {}) as Record<string, string | number>;
  route = route.replace(/\{(\w+)\}/g, (_, name: string) => {
    const value = pathParams[name];
    if (value === undefined) throw new Error(`${op}: missing path parameter ${name}`);
    return encodeURIComponent(String(value));
  });
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries((args.query ?? {}) as Record<string, unknown>)) {
    if (v !== undefined && v !== null && v !== "") query.set(k, String(v));
  }
  const qs = query.toString();
  return qs ? `${route}?${qs}` : route;
}

/** JSON from the server carries NaN and ±Infinity as {"$float": "nan" | "inf" | "-inf"}. */
export function reviveFloats(_key: string, value: unknown): unknown {
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    const tagged = (value as Record<string, unknown>)["$float"];
    if (typeof tagged === "string" && Object.keys(value).length === 1) {
      if (tagged === "nan") return NaN;
      if (tagged === "inf") return Infinity;
      if (tagged === "-inf") return -Infinity;
    }
  }
  return value;
}

export function parseJson(text: string): unknown {
  // A reviver costs a call per value (~0.1 s for a 3 MB chart response): parse plainly and walk
  // the result only when the text holds a tagged float at all.
  const value: unknown = JSON.parse(text);
  return text.includes('"$float"') ? reviveTree(value) : value;
}

function reviveTree(value: unknown): unknown {
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      if (item !== null && typeof item === "object") value[i] = reviveTree(item);
    }
    return value;
  }
  const revived = reviveFloats("", value);
  if (revived !== value) return revived;
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    const item = record[key];
    if (item !== null && typeof item === "object") record[key] = reviveTree(item);
  }
  return record;
}

/** Fired on window when the server answers 401: the app then asks for an API key. */
export const AUTH_REQUIRED = "kiseki:auth-required";

let token: string | null = null;
export function authHeaders(): Record<string, string> {
  return token ? { Authorization: `Bearer ${token}` } : {};
}
/** API key for servers that require one (kept in this tab's session storage only). */
export function setToken(value: string | null): void {
  token = value;
  if (value) sessionStorage.setItem("kiseki.token", value);
  else sessionStorage.removeItem("kiseki.token");
}
if (typeof sessionStorage !== "undefined") token = sessionStorage.getItem("kiseki.token");

/** The response of ``op`` (status 2xx; otherwise an ApiError with the server's detail). */
async function send<K extends OperationId>(op: K, args: CallArgs<K>, accept: string): Promise<Response> {
  const headers: Record<string, string> = { Accept: accept };
  if (token) headers["Authorization"] = `Bearer ${token}`;
  const init: RequestInit = { method: OPERATIONS[op].method, headers, signal: args.signal };
  if (args.body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(args.body);
  }
  const response = await fetch(urlFor(op, args), init);
  if (response.status === 401 && typeof window !== "undefined") {
    window.dispatchEvent(new CustomEvent(AUTH_REQUIRED));
  }
  if (!response.ok) {
    const text = await response.text();
    let detail = text;
    try {
      const parsed = JSON.parse(text) as { detail?: unknown };
      detail = typeof parsed.detail === "string" ? parsed.detail : JSON.stringify(parsed.detail);
    } catch {
      /* not JSON: keep the text */
    }
    throw new ApiError(response.status, detail || response.statusText);
  }
  return response;
}

/** The raw bytes answered by ``op`` (binary answers such as ``get_blob_batch``). */
export async function callBytes<K extends OperationId>(op: K, args: CallArgs<K>, accept: string): Promise<ArrayBuffer> {
  return (await send(op, args, accept)).arrayBuffer();
}

export async function call<K extends OperationId>(op: K, args: CallArgs<K> = {}): Promise<ResultOf<K>> {
  const response = await send(op, args, "application/json");
  return parseJson(await response.text()) as ResultOf<K>;
}

/** ``query_series`` in its binary form (see lib/seriesCodec): only ``columns`` (all when
 * omitted), as Float64Arrays. A server that answers JSON instead is read as well. */
export async function querySeries(
  args: CallArgs<"query_series">,
  columns?: readonly SeriesColumn[],
): Promise<DecodedSeriesMany> {
  const response = await send("query_series", args, `${seriesAccept(columns)}, application/json;q=0.5`);
  if ((response.headers.get("content-type") ?? "").startsWith(SERIES_MEDIA)) {
    return decodeSeries(await response.arrayBuffer());
  }
  return fromJsonSeries(parseJson(await response.text()) as ResultOf<"query_series">, columns);
}
