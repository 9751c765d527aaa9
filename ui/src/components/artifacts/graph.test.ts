import { describe, expect, it } from "vitest";
import { readLineage, type ArtifactNode, type LineageGraph, type RunNode } from "./api";
import {
  CHIP_HEIGHT,
  centreOfNodeId,
  centreOn,
  clip,
  completeNodes,
  edgePath,
  ensureVisible,
  fitView,
  neighbourhoodBox,
  hopsFrom,
  layoutGraph,
  mergeGraphs,
  NODE_WIDTH,
  nodeCentre,
  nodeHeight,
  nodeIdOf,
  nodeLines,
  readGraph,
  registryChips,
  zoomAt,
  type Graph,
  type RegistryNode,
} from "./graph";

const run = (id: string, name = id): RunNode => ({ id: `run:p/${id}`, kind: "run", project: "p", run_id: id, name, state: "finished", job_type: "train" });
const art = (name: string, v = "v0", aliases: string[] = []): ArtifactNode => ({
  id: `artifact:p/${name}:${v}`,
  kind: "artifact",
  project: "p",
  name,
  type: "dataset",
  version: v,
  aliases,
  size: 1,
  state: "committed",
});

// dataset -> train -> model -> eval -> predictions
const data = art("data");
const train = run("train");
const model = art("model", "v1", ["best", "latest"]);
const evalRun = run("eval");
const preds = art("preds");
const pipeline: LineageGraph = {
  nodes: [data, train, model, evalRun, preds],
  edges: [
    { from: data.id, to: train.id },
    { from: train.id, to: model.id },
    { from: model.id, to: evalRun.id },
    { from: evalRun.id, to: preds.id },
  ],
};

describe("readLineage", () => {
  it("keeps known node kinds and well-formed edges only", () => {
    const g = readLineage({
      nodes: [
        { id: "run:p/a", kind: "run", project: "p", run_id: "a", name: "<b>x</b>", state: "running", job_type: "" },
        { id: "artifact:p/d:v0", kind: "artifact", project: "p", name: "d", type: "dataset", version: "v0", aliases: ["raw", 3], size: 5 },
        { id: "x", kind: "other" },
        { kind: "run" },
      ],
      edges: [{ from: "artifact:p/d:v0", to: "run:p/a" }, { from: 1, to: "x" }],
    });
    expect(g.nodes.map((n) => n.id)).toEqual(["run:p/a", "artifact:p/d:v0"]);
    expect((g.nodes[1] as ArtifactNode).aliases).toEqual(["raw"]);
    expect(g.nodes[0]!.kind === "run" && g.nodes[0]!.name).toBe("<b>x</b>");
    expect(g.edges).toEqual([{ from: "artifact:p/d:v0", to: "run:p/a" }]);
    expect(readLineage(null)).toEqual({ nodes: [], edges: [] });
  });
});

describe("mergeGraphs", () => {
  it("adds new nodes and edges without duplicates; newer node fields win", () => {
    const base: LineageGraph = { nodes: [model, train], edges: [{ from: train.id, to: model.id }] };
    const more: LineageGraph = {
      nodes: [{ ...train, state: "crashed" }, data],
      edges: [
        { from: data.id, to: train.id },
        { from: train.id, to: model.id },
      ],
    };
    const merged = mergeGraphs(base, more);
    expect(merged.nodes.map((n) => n.id).sort()).toEqual([data.id, model.id, train.id].sort());
    expect((merged.nodes.find((n) => n.id === train.id) as RunNode).state).toBe("crashed");
    expect(merged.edges).toHaveLength(2);
  });

  it("drops edges to unknown nodes and self loops", () => {
    const merged = mergeGraphs({ nodes: [train], edges: [] }, { nodes: [], edges: [{ from: train.id, to: "run:p/ghost" }, { from: train.id, to: train.id }] });
    expect(merged.edges).toEqual([]);
  });
});

describe("hops and complete nodes", () => {
  it("counts hops both ways along edges", () => {
    const hops = hopsFrom(pipeline, model.id);
    expect(hops.get(model.id)).toBe(0);
    expect(hops.get(train.id)).toBe(1);
    expect(hops.get(evalRun.id)).toBe(1);
    expect(hops.get(data.id)).toBe(2);
    expect(hops.get(preds.id)).toBe(2);
  });

  it("marks nodes within depth-1 hops and expanded ones as complete", () => {
    const complete = completeNodes(pipeline, model.id, 2, [preds.id]);
    expect([...complete].sort()).toEqual([evalRun.id, model.id, preds.id, train.id].sort());
    expect(completeNodes(pipeline, model.id, 1, []).has(train.id)).toBe(false);
  });
});

