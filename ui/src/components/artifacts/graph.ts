// The lineage graph, pure: reading the server's answer, merging fetched neighbourhoods, which
// nodes are fully known, node labels and sizes, and a layered left-to-right layout.
//
// Besides runs and artifact versions the graph holds registered models ("registry:<name>"),
// linked from the versions in the graph: leaves, never expanded, and never a path between two
// versions (a registry edge is not data flow, so it does not count as a hop).
//
// Layout: @dagrejs/dagre (the maintained fork of dagre): a Sugiyama-style layered layout that
// ranks nodes along the data flow (dataset -> run -> model -> run -> predictions reads left to
// right), orders each layer to cut crossings and routes edges between layers. It is small
// (~50 KB, one dependency), synchronous and fast enough to lay out a few hundred nodes on every
// merge; elkjs lays out as well but is a 1.5 MB asynchronous worker, more than this graph needs.
import dagre from "@dagrejs/dagre";
import { dict, readLineage, type LineageCentre, type LineageEdge, type LineageNode } from "./api";

/** An alias of a registered model on a link of a version in the graph. */
export interface RegistryAlias {
  alias: string;
  /** the registered model's version number (1 for v1 of the model) */
  version: number;
  /** node id of the linked artifact version */
  artifact: string;
}

export interface RegistryNode {
  id: string; // "registry:<name>"
  kind: "registry";
  name: string;
  type: string;
  aliases: RegistryAlias[];
  /** the model's protected aliases (only maintainers move them) */
  protected: string[];
}

export type GraphNode = LineageNode | RegistryNode;

export type EdgeKind = "produced" | "used" | "linked";

export interface GraphEdge extends LineageEdge {
  kind?: EdgeKind;
  /** linked edges: the registered model's version of this link and the aliases on it */
  version?: number;
  aliases?: string[];
}

export interface Graph {
  nodes: GraphNode[];
  edges: GraphEdge[];
}

const EDGE_KINDS: readonly string[] = ["produced", "used", "linked"];
const isInt = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v);
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : []);

/** The server's lineage answer, read defensively: runs and versions as ``readLineage`` reads
 * them, plus registered models and each edge's kind (and a link's version and aliases). */
export function readGraph(raw: unknown): Graph {
  const base = readLineage(raw);
  const d = dict(raw);
  const nodes: GraphNode[] = [...base.nodes];
  for (const n of (Array.isArray(d["nodes"]) ? d["nodes"] : []).map(dict)) {
    const id = n["id"];
    const name = n["name"];
    if (n["kind"] !== "registry" || typeof id !== "string" || typeof name !== "string") continue;
    const aliases = (Array.isArray(n["aliases"]) ? n["aliases"] : [])
      .map(dict)
      .filter((a) => typeof a["alias"] === "string" && isInt(a["version"]) && typeof a["artifact"] === "string")
      .map((a) => ({ alias: a["alias"] as string, version: a["version"] as number, artifact: a["artifact"] as string }));
    nodes.push({ id, kind: "registry", name, type: typeof n["type"] === "string" ? n["type"] : "", aliases, protected: strings(n["protected"]) });
  }
  const edges: GraphEdge[] = [];
  for (const e of (Array.isArray(d["edges"]) ? d["edges"] : []).map(dict)) {
    const from = e["from"];
    const to = e["to"];
    if (typeof from !== "string" || typeof to !== "string") continue;
    const edge: GraphEdge = { from, to };
    const kind = e["kind"];
    if (typeof kind === "string" && EDGE_KINDS.includes(kind)) edge.kind = kind as EdgeKind;
    if (edge.kind === "linked") {
      if (isInt(e["version"])) edge.version = e["version"];
      edge.aliases = strings(e["aliases"]);
    }
    edges.push(edge);
  }
  return { nodes, edges };
}

export const edgeKey = (e: LineageEdge): string => `${e.from}->${e.to}`;

/** A registered model seen again: its aliases by name, the newer answer winning (one fetch
 * only lists the aliases on versions in its own neighbourhood). */
function mergeRegistry(old: RegistryNode, newer: RegistryNode): RegistryNode {
  const aliases = new Map(old.aliases.map((a) => [a.alias, a]));
  for (const a of newer.aliases) aliases.set(a.alias, a);
  return { ...newer, aliases: [...aliases.values()].sort((a, b) => a.alias.localeCompare(b.alias)) };
}

/** ``base`` with the nodes and edges of ``more`` added (a node seen again takes the newer
 * fields: its state or aliases may have changed). Edges whose ends are unknown are dropped. */
