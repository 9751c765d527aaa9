// The lineage graph around a run or an artifact version: data flows left to right (dataset ->
// run -> model -> run -> predictions), laid out in layers by dagre (see graph.ts). Registered
// models that link a version in the graph hang off it (a dashed edge to a green node with the
// model's aliases as chips, protected ones locked). "+" on a node fetches that node's own
// producers and consumers and merges them in; a click on a node opens its page (a registered
// model's page for a registry node). Drag to pan, scroll (or the buttons) to zoom. Depth and
// expanded nodes are in the URL (?depth=, ?expand=), so a link shows the same graph.
import { useCallback, useEffect, useId, useMemo, useRef, useState, type KeyboardEvent, type MouseEvent, type PointerEvent } from "react";
import { errorText } from "../../lib/data";
import { decodeList, encodeList, hrefFor, navigate, setQuery, useQueryParam } from "../../lib/url";
import { useAsync, useWidth } from "../media/hooks";
import { getLineage, type LineageCentre } from "./api";
import { LockIcon } from "./common";
import {
  CHIP_HEIGHT,
  centreOfNodeId,
  centreOn,
  clip,
  completeNodes,
  edgeKey,
  edgePath,
  ensureVisible,
  fitView,
  layoutGraph,
  LINE_HEIGHT,
  mergeGraphs,
  neighbourhoodBox,
  nodeCentre,
  nodeIdOf,
  nodeLines,
  readGraph,
  registryChips,
  zoomAt,
  type Graph,
  type GraphEdge,
  type GraphNode,
  type Layout,
  type RegistryNode,
  type View,
} from "./graph";
import "./artifacts.css";

const HEIGHT = 560;
const DEPTHS = [1, 2, 3, 4, 6, 10, 20];
const EMPTY: Graph = { nodes: [], edges: [] };

/** The lineage around ``centre`` with the registered models linking its versions. */
function fetchGraph(centre: LineageCentre, depth: number, signal?: AbortSignal): Promise<Graph> {
  return getLineage(centre, depth, readGraph, signal);
}

function hrefOf(node: GraphNode): string {
  if (node.kind === "run") return hrefFor({ name: "run", project: node.project, run: node.run_id });
  if (node.kind === "registry") return hrefFor({ name: "registryModel", model: node.name });
  return hrefFor({ name: "artifactVersion", project: node.project, artifact: node.name, version: node.version });
}

/** "name:vN" of an artifact node id, for tooltips. */
function versionLabel(id: string): string {
  const c = centreOfNodeId(id);
  return c?.kind === "artifact" ? `${c.name}:${c.version}` : id;
}

function tooltip(node: GraphNode): string {
  if (node.kind === "run") return `run ${node.name} (${node.run_id})\nstate: ${node.state}${node.job_type ? `\njob type: ${node.job_type}` : ""}\nproject: ${node.project}`;
  if (node.kind === "registry") {
    const aliases = node.aliases.map((a) => `\n${a.alias}${node.protected.includes(a.alias) ? " (protected)" : ""}: v${a.version} = ${versionLabel(a.artifact)}`);
    return `registry/${node.name}\nregistered ${node.type || "model"}${aliases.join("")}`;
  }
  return `${node.name}:${node.version}\ntype: ${node.type}${node.aliases.length ? `\naliases: ${node.aliases.join(", ")}` : ""}\nproject: ${node.project}`;
}

/** "shapes-segmenter:v3 linked as registry/segmenter:v1 (production)" */
function linkTitle(edge: GraphEdge): string {
  const aliases = edge.aliases?.length ? ` (${edge.aliases.join(", ")})` : "";
  return `${versionLabel(edge.from)} linked as ${edge.to.replace(/^registry:/, "registry/")}${edge.version !== undefined ? `:v${edge.version}` : ""}${aliases}`;
}

/** A registered model's aliases as chips inside its node: "production v1", protected ones
 * locked and outlined as on the Registry page. */
function RegistryChips({ node }: { node: RegistryNode }) {
  return (
    <g className="node-chips">
      {registryChips(node).map((chip) => (
        <g
          key={chip.alias}
          className={chip.locked ? "node-chip protected" : "node-chip"}
          transform={`translate(${chip.x},${chip.y})`}
          data-testid="lineage-alias"
          data-alias={chip.alias}
          data-version={`v${chip.version}`}
          data-artifact={chip.artifact}
          data-protected={chip.locked ? "true" : "false"}
        >
          <rect width={chip.width} height={CHIP_HEIGHT} rx={CHIP_HEIGHT / 2} className="chip-box" />
          {chip.locked && (
            <g transform={`translate(5,${(CHIP_HEIGHT - 11) / 2})`}>
              <LockIcon />
            </g>
          )}
          <text x={chip.locked ? 19 : 6} y={CHIP_HEIGHT - 4.5} className="chip-text">
            {chip.text}
            <tspan className="chip-version"> v{chip.version}</tspan>
          </text>
        </g>
      ))}
    </g>
  );
}

