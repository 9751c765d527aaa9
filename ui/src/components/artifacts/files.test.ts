import { describe, expect, it } from "vitest";
import { readRegisteredModel, type FileEntry } from "./api";
import {
  aliasTable,
  allFolders,
  buildFileTree,
  decodeText,
  diffFiles,
  diffMetadata,
  diffVersions,
  formatBytes,
  groupByType,
  imageCellSha,
  looksBinary,
  parentFolders,
  parseDiffParam,
  previewKind,
  readKisekiTable,
} from "./files";

const file = (path: string, sha = "a", size = 1): FileEntry => ({ path, sha256: sha, size, ref: null, ref_digest: null });

describe("buildFileTree", () => {
  it("nests folders, sorts folders before files in natural order, and sums sizes", () => {
    const tree = buildFileTree([
      file("labels.csv", "1", 10),
      file("images/10.txt", "2", 1),
      file("images/2.txt", "3", 2),
      file("images/sub/x.bin", "4", 100),
      file("README.md", "5", 3),
    ]);
    expect(tree.folders.map((f) => f.path)).toEqual(["images"]);
    expect(tree.files.map((f) => f.name)).toEqual(["labels.csv", "README.md"]);
    const images = tree.folders[0]!;
    expect(images.files.map((f) => f.name)).toEqual(["2.txt", "10.txt"]);
    expect(images.folders.map((f) => [f.name, f.path])).toEqual([["sub", "images/sub"]]);
    expect(images.fileCount).toBe(3);
    expect(images.size).toBe(103);
    expect(tree.fileCount).toBe(5);
    expect(tree.size).toBe(116);
    expect(allFolders(tree)).toEqual(["images", "images/sub"]);
  });

  it("keeps names with markup and dots as plain strings", () => {
    const tree = buildFileTree([file("<img src=x onerror=alert(1)>/a.txt"), file(".hidden")]);
    expect(tree.folders[0]!.name).toBe("<img src=x onerror=alert(1)>");
    expect(tree.files[0]!.name).toBe(".hidden");
  });

  it("lists the folders holding a path", () => {
    expect(parentFolders("a/b/c.txt")).toEqual(["a", "a/b"]);
    expect(parentFolders("c.txt")).toEqual([]);
  });
});

describe("previewKind", () => {
  it("picks a preview by file name", () => {
    expect(previewKind("notes.txt")).toBe("text");
    expect(previewKind("data/labels.CSV")).toBe("text");
    expect(previewKind("train.py")).toBe("text");
    expect(previewKind("conf/model.yaml")).toBe("text");
    expect(previewKind("run.log")).toBe("text");
    expect(previewKind("README")).toBe("text");
    expect(previewKind("page.html")).toBe("text");
    expect(previewKind("logo.svg")).toBe("text");
    expect(previewKind("config.json")).toBe("json");
    expect(previewKind("val.table.json")).toBe("table");
    expect(previewKind("media/abc.png")).toBe("image");
    expect(previewKind("x.JPEG")).toBe("image");
    expect(previewKind("a.webp")).toBe("image");
    expect(previewKind("a.gif")).toBe("image");
    expect(previewKind("model.bin")).toBe("none");
    expect(previewKind("params.npz")).toBe("none");
    expect(previewKind(".bashrc")).toBe("none");
  });

  it("tells binary bytes and decodes cut UTF-8", () => {
    expect(looksBinary(new Uint8Array([104, 105, 0, 1]))).toBe(true);
    expect(looksBinary(new TextEncoder().encode("hello"))).toBe(false);
    const bytes = new TextEncoder().encode("aé");
    expect(decodeText(bytes.slice(0, 2), true)).toBe("a");
    expect(decodeText(bytes, false)).toBe("aé");
  });

  it("formats sizes", () => {
    expect(formatBytes(0)).toBe("0 B");
    expect(formatBytes(1023)).toBe("1023 B");
    expect(formatBytes(4096)).toBe("4.00 KiB");
    expect(formatBytes(5 * 1024 * 1024)).toBe("5.00 MiB");
  });
});

describe("kiseki tables", () => {
  it("reads columns, types and rows", () => {
    const t = readKisekiTable({ columns: ["id", "score"], types: { id: "number" }, data: [[0, 0.5], [1, 0.75]] });
    expect(t).toEqual({ columns: ["id", "score"], types: { id: "number" }, rows: [[0, 0.5], [1, 0.75]] });
    expect(readKisekiTable({ columns: "x" })).toBeNull();
    expect(readKisekiTable([1, 2])).toBeNull();
  });

  it("finds image cells", () => {
    const sha = "a".repeat(64);
    expect(imageCellSha({ _type: "image", sha256: sha })).toBe(sha);
    expect(imageCellSha({ _type: "image", sha256: "../x" })).toBeNull();
    expect(imageCellSha("x")).toBeNull();
  });
});