export function mergeGraphs(base: Graph, more: Graph): Graph {
  const nodes = new Map<string, GraphNode>();
  for (const n of base.nodes) nodes.set(n.id, n);
  for (const n of more.nodes) {
    const old = nodes.get(n.id);
    nodes.set(n.id, old?.kind === "registry" && n.kind === "registry" ? mergeRegistry(old, n) : n);
  }
  const edges = new Map<string, GraphEdge>();
  for (const e of [...base.edges, ...more.edges]) {
    if (nodes.has(e.from) && nodes.has(e.to) && e.from !== e.to) edges.set(edgeKey(e), e);
  }
  return { nodes: [...nodes.values()], edges: [...edges.values()] };
}

/** Hops from ``centre`` to every node, edges taken both ways; links into the registry lead to
 * the registered model and no further. */
export function hopsFrom(graph: Graph, centre: string): Map<string, number> {
  const next = new Map<string, string[]>();
  const link = (a: string, b: string) => {
    const list = next.get(a);
    if (list) list.push(b);
    else next.set(a, [b]);
  };
  for (const e of graph.edges) {
    link(e.from, e.to);
    if (e.kind !== "linked") link(e.to, e.from);
  }
  const hops = new Map<string, number>([[centre, 0]]);
  let frontier = [centre];
  while (frontier.length) {
    const after: string[] = [];
    for (const id of frontier) {
      const d = hops.get(id) ?? 0;
      for (const n of next.get(id) ?? []) {
        if (!hops.has(n)) {
          hops.set(n, d + 1);
          after.push(n);
        }
      }
    }
    frontier = after;
  }
  return hops;
}

/** Nodes whose whole neighbourhood is in the graph: those within ``depth - 1`` hops of the
 * centre (the server's answer for ``depth`` holds every edge of those), those expanded, and
 * registered models (leaves: nothing to expand). */
export function completeNodes(graph: Graph, centre: string, depth: number, expanded: Iterable<string>): Set<string> {
  const out = new Set<string>();
  for (const [id, d] of hopsFrom(graph, centre)) if (d < depth) out.add(id);
  for (const id of expanded) out.add(id);
  for (const n of graph.nodes) if (n.kind === "registry") out.add(n.id);
  return out;
}

// -- labels and sizes ----------------------------------------------------------------------------

export const NODE_WIDTH = 200;
export const LINE_HEIGHT = 15;
const PAD_Y = 8;

/** Lines of text of a node: the first one is its title. Runs: name, then state and job type;
 * artifacts: name:version, then type, then aliases; registered models: registry/name, then
 * what is registered (their aliases are chips below, see ``registryChips``). */
export function nodeLines(node: GraphNode): string[] {
  if (node.kind === "run") {
    return [node.name || node.run_id, [node.state, node.job_type].filter(Boolean).join(" · ")];
  }
  if (node.kind === "registry") return [`registry/${node.name}`, `registered ${node.type || "model"}`];
  const lines = [`${node.name}:${node.version}`, node.type];
  if (node.aliases.length) lines.push(node.aliases.map((a) => `@${a}`).join(" "));
  return lines;
}

export const CHIP_HEIGHT = 16;
const CHIP_GAP = 4;
const CHIP_PAD_X = 6;
const CHIP_CHAR = 6.2; // width of a character at the chips' 11px font, a little generous
const LOCK_WIDTH = 13;
const PAD_X = 10;

/** One alias chip of a registry node, placed relative to the node's top-left corner. */
export interface Chip extends RegistryAlias {
  locked: boolean;
  /** the alias as shown (cut to fit the node) */
  text: string;
  x: number;
  y: number;
  width: number;
}

/** The alias chips of a registered model ("production v1", protected ones with a lock),
 * flowed into rows across the node's width under its text lines. */
export function registryChips(node: RegistryNode): Chip[] {
  const chips: Chip[] = [];
  const top = PAD_Y + nodeLines(node).length * LINE_HEIGHT + 2;
  const room = NODE_WIDTH - 2 * PAD_X;
  let x = PAD_X;
  let y = top;
  for (const a of node.aliases) {
    const locked = node.protected.includes(a.alias);
    const fixed = 2 * CHIP_PAD_X + (locked ? LOCK_WIDTH : 0) + (String(a.version).length + 2) * CHIP_CHAR;
    const text = clip(a.alias, Math.max(3, Math.floor((room - fixed) / CHIP_CHAR)));
    const width = Math.min(room, fixed + Array.from(text).length * CHIP_CHAR);
    if (x > PAD_X && x + width > PAD_X + room) {
      x = PAD_X;
      y += CHIP_HEIGHT + CHIP_GAP;
    }
    chips.push({ ...a, locked, text, x, y, width });
    x += width + CHIP_GAP;
  }
  return chips;
}

