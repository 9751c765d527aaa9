// The URL is the view state: pages and every setting that changes what is shown live in the
// path and query string, so a copied link reproduces the view.
import { useCallback, useSyncExternalStore } from "react";

export type Route =
  | { name: "projects" }
  | { name: "workspace"; project: string }
  | { name: "run"; project: string; run: string }
  | { name: "compare"; project: string }
  | { name: "artifacts"; project: string }
  | { name: "artifact"; project: string; artifact: string }
  | { name: "artifactVersion"; project: string; artifact: string; version: string }
  | { name: "registry" }
  | { name: "registryModel"; model: string }
  | { name: "notfound"; path: string };

const seg = (s: string) => encodeURIComponent(s);

export function parseRoute(pathname: string): Route {
  const parts = pathname.split("/").filter(Boolean).map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return p;
    }
  });
  if (parts.length === 0) return { name: "projects" };
  if (parts[0] === "p" && parts[1] !== undefined) {
    const project = parts[1];
    if (parts.length === 2) return { name: "workspace", project };
    if (parts[2] === "r" && parts[3] !== undefined && parts.length === 4)
      return { name: "run", project, run: parts[3] };
    if (parts[2] === "compare" && parts.length === 3) return { name: "compare", project };
    if (parts[2] === "artifacts") {
      if (parts.length === 3) return { name: "artifacts", project };
      if (parts.length === 4) return { name: "artifact", project, artifact: parts[3] as string };
      if (parts.length === 5)
        return { name: "artifactVersion", project, artifact: parts[3] as string, version: parts[4] as string };
    }
  }
  if (parts[0] === "registry") {
    if (parts.length === 1) return { name: "registry" };
    if (parts.length === 2) return { name: "registryModel", model: parts[1] as string };
  }
  return { name: "notfound", path: pathname };
}

export function pathFor(route: Route): string {
  switch (route.name) {
    case "projects":
      return "/";
    case "workspace":
      return `/p/${seg(route.project)}`;
    case "run":
      return `/p/${seg(route.project)}/r/${seg(route.run)}`;
    case "compare":
      return `/p/${seg(route.project)}/compare`;
    case "artifacts":
      return `/p/${seg(route.project)}/artifacts`;
    case "artifact":
      return `/p/${seg(route.project)}/artifacts/${seg(route.artifact)}`;
    case "artifactVersion":
      return `/p/${seg(route.project)}/artifacts/${seg(route.artifact)}/${seg(route.version)}`;
    case "registry":
      return "/registry";
    case "registryModel":
      return `/registry/${seg(route.model)}`;
    case "notfound":
      return route.path;
  }
}

export type Query = Record<string, string | undefined>;

/** A path plus query; empty and undefined values are left out so links stay short. */
export function hrefFor(route: Route, query: Query = {}): string {
  const params = new URLSearchParams();
  for (const key of Object.keys(query).sort()) {
    const value = query[key];
    if (value !== undefined && value !== "") params.set(key, value);
  }
  const qs = params.toString();
  return qs ? `${pathFor(route)}?${qs}` : pathFor(route);
}

/** Lists in the query string: comma separated, each item URI-escaped so commas inside survive. */
export function encodeList(items: readonly string[]): string {
  return items.map((s) => encodeURIComponent(s)).join(",");
}

export function decodeList(value: string | null | undefined): string[] {
  if (!value) return [];
  return value
    .split(",")
    .filter(Boolean)
    .map((s) => {
      try {
        return decodeURIComponent(s);
      } catch {
        return s;
      }
    });
}

/** Returns a new search string with ``changes`` applied (undefined or "" removes a key). */
export function withQuery(search: string, changes: Query): string {
  const params = new URLSearchParams(search);
  for (const [key, value] of Object.entries(changes)) {
    if (value === undefined || value === "") params.delete(key);
    else params.set(key, value);
  }
  const sorted = new URLSearchParams([...params.entries()].sort(([a], [b]) => a.localeCompare(b)));
  const qs = sorted.toString();
  return qs ? `?${qs}` : "";
}

// --- React bindings -------------------------------------------------------------------------

const listeners = new Set<() => void>();
function emit(): void {
  for (const fn of listeners) fn();
}
if (typeof window !== "undefined") window.addEventListener("popstate", emit);

function subscribe(fn: () => void): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}
const snapshot = () => window.location.pathname + window.location.search;

export function navigate(href: string, opts: { replace?: boolean } = {}): void {
  if (opts.replace) window.history.replaceState(null, "", href);
  else window.history.pushState(null, "", href);
  emit();
}

/** Re-renders on navigation; returns pathname and search. */
export function useLocation(): { pathname: string; search: string } {
  const loc = useSyncExternalStore(subscribe, snapshot, snapshot);
  const i = loc.indexOf("?");
  return i < 0 ? { pathname: loc, search: "" } : { pathname: loc.slice(0, i), search: loc.slice(i) };
}

/** One query parameter as state. Setting it replaces the history entry (no back-button spam)
 * unless ``push`` is true. */
export function useQueryParam(
  name: string,
  fallback = "",
): [string, (value: string | undefined, push?: boolean) => void] {
  const { search } = useLocation();
  const value = new URLSearchParams(search).get(name) ?? fallback;
  const set = useCallback(
    (next: string | undefined, push = false) => {
      const nextSearch = withQuery(window.location.search, { [name]: next === fallback ? undefined : next });
      navigate(window.location.pathname + nextSearch, { replace: !push });
    },
    [name, fallback],
  );
  return [value, set];
}

/** Several query parameters at once (one history entry). */
export function setQuery(changes: Query, push = false): void {
  navigate(window.location.pathname + withQuery(window.location.search, changes), { replace: !push });
}