interface Expansion {
  graph?: Graph;
  error?: string;
}

export function LineageGraph({ centre, testId = "lineage" }: { centre: LineageCentre; testId?: string }) {
  const centreId = nodeIdOf(centre);
  const [depthParam] = useQueryParam("depth", "2");
  const depth = Math.min(20, Math.max(1, Number.parseInt(depthParam, 10) || 2));
  const [expandParam] = useQueryParam("expand", "");
  const expanded = useMemo(() => decodeList(expandParam), [expandParam]);
  const base = useAsync(`${centreId}\n${depth}`, (signal) => fetchGraph(centre, depth, signal));

  // Neighbourhoods of expanded nodes, fetched once each.
  const [extras, setExtras] = useState<Record<string, Expansion>>({});
  const pending = useRef(new Set<string>());
  useEffect(() => {
    for (const id of expanded) {
      if (extras[id] || pending.current.has(id)) continue;
      const target = centreOfNodeId(id);
      if (!target) continue;
      pending.current.add(id);
      fetchGraph(target, 1)
        .then((graph) => setExtras((e) => ({ ...e, [id]: { graph } })))
        .catch((err: unknown) => setExtras((e) => ({ ...e, [id]: { error: errorText(err) } })))
        .finally(() => pending.current.delete(id));
    }
  }, [expanded, extras]);

  const graph = useMemo(() => {
    let g = base.data ?? EMPTY;
    for (const id of expanded) {
      const more = extras[id]?.graph;
      if (more) g = mergeGraphs(g, more);
    }
    return g;
  }, [base.data, expanded, extras]);
  const loadedExpansions = useMemo(() => expanded.filter((id) => extras[id]?.graph), [expanded, extras]);
  const complete = useMemo(() => completeNodes(graph, centreId, depth, loadedExpansions), [graph, centreId, depth, loadedExpansions]);
  const layout = useMemo(() => layoutGraph(graph), [graph]);
  const expansionErrors = expanded.map((id) => extras[id]?.error).filter((e): e is string => !!e);
  const waiting = new Set(expanded.filter((id) => !extras[id]));

  // -- view: fitted at first, then kept steady around the node that changed --------------------
  const boxRef = useRef<HTMLDivElement>(null);
  const width = useWidth(boxRef);
  const [view, setView] = useState<View | null>(null);
  const shown = useRef<Layout | null>(null);
  const anchor = useRef<string | null>(null);
  const fit = useCallback(
    (all: boolean) => {
      if (!width) return;
      const focus = nodeCentre(layout, centreId);
      setView(all ? fitView(layout, width, HEIGHT, focus, 0.05) : fitView(layout, width, HEIGHT, focus));
    },
    [layout, width, centreId],
  );
  useEffect(() => {
    if (!width || layout.nodes.length === 0) return;
    const before = shown.current;
    shown.current = layout;
    if (!before || view === null) {
      fit(false);
      return;
    }
    if (before === layout) return;
    // Keep the expanded node (or the centre) where it was on screen.
    const id = anchor.current ?? centreId;
    anchor.current = null;
    const was = nodeCentre(before, id);
    const now = nodeCentre(layout, id);
    const near = neighbourhoodBox(layout, id);
    setView((v) => {
      if (!v) return v;
      const kept = was && now ? { ...v, x: v.x + now.x - was.x, y: v.y + now.y - was.y } : v;
      // what came in with the expansion is brought into view
      return near ? ensureVisible(kept, near, width, HEIGHT) : kept;
    });
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [layout, width]);

  const expand = useCallback(
    (id: string) => {
      anchor.current = id;
      const current = decodeList(new URLSearchParams(window.location.search).get("expand"));
      if (!current.includes(id)) setQuery({ expand: encodeList([...current, id]) });
    },
    [],
  );

  // -- pan and zoom --------------------------------------------------------------------------
  const svgRef = useRef<SVGSVGElement>(null);
  const dragged = useRef(false);
  useEffect(() => {
    const svg = svgRef.current;
    if (!svg) return;
    const onWheel = (e: WheelEvent) => {
      e.preventDefault();
      const rect = svg.getBoundingClientRect();
      const factor = Math.exp(-e.deltaY * (e.deltaMode === 1 ? 0.05 : 0.0015));
      setView((v) => v && zoomAt(v, factor, e.clientX - rect.left, e.clientY - rect.top));
    };
    svg.addEventListener("wheel", onWheel, { passive: false });
    return () => svg.removeEventListener("wheel", onWheel);
  }, []);
  const onPointerDown = (e: PointerEvent<SVGSVGElement>) => {
    if (e.button !== 0 || !view) return;
    if ((e.target as Element).closest("[data-testid=expand-node]")) return;
    const start = { x: e.clientX, y: e.clientY, view };
    dragged.current = false;
    const move = (ev: globalThis.PointerEvent) => {
      const dx = ev.clientX - start.x;
      const dy = ev.clientY - start.y;
      if (!dragged.current && Math.hypot(dx, dy) < 4) return;
      dragged.current = true;
      setView({ x: start.view.x - dx / start.view.scale, y: start.view.y - dy / start.view.scale, scale: start.view.scale });
    };
    const up = () => {
      window.removeEventListener("pointermove", move);
      window.removeEventListener("pointerup", up);
      // the click that ends a drag opens nothing
      setTimeout(() => (dragged.current = false), 0);
    };
    window.addEventListener("pointermove", move);
    window.addEventListener("pointerup", up);
  };
  const zoomBy = (factor: number) => setView((v) => v && zoomAt(v, factor, width / 2, HEIGHT / 2));

  // -- drawing (memoised: panning re-renders only the view box) -------------------------------
  const [hovered, setHovered] = useState<string | null>(null);
  const uid = useId().replace(/[^A-Za-z0-9_-]/g, "");
  const drawing = useMemo(() => {
    const touching = (id: string) => hovered !== null && (id === hovered || graph.edges.some((e) => (e.from === hovered && e.to === id) || (e.to === hovered && e.from === id)));
    const open = (e: MouseEvent<Element>, node: GraphNode) => {
      if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
      e.preventDefault();
      if (dragged.current) return;
      navigate(hrefOf(node));
      window.scrollTo(0, 0);
    };
    const onExpandKey = (e: KeyboardEvent<SVGGElement>, id: string) => {
      if (e.key === "Enter" || e.key === " ") {
        e.preventDefault();
        expand(id);
      }
    };
    return (
      <>
        <g className="lineage-edges">
          {layout.edges.map(({ edge, points }) => {
            const hot = hovered !== null && (edge.from === hovered || edge.to === hovered);
            const cls = ["lineage-edge", edge.kind ? `kind-${edge.kind}` : "", hot ? "hot" : ""].filter(Boolean).join(" ");
            return (
              <path
                key={edgeKey(edge)}
                d={edgePath(points)}
                className={cls}
                markerEnd={`url(#arrow-${uid}${hot ? "-hot" : ""})`}
                data-testid="lineage-edge"
                data-edge={edgeKey(edge)}
                data-kind={edge.kind}
                data-aliases={edge.kind === "linked" ? (edge.aliases ?? []).join(",") : undefined}
              >
                {edge.kind === "linked" && <title>{linkTitle(edge)}</title>}
              </path>
            );
          })}
        </g>
        <g className="lineage-nodes">
          {layout.nodes.map(({ node, x, y, width: w, height: h }) => {
            const isCentre = node.id === centreId;
            const isComplete = complete.has(node.id);
            const lines = nodeLines(node);
            const dim = hovered !== null && !touching(node.id);
            const cls = [
              "lineage-node",
              `kind-${node.kind}`,
              node.kind === "run" ? `state-${node.state}` : "",
              isCentre ? "centre" : "",
              dim ? "dim" : "",
            ]
              .filter(Boolean)
              .join(" ");
            return (
              <g
                key={node.id}
                className={cls}
                transform={`translate(${x},${y})`}
                data-testid="lineage-node"
                data-node-id={node.id}
                data-kind={node.kind}
                data-centre={isCentre ? "true" : undefined}
                data-complete={isComplete ? "true" : "false"}
                onPointerEnter={() => setHovered(node.id)}
                onPointerLeave={() => setHovered((h2) => (h2 === node.id ? null : h2))}
              >
                <a href={hrefOf(node)} onClick={(e) => open(e, node)} data-testid="lineage-node-link" aria-label={tooltip(node).split("\n")[0]}>
                  <title>{tooltip(node)}</title>
                  {node.kind === "registry" ? (
                    <path d={`M8,0 H${w - 8} L${w},8 V${h - 8} L${w - 8},${h} H8 L0,${h - 8} V8 Z`} className="node-box" />
                  ) : (
                    <rect width={w} height={h} rx={node.kind === "run" ? 4 : 12} className="node-box" />
                  )}
                  {node.kind === "run" && <rect width={4} height={h} rx={2} className="node-state-bar" />}
                  <text x={12} y={8 + LINE_HEIGHT - 3} className="node-text">
                    {lines.map((line, i) => (
                      <tspan key={i} x={12} dy={i === 0 ? 0 : LINE_HEIGHT} className={i === 0 ? "node-title" : "node-sub"} data-line={i}>
                        {clip(line, i === 0 ? (isComplete ? 27 : 24) : 30)}
                      </tspan>
                    ))}
                  </text>
                  {node.kind === "registry" && <RegistryChips node={node} />}
                </a>
                {!isComplete && (
                  <g
                    className={waiting.has(node.id) ? "node-expand busy" : "node-expand"}
                    transform={`translate(${w - 11},11)`}
                    role="button"
                    tabIndex={0}
                    aria-label={`Show what ${lines[0] ?? node.id} comes from and goes to`}
                    data-testid="expand-node"
                    data-node-id={node.id}
                    onClick={(e) => {
                      e.stopPropagation();
                      expand(node.id);
                    }}
                    onKeyDown={(e) => onExpandKey(e, node.id)}
                  >
                    <title>Show this node's producers and consumers</title>
                    <circle r={8} />
                    <text textAnchor="middle" dy={4}>
                      {waiting.has(node.id) ? "…" : "+"}
                    </text>
                  </g>
                )}
              </g>
            );
          })}
        </g>
      </>
    );
    // `waiting` is derived from expanded/extras, which the deps hold
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [layout, complete, hovered, centreId, uid, graph.edges, expand, expanded, extras]);

  const ready = base.data !== undefined && !base.loading && waiting.size === 0;
  const viewBox = view && width ? `${view.x} ${view.y} ${width / view.scale} ${HEIGHT / view.scale}` : `0 0 ${Math.max(width, 1)} ${HEIGHT}`;
  return (
    <div className="lineage" data-testid={testId}>
      <div className="toolbar lineage-toolbar">
        <label>
          Depth{" "}
          <select
            value={depth}
            onChange={(e) => setQuery({ depth: e.target.value === "2" ? undefined : e.target.value })}
            data-testid="lineage-depth"
            aria-label="Hops shown around the centre"
          >
            {DEPTHS.map((d) => (
              <option key={d} value={d}>
                {d}
              </option>
            ))}
          </select>
        </label>
        <button type="button" onClick={() => zoomBy(1.25)} aria-label="Zoom in" data-testid="lineage-zoom-in">
          +
        </button>
        <button type="button" onClick={() => zoomBy(0.8)} aria-label="Zoom out" data-testid="lineage-zoom-out">
          −
        </button>
        <button type="button" onClick={() => fit(true)} data-testid="lineage-fit">
          Fit all
        </button>
        <button
          type="button"
          onClick={() => {
            const at = nodeCentre(layout, centreId);
            if (at) setView((v) => v && centreOn(v, at, width, HEIGHT));
          }}
        >
          Centre
        </button>
        {expanded.length > 0 && (
          <button
            type="button"
            onClick={() => {
              // failed expansions may be tried again
              setExtras((e) => Object.fromEntries(Object.entries(e).filter(([, x]) => x.graph)));
              setQuery({ expand: undefined });
            }}
            data-testid="lineage-reset"
          >
            Collapse expanded ({expanded.length})
          </button>
        )}
        <span className="muted" data-testid="lineage-counts">
          {graph.nodes.length} node{graph.nodes.length === 1 ? "" : "s"}, {graph.edges.length} edge{graph.edges.length === 1 ? "" : "s"}
        </span>
        {(base.loading || waiting.size > 0) && <span className="muted">Loading…</span>}
        <span className="spacer" />
        <span className="muted small-text">Drag to pan, scroll to zoom; + shows a node&apos;s neighbours.</span>
      </div>
      {base.error && <div className="error">{base.error}</div>}
      {expansionErrors.map((e, i) => (
        <div key={i} className="error">
          {e}
        </div>
      ))}
      <div className="lineage-box" ref={boxRef}>
        <svg
          ref={svgRef}
          width="100%"
          height={HEIGHT}
          viewBox={viewBox}
          className="lineage-svg"
          onPointerDown={onPointerDown}
          data-testid="lineage-graph"
          data-state={ready ? "ready" : "loading"}
          data-node-count={graph.nodes.length}
          data-edge-count={graph.edges.length}
          data-centre={centreId}
          data-scale={view ? view.scale.toFixed(3) : undefined}
          role="group"
          onDragStart={(e) => e.preventDefault()}
          aria-label={`Lineage graph: ${graph.nodes.length} nodes`}
        >
          <defs>
            <marker id={`arrow-${uid}`} viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
              <path d="M0,0 L10,5 L0,10 z" className="arrow-head" />
            </marker>
            <marker id={`arrow-${uid}-hot`} viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
              <path d="M0,0 L10,5 L0,10 z" className="arrow-head hot" />
            </marker>
          </defs>
          {drawing}
        </svg>
        {base.data && graph.edges.length === 0 && (
          <div className="lineage-empty muted" data-testid="lineage-empty">
            Nothing was logged from or used by this {centre.kind === "run" ? "run" : "version"} yet.
          </div>
        )}
      </div>
    </div>
  );
}
