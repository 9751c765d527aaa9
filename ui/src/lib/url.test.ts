import { describe, expect, it } from "vitest";
import { decodeList, encodeList, hrefFor, parseRoute, pathFor, withQuery, type Route } from "./url";

describe("parseRoute", () => {
  it("parses every page", () => {
    expect(parseRoute("/")).toEqual({ name: "projects" });
    expect(parseRoute("")).toEqual({ name: "projects" });
    expect(parseRoute("/p/mnist")).toEqual({ name: "workspace", project: "mnist" });
    expect(parseRoute("/p/mnist/")).toEqual({ name: "workspace", project: "mnist" });
    expect(parseRoute("/p/mnist/r/abc123")).toEqual({ name: "run", project: "mnist", run: "abc123" });
    expect(parseRoute("/p/mnist/compare")).toEqual({ name: "compare", project: "mnist" });
  });

  it("decodes escaped segments", () => {
    expect(parseRoute("/p/my%20proj/r/a%2Fb")).toEqual({ name: "run", project: "my proj", run: "a/b" });
  });

  it("keeps a malformed escape as typed", () => {
    expect(parseRoute("/p/100%/compare")).toEqual({ name: "compare", project: "100%" });
  });

  it("returns notfound for unknown paths", () => {
    for (const path of ["/x", "/p", "/p/a/r", "/p/a/r/b/c", "/p/a/other", "/p/a/compare/x"]) {
      expect(parseRoute(path)).toEqual({ name: "notfound", path });
    }
  });
});

describe("hrefFor / pathFor", () => {
  it("round-trips through parseRoute, odd characters included", () => {
    const routes: Route[] = [
      { name: "projects" },
      { name: "workspace", project: "a b/c?d#e" },
      { name: "run", project: "p", run: "<img src=x>" },
      { name: "compare", project: "日本" },
    ];
    for (const route of routes) expect(parseRoute(hrefFor(route))).toEqual(route);
  });

  it("adds sorted query parameters and leaves out empty ones", () => {
    const href = hrefFor({ name: "workspace", project: "p" }, { q: "x y", filter: "config.lr > 0.1", group: "", hide: undefined });
    expect(href).toBe("/p/p?filter=config.lr+%3E+0.1&q=x+y");
    const params = new URLSearchParams(href.split("?")[1]);
    expect(params.get("filter")).toBe("config.lr > 0.1");
    expect(params.get("q")).toBe("x y");
    expect(hrefFor({ name: "projects" }, { a: "" })).toBe("/");
  });

  it("builds the compare link", () => {
    const href = hrefFor({ name: "compare", project: "p" }, { runs: encodeList(["r1", "r2"]) });
    expect(href).toBe("/p/p/compare?runs=r1%2Cr2");
    expect(decodeList(new URLSearchParams(href.split("?")[1]).get("runs"))).toEqual(["r1", "r2"]);
  });

  it("routes the artifact and registry pages", () => {
    const routes: Route[] = [
      { name: "artifacts", project: "p" },
      { name: "artifact", project: "p", artifact: "shapes" },
      { name: "artifactVersion", project: "p", artifact: "shapes", version: "v3" },
      { name: "artifactVersion", project: "p q", artifact: "a.b-c", version: "best" },
      { name: "registry" },
      { name: "registryModel", model: "segmenter" },
    ];
    for (const route of routes) expect(parseRoute(hrefFor(route))).toEqual(route);
    expect(hrefFor({ name: "artifactVersion", project: "p", artifact: "m", version: "v1" }, { tab: "files", file: "a/b.txt" })).toBe(
      "/p/p/artifacts/m/v1?file=a%2Fb.txt&tab=files",
    );
    expect(parseRoute("/p/p/artifacts/m/v1/x")).toEqual({ name: "notfound", path: "/p/p/artifacts/m/v1/x" });
    expect(parseRoute("/registry/a/b")).toEqual({ name: "notfound", path: "/registry/a/b" });
  });

  it("passes a notfound path through", () => {
    expect(pathFor({ name: "notfound", path: "/zzz" })).toBe("/zzz");
  });
});

describe("encodeList / decodeList", () => {
  it("round-trips items holding commas, percent signs and unicode", () => {
    const items = ["a", "b,c", "50%", "x y", "summary.val/loss", "日本"];
    expect(decodeList(encodeList(items))).toEqual(items);
  });

  it("treats empty input as an empty list", () => {
    expect(encodeList([])).toBe("");
    expect(decodeList("")).toEqual([]);
    expect(decodeList(null)).toEqual([]);
    expect(decodeList(undefined)).toEqual([]);
    expect(decodeList("a,,b,")).toEqual(["a", "b"]);
  });

  it("keeps a malformed item as typed", () => {
    expect(decodeList("a,%E0%A4%A,b")).toEqual(["a", "%E0%A4%A", "b"]);
  });

  it("survives a trip through URLSearchParams", () => {
    const items = ["config.a,b", "summary.x&y=z"];
    const qs = withQuery("", { cols: encodeList(items) });
    expect(decodeList(new URLSearchParams(qs).get("cols"))).toEqual(items);
  });
});

describe("withQuery", () => {
  it("sets, replaces and removes keys, sorting the result", () => {
    expect(withQuery("?b=1&a=2", { c: "3" })).toBe("?a=2&b=1&c=3");
    expect(withQuery("?a=1", { a: "2" })).toBe("?a=2");
    expect(withQuery("?a=1&b=2", { a: undefined })).toBe("?b=2");
    expect(withQuery("?a=1&b=2", { b: "" })).toBe("?a=1");
  });

  it("returns an empty string when nothing is left", () => {
    expect(withQuery("?a=1", { a: undefined })).toBe("");
    expect(withQuery("", {})).toBe("");
  });

  it("escapes values so they read back unchanged", () => {
    const filter = 'config.lr > 0.01 and name ~ "a&b=c"';
    expect(new URLSearchParams(withQuery("", { filter })).get("filter")).toBe(filter);
  });
});