describe("layoutGraph", () => {
  it("lays the data flow out left to right", () => {
    const layout = layoutGraph(pipeline);
    const x = (id: string) => layout.nodes.find((n) => n.node.id === id)!.x;
    expect(x(data.id)).toBeLessThan(x(train.id));
    expect(x(train.id)).toBeLessThan(x(model.id));
    expect(x(model.id)).toBeLessThan(x(evalRun.id));
    expect(x(evalRun.id)).toBeLessThan(x(preds.id));
    expect(layout.edges).toHaveLength(4);
    for (const e of layout.edges) expect(e.points.length).toBeGreaterThanOrEqual(2);
    expect(nodeCentre(layout, data.id)!.x).toBeLessThan(nodeCentre(layout, train.id)!.x);
    expect(nodeCentre(layout, "nothing")).toBeUndefined();
    expect(layout.width).toBeGreaterThan(4 * 200);
  });

  it("keeps 200 nodes apart (no two boxes overlap) and is deterministic", () => {
    const nodes: LineageGraph["nodes"] = [data];
    const edges: LineageGraph["edges"] = [];
    for (let i = 0; i < 66; i++) {
      const r = run(`r${i}`);
      const m = art(`m${i}`);
      const e = run(`e${i}`);
      nodes.push(r, m, e);
      edges.push({ from: data.id, to: r.id }, { from: r.id, to: m.id }, { from: m.id, to: e.id });
    }
    const graph = { nodes, edges };
    expect(nodes.length).toBe(199);
    const t0 = Date.now();
    const layout = layoutGraph(graph);
    expect(Date.now() - t0).toBeLessThan(5000);
    const boxes = layout.nodes;
    for (let i = 0; i < boxes.length; i++) {
      for (let j = i + 1; j < boxes.length; j++) {
        const a = boxes[i]!;
        const b = boxes[j]!;
        const overlap = a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
        expect(overlap).toBe(false);
      }
    }
    const again = layoutGraph({ nodes: [...nodes].reverse(), edges: [...edges].reverse() });
    expect(again.nodes.map((n) => [n.node.id, n.x, n.y])).toEqual(layout.nodes.map((n) => [n.node.id, n.x, n.y]));
  });
});

describe("labels and view", () => {
  it("labels runs with name and state, artifacts with name:version, type and aliases", () => {
    expect(nodeLines(train)).toEqual(["train", "finished · train"]);
    expect(nodeLines(model)).toEqual(["model:v1", "dataset", "@best @latest"]);
    expect(nodeLines(data)).toEqual(["data:v0", "dataset"]);
    expect(clip("abcdef", 4)).toBe("abc…");
    expect(clip("abc", 4)).toBe("abc");
  });

  it("draws edge paths", () => {
    expect(edgePath([])).toBe("");
    expect(edgePath([{ x: 0, y: 0 }, { x: 10, y: 5 }])).toBe("M0,0 L10,5");
    expect(edgePath([{ x: 0, y: 0 }, { x: 10, y: 0 }, { x: 20, y: 10 }])).toBe("M0,0 Q10,0 20,10");
  });

  it("fits small graphs whole and centres big ones on the focus", () => {
    expect(fitView({ width: 400, height: 200 }, 800, 400)).toEqual({ x: -200, y: -100, scale: 1 });
    expect(fitView({ width: 1600, height: 200 }, 800, 400).scale).toBe(0.5);
    const big = fitView({ width: 10000, height: 400 }, 1000, 400, { x: 5000, y: 200 }, 0.5);
    expect(big.scale).toBe(0.5);
    expect(big.x + 1000 / 2 / big.scale).toBe(5000);
    // zooming keeps the point under the cursor
    const z = zoomAt({ x: 0, y: 0, scale: 1 }, 2, 50, 50);
    expect(z).toEqual({ x: 25, y: 25, scale: 2 });
    expect(zoomAt({ x: 0, y: 0, scale: 1 }, 1000, 0, 0).scale).toBe(3);
    expect(centreOn({ x: 0, y: 0, scale: 2 }, { x: 100, y: 100 }, 200, 100)).toEqual({ x: 50, y: 75, scale: 2 });
  });

  it("brings a box into view with the least move, zooming out only when it must", () => {
    const view = { x: 0, y: 0, scale: 1 };
    // already inside: unchanged
    expect(ensureVisible(view, { x: 100, y: 100, width: 50, height: 50 }, 400, 300, 10)).toEqual(view);
    // off to the left: moved just enough
    expect(ensureVisible(view, { x: -100, y: 100, width: 50, height: 50 }, 400, 300, 10)).toEqual({ x: -110, y: 0, scale: 1 });
    // off to the bottom right
    expect(ensureVisible(view, { x: 500, y: 400, width: 50, height: 50 }, 400, 300, 10)).toEqual({ x: 160, y: 160, scale: 1 });
    // too big: zoomed out and centred
    const z = ensureVisible(view, { x: 0, y: 0, width: 780, height: 100 }, 400, 300, 10);
    expect(z.scale).toBeCloseTo(380 / 780);
    expect(z.x + 400 / 2 / z.scale).toBeCloseTo(390);
  });

  it("boxes a node with its neighbours", () => {
    const layout = layoutGraph(pipeline);
    const box = neighbourhoodBox(layout, train.id)!;
    const at = (id: string) => layout.nodes.find((n) => n.node.id === id)!;
    expect(box.x).toBe(at(data.id).x);
    expect(box.x + box.width).toBe(at(model.id).x + at(model.id).width);
    expect(neighbourhoodBox(layout, "nothing")).toBeUndefined();
  });
});