export function nodeHeight(node: GraphNode): number {
  const text = nodeLines(node).length * LINE_HEIGHT + 2 * PAD_Y;
  if (node.kind !== "registry") return text;
  const chips = registryChips(node);
  const last = chips[chips.length - 1];
  return last ? last.y + CHIP_HEIGHT + PAD_Y : text;
}

/** ``text`` cut to about ``max`` characters (a node is a fixed width; the full text is in
 * the node's tooltip). */
export function clip(text: string, max: number): string {
  const chars = Array.from(text);
  return chars.length <= max ? text : `${chars.slice(0, Math.max(1, max - 1)).join("")}…`;
}

// -- layout --------------------------------------------------------------------------------------

export interface Point {
  x: number;
  y: number;
}

export interface PlacedNode {
  node: GraphNode;
  /** top-left corner */
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface PlacedEdge {
  edge: GraphEdge;
  points: Point[];
}

export interface Layout {
  nodes: PlacedNode[];
  edges: PlacedEdge[];
  width: number;
  height: number;
}

/** Layered layout, data flowing left to right. Deterministic for the same input order, so
 * nodes and edges are sorted first (a merge must not reshuffle what did not change). */
export function layoutGraph(graph: Graph): Layout {
  const g = new dagre.graphlib.Graph({ multigraph: false });
  g.setGraph({ rankdir: "LR", nodesep: 14, ranksep: 70, edgesep: 8, marginx: 16, marginy: 16 });
  g.setDefaultEdgeLabel(() => ({}));
  const nodes = [...graph.nodes].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const known = new Set(nodes.map((n) => n.id));
  for (const n of nodes) g.setNode(n.id, { width: NODE_WIDTH, height: nodeHeight(n) });
  const edges = graph.edges.filter((e) => known.has(e.from) && known.has(e.to) && e.from !== e.to);
  edges.sort((a, b) => (edgeKey(a) < edgeKey(b) ? -1 : edgeKey(a) > edgeKey(b) ? 1 : 0));
  for (const e of edges) g.setEdge(e.from, e.to);
  dagre.layout(g);
  const placed: PlacedNode[] = nodes.map((node) => {
    const label = g.node(node.id) as { x: number; y: number; width: number; height: number };
    return { node, x: label.x - label.width / 2, y: label.y - label.height / 2, width: label.width, height: label.height };
  });
  const placedEdges: PlacedEdge[] = edges.map((edge) => {
    const label = g.edge(edge.from, edge.to) as { points?: Point[] } | undefined;
    return { edge, points: (label?.points ?? []).map((p) => ({ x: p.x, y: p.y })) };
  });
  const meta = g.graph() as { width?: number; height?: number };
  return { nodes: placed, edges: placedEdges, width: meta.width ?? 0, height: meta.height ?? 0 };
}

/** An SVG path through ``points``: straight ends, smooth (quadratic) bends in between. */
export function edgePath(points: readonly Point[]): string {
  if (points.length === 0) return "";
  const f = (n: number) => Math.round(n * 10) / 10;
  const first = points[0] as Point;
  if (points.length < 3) return points.map((p, i) => `${i ? "L" : "M"}${f(p.x)},${f(p.y)}`).join(" ");
  let d = `M${f(first.x)},${f(first.y)}`;
  for (let i = 1; i < points.length - 1; i++) {
    const p = points[i] as Point;
    const q = points[i + 1] as Point;
    const mid = i === points.length - 2 ? q : { x: (p.x + q.x) / 2, y: (p.y + q.y) / 2 };
    d += ` Q${f(p.x)},${f(p.y)} ${f(mid.x)},${f(mid.y)}`;
  }
  return d;
}

// -- view ---------------------------------------------------------------------------------------

/** What the viewport shows: the graph point at its top-left corner and pixels per graph unit. */
export interface View {
  x: number;
  y: number;
  scale: number;
}

export const MIN_SCALE = 0.02;
export const MAX_SCALE = 3;

/** The view that shows the whole layout in a ``vw`` x ``vh`` pixel viewport, at most at scale 1;
 * a layout too big to be read whole is shown at ``minScale`` centred on ``focus`` instead. */
export function fitView(layout: Pick<Layout, "width" | "height">, vw: number, vh: number, focus?: Point, minScale = 0.6): View {
  const w = Math.max(layout.width, 1);
  const h = Math.max(layout.height, 1);
  let scale = Math.min(vw / w, vh / h, 1);
  let cx = w / 2;
  let cy = h / 2;
  if (scale < minScale && focus) {
    scale = minScale;
    cx = focus.x;
    cy = focus.y;
  }
  scale = Math.max(scale, MIN_SCALE);
  return { x: cx - vw / 2 / scale, y: cy - vh / 2 / scale, scale };
}

/** ``view`` zoomed by ``factor`` (> 1 zooms in) keeping the viewport pixel (sx, sy) on the same
 * graph point. */
export function zoomAt(view: View, factor: number, sx: number, sy: number): View {
  const scale = Math.min(MAX_SCALE, Math.max(MIN_SCALE, view.scale * factor));
  const gx = view.x + sx / view.scale;
  const gy = view.y + sy / view.scale;
  return { x: gx - sx / scale, y: gy - sy / scale, scale };
}

/** ``view`` moved so the graph point ``at`` is in the middle of a ``vw`` x ``vh`` viewport. */
export function centreOn(view: View, at: Point, vw: number, vh: number): View {
  return { x: at.x - vw / 2 / view.scale, y: at.y - vh / 2 / view.scale, scale: view.scale };
}

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** The box around ``id`` and the nodes one edge away from it (undefined if it is not laid out). */
export function neighbourhoodBox(layout: Layout, id: string): Box | undefined {
  const near = new Set([id]);
  for (const { edge } of layout.edges) {
    if (edge.from === id) near.add(edge.to);
    if (edge.to === id) near.add(edge.from);
  }
  const boxes = layout.nodes.filter((n) => near.has(n.node.id));
  if (!boxes.some((n) => n.node.id === id)) return undefined;
  const x0 = Math.min(...boxes.map((b) => b.x));
  const y0 = Math.min(...boxes.map((b) => b.y));
  const x1 = Math.max(...boxes.map((b) => b.x + b.width));
  const y1 = Math.max(...boxes.map((b) => b.y + b.height));
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}

/** ``view`` moved as little as needed (zoomed out when it must be) so that ``box`` plus
 * ``margin`` pixels is inside a ``vw`` x ``vh`` viewport. */
export function ensureVisible(view: View, box: Box, vw: number, vh: number, margin = 24): View {
  let scale = view.scale;
  const fits = (s: number) => box.width * s + 2 * margin <= vw && box.height * s + 2 * margin <= vh;
  if (!fits(scale)) {
    scale = Math.max(MIN_SCALE, Math.min((vw - 2 * margin) / Math.max(box.width, 1), (vh - 2 * margin) / Math.max(box.height, 1)));
    return { x: box.x + box.width / 2 - vw / 2 / scale, y: box.y + box.height / 2 - vh / 2 / scale, scale };
  }
  const m = margin / scale;
  const w = vw / scale;
  const h = vh / scale;
  let { x, y } = view;
  if (box.x - m < x) x = box.x - m;
  else if (box.x + box.width + m > x + w) x = box.x + box.width + m - w;
  if (box.y - m < y) y = box.y - m;
  else if (box.y + box.height + m > y + h) y = box.y + box.height + m - h;
  return { x, y, scale };
}

export function nodeCentre(layout: Layout, id: string): Point | undefined {
  const n = layout.nodes.find((p) => p.node.id === id);
  return n ? { x: n.x + n.width / 2, y: n.y + n.height / 2 } : undefined;
}

/** What to fetch to expand a node, read from its id ("run:<project>/<run_id>",
 * "artifact:<project>/<name>:v<N>"); null for an id of another form (a registered model's
 * "registry:<name>" among them). */
export function centreOfNodeId(id: string): LineageCentre | null {
  const run = /^run:([^/]+)\/(.+)$/.exec(id);
  if (run) return { kind: "run", project: run[1] as string, runId: run[2] as string };
  const artifact = /^artifact:([^/]+)\/(.+):([^:]+)$/.exec(id);
  if (artifact) return { kind: "artifact", project: artifact[1] as string, name: artifact[2] as string, version: artifact[3] as string };
  return null;
}

export function nodeIdOf(centre: LineageCentre): string {
  return centre.kind === "run" ? `run:${centre.project}/${centre.runId}` : `artifact:${centre.project}/${centre.name}:${centre.version}`;
}