describe("version diff", () => {
  it("finds added, removed and changed files by sha256", () => {
    const a = [file("same.txt", "s"), file("changed.txt", "1", 5), file("gone.txt", "g")];
    const b = [file("same.txt", "s"), file("changed.txt", "2", 7), file("new.txt", "n")];
    const { changes, unchanged } = diffFiles(a, b);
    expect(unchanged).toBe(1);
    expect(changes.map((c) => [c.path, c.status])).toEqual([
      ["changed.txt", "changed"],
      ["gone.txt", "removed"],
      ["new.txt", "added"],
    ]);
    expect(changes[0]!.before!.size).toBe(5);
    expect(changes[0]!.after!.size).toBe(7);
  });

  it("compares references by URI and digest", () => {
    const ref = (digest: string): FileEntry => ({ path: "r", sha256: null, size: 0, ref: "s3://b/k", ref_digest: digest });
    expect(diffFiles([ref("e1")], [ref("e1")]).unchanged).toBe(1);
    expect(diffFiles([ref("e1")], [ref("e2")]).changes[0]!.status).toBe("changed");
  });

  it("diffs metadata key by key (nested keys dotted)", () => {
    const changes = diffMetadata({ lr: 0.1, opt: { name: "sgd", m: 0.9 }, gone: 1 }, { lr: 0.2, opt: { name: "sgd" }, extra: "x" });
    expect(changes.map((c) => [c.key, c.status, c.before, c.after])).toEqual([
      ["extra", "added", undefined, "x"],
      ["gone", "removed", 1, undefined],
      ["lr", "changed", 0.1, 0.2],
      ["opt.m", "removed", 0.9, undefined],
    ]);
  });

  it("puts files, metadata and description together", () => {
    const d = diffVersions(
      { metadata: { a: 1 }, description: "old" },
      { metadata: { a: 1 }, description: "new" },
      [file("x", "1")],
      [file("x", "1")],
    );
    expect(d.files).toEqual([]);
    expect(d.unchanged).toBe(1);
    expect(d.metadata).toEqual([]);
    expect(d.description).toEqual({ before: "old", after: "new" });
  });

  it("reads the diff parameter", () => {
    expect(parseDiffParam("v0,v2")).toEqual(["v0", "v2"]);
    expect(parseDiffParam("v0")).toBeNull();
    expect(parseDiffParam("v1,v1")).toBeNull();
    expect(parseDiffParam("")).toBeNull();
  });
});

describe("groupByType", () => {
  it("groups collections by type, pipeline types first, names sorted", () => {
    const c = (name: string, type: string) => ({ name, type, created_at: 0, versions: 1, latest: "v0" });
    const groups = groupByType([c("zeta", "model"), c("preds", "predictions"), c("b", "zzz"), c("alpha", "model"), c("shapes", "dataset"), c("a", "aaa")]);
    expect(groups.map(([t, list]) => [t, list.map((x) => x.name)])).toEqual([
      ["dataset", ["shapes"]],
      ["model", ["alpha", "zeta"]],
      ["predictions", ["preds"]],
      ["aaa", ["a"]],
      ["zzz", ["b"]],
    ]);
  });
});

describe("registry", () => {
  it("reads a registered model and lists its aliases, latest first", () => {
    const model = readRegisteredModel({
      name: "seg",
      type: "model",
      versions: [
        { version: "v1", index: 1, aliases: ["production", "latest"], source: { project: "p", name: "m", version: "v4", logged_by: "r1" } },
        { version: "v0", index: 0, aliases: ["staging"] },
      ],
      protected_aliases: ["production"],
      history: [{ action: "link", alias: null, from_version: null, to_version: "v0", actor: "run r1", ts: 1 }, "junk"],
    });
    expect(aliasTable(model).map(([a, v]) => [a, v.version])).toEqual([
      ["latest", "v1"],
      ["production", "v1"],
      ["staging", "v0"],
    ]);
    expect(model.versions[0]!.source!.logged_by).toBe("r1");
    expect(model.history[0]).toEqual({ action: "link", alias: null, from_version: null, to_version: "v0", actor: "run r1", ts: 1 });
    expect(model.history[1]!.action).toBe("");
    expect(model.protected_aliases).toEqual(["production"]);
  });
});
