import { describe, expect, it } from "vitest";
import { readLineage, type ArtifactNode, type LineageGraph, type RunNode } from "./api";
import { centreOfNodeId, centreOn, clip, completeNodes, edgePath, ensureVisible, fitView, neighbourhoodBox, hopsFrom, layoutGraph, mergeGraphs, nodeCentre, nodeIdOf, nodeLines, zoomAt } from "./graph";

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