describe("node ids", () => {
  it("reads what to fetch from a node id and back", () => {
    expect(centreOfNodeId("run:p/abc")).toEqual({ kind: "run", project: "p", runId: "abc" });
    expect(centreOfNodeId("artifact:my.proj/shapes-data:v12")).toEqual({ kind: "artifact", project: "my.proj", name: "shapes-data", version: "v12" });
    expect(centreOfNodeId("other:x")).toBeNull();
    for (const id of ["run:p/abc", "artifact:p/m:v1"]) expect(nodeIdOf(centreOfNodeId(id)!)).toBe(id);
  });
});

describe("registry links", () => {
  // segmenter v0 (staging) and v1 (production, protected) both linked into registry/seg
  const model0 = art("segmenter", "v0");
  const model1 = art("segmenter", "v1", ["latest"]);
  const answer = {
    nodes: [
      { id: train.id, kind: "run", project: "p", run_id: "train", name: "train", state: "finished", job_type: "train" },
      { ...model0 },
      { ...model1 },
      {
        id: "registry:seg",
        kind: "registry",
        name: "seg",
        type: "model",
        aliases: [
          { alias: "production", version: 1, artifact: model1.id },
          { alias: "staging", version: 0, artifact: model0.id },
          { alias: "broken", version: "1", artifact: model1.id },
        ],
        protected: ["production", 7],
      },
      { id: "registry:nameless", kind: "registry" },
    ],
    edges: [
      { from: train.id, to: model0.id, kind: "produced" },
      { from: train.id, to: model1.id, kind: "produced" },
      { from: model0.id, to: "registry:seg", kind: "linked", version: 0, aliases: ["staging"] },
      { from: model1.id, to: "registry:seg", kind: "linked", version: 1, aliases: ["production"] },
      { from: model1.id, to: "run:p/x", kind: "sideways" },
    ],
  };

  it("reads registered models, their aliases and the kind of every edge", () => {
    const g = readGraph(answer);
    expect(g.nodes.map((n) => n.id)).toEqual([train.id, model0.id, model1.id, "registry:seg"]);
    const reg = g.nodes[3] as RegistryNode;
    expect(reg).toEqual({
      id: "registry:seg",
      kind: "registry",
      name: "seg",
      type: "model",
      aliases: [
        { alias: "production", version: 1, artifact: model1.id },
        { alias: "staging", version: 0, artifact: model0.id },
      ],
      protected: ["production"],
    });
    expect(g.edges.map((e) => [e.from, e.to, e.kind, e.version, e.aliases])).toEqual([
      [train.id, model0.id, "produced", undefined, undefined],
      [train.id, model1.id, "produced", undefined, undefined],
      [model0.id, "registry:seg", "linked", 0, ["staging"]],
      [model1.id, "registry:seg", "linked", 1, ["production"]],
      [model1.id, "run:p/x", undefined, undefined, undefined],
    ]);
    // an answer from a server without registry nodes or edge kinds reads as before
    expect(readGraph({ nodes: [answer.nodes[0]], edges: [{ from: "a", to: "b" }] }).edges).toEqual([{ from: "a", to: "b" }]);
  });

  it("labels a registered model and flows its alias chips inside the node", () => {
    const reg = readGraph(answer).nodes[3] as RegistryNode;
    expect(nodeLines(reg)).toEqual(["registry/seg", "registered model"]);
    const chips = registryChips(reg);
    expect(chips.map((c) => [c.alias, c.text, c.version, c.locked])).toEqual([
      ["production", "production", 1, true],
      ["staging", "staging", 0, false],
    ]);
    // inside the node, below the two text lines, not overlapping
    for (const c of chips) {
      expect(c.x).toBeGreaterThanOrEqual(0);
      expect(c.x + c.width).toBeLessThanOrEqual(NODE_WIDTH);
      expect(c.y).toBeGreaterThan(2 * 15);
      expect(c.y + CHIP_HEIGHT).toBeLessThanOrEqual(nodeHeight(reg));
    }
    const [a, b] = chips as [(typeof chips)[0], (typeof chips)[0]];
    expect(a.y !== b.y || a.x + a.width <= b.x).toBe(true);
    // many aliases wrap onto more rows and make the node taller; a long one is cut to fit
    const many: RegistryNode = {
      ...reg,
      aliases: ["a-long-alias-name", "candidate", "challenger", "x".repeat(64)].map((alias, i) => ({ alias, version: i, artifact: model1.id })),
    };
    const rows = new Set(registryChips(many).map((c) => c.y));
    expect(rows.size).toBeGreaterThanOrEqual(3);
    expect(nodeHeight(many)).toBeGreaterThan(nodeHeight(reg));
    const long = registryChips(many)[3]!;
    expect(long.text.endsWith("…")).toBe(true);
    expect(long.x + long.width).toBeLessThanOrEqual(NODE_WIDTH);
    expect(nodeHeight({ ...reg, aliases: [] })).toBe(2 * 15 + 16);
  });

  it("lays a registered model out after the versions it links", () => {
    const g = readGraph(answer);
    const layout = layoutGraph(g);
    const at = (id: string) => layout.nodes.find((n) => n.node.id === id)!;
    expect(at("registry:seg").x).toBeGreaterThan(at(model0.id).x + at(model0.id).width);
    expect(at("registry:seg").x).toBeGreaterThan(at(model1.id).x + at(model1.id).width);
    expect(at("registry:seg").height).toBe(nodeHeight(g.nodes[3]!));
    expect(layout.edges.filter((e) => e.edge.kind === "linked")).toHaveLength(2);
  });

  it("never expands a registered model nor walks through it", () => {
    // model1 is 5 hops out through the runs, 3 through the registry: the registry must not
    // make it look complete at depth 4 (the server did not fetch its neighbours)
    const retrain = run("retrain");
    const g: Graph = {
      nodes: [model0, train, evalRun, preds, retrain, model1, { id: "registry:seg", kind: "registry", name: "seg", type: "model", aliases: [], protected: [] }],
      edges: [
        { from: train.id, to: model0.id, kind: "produced" },
        { from: model0.id, to: evalRun.id, kind: "used" },
        { from: evalRun.id, to: preds.id, kind: "produced" },
        { from: preds.id, to: retrain.id, kind: "used" },
        { from: retrain.id, to: model1.id, kind: "produced" },
        { from: model0.id, to: "registry:seg", kind: "linked", version: 0, aliases: [] },
        { from: model1.id, to: "registry:seg", kind: "linked", version: 1, aliases: [] },
      ],
    };
    const hops = hopsFrom(g, train.id);
    expect(hops.get(model1.id)).toBe(5);
    expect(hops.get("registry:seg")).toBe(2);
    const complete = completeNodes(g, train.id, 4, []);
    expect(complete.has(preds.id)).toBe(true);
    expect(complete.has(model1.id)).toBe(false);
    expect(complete.has("registry:seg")).toBe(true);
    expect(completeNodes(g, train.id, 1, []).has("registry:seg")).toBe(true);
    expect(centreOfNodeId("registry:seg")).toBeNull();
  });

  it("merges a registered model's aliases across fetches, the newer answer winning", () => {
    const reg = (aliases: RegistryNode["aliases"], prot: string[] = []): RegistryNode => ({ id: "registry:seg", kind: "registry", name: "seg", type: "model", aliases, protected: prot });
    const base: Graph = {
      nodes: [model0, model1, reg([{ alias: "staging", version: 0, artifact: model0.id }, { alias: "production", version: 1, artifact: model1.id }])],
      edges: [],
    };
    // a later fetch around model1 sees only production, now protected
    const more: Graph = { nodes: [model1, reg([{ alias: "production", version: 1, artifact: model1.id }], ["production"])], edges: [] };
    const merged = mergeGraphs(base, more).nodes.find((n) => n.id === "registry:seg") as RegistryNode;
    expect(merged.aliases.map((a) => `${a.alias}@v${a.version}`)).toEqual(["production@v1", "staging@v0"]);
    expect(merged.protected).toEqual(["production"]);
    // an alias seen on another version in a newer answer moves there
    const moved = mergeGraphs(base, { nodes: [reg([{ alias: "staging", version: 1, artifact: model1.id }])], edges: [] });
    expect((moved.nodes.find((n) => n.id === "registry:seg") as RegistryNode).aliases.find((a) => a.alias === "staging")).toEqual({ alias: "staging", version: 1, artifact: model1.id });
  });
});
