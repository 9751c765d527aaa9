// The project workspace: runs table on the left, chart panels on the right. Every setting that
// changes what is shown is a query parameter (filter, q, order, group, hide, ...).
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import type { RunRead } from "../api/client";
import { WorkspaceMedia } from "../components/media/WorkspaceMedia";
import { PanelGrid } from "../components/PanelGrid";
import { RunsTable } from "../components/RunsTable";
import { colorFor } from "../lib/colors";
import { useCall, useLiveUpdates, useProjectRuns } from "../lib/data";
import { groupRuns, quickSearch } from "../lib/grouping";
import type { Theme } from "../lib/theme";
import type { ChartRun } from "../lib/types";
import { decodeList, encodeList, useQueryParam } from "../lib/url";

export function WorkspacePage({ project, theme }: { project: string; theme: Theme }) {
  const [filter] = useQueryParam("filter");
  const [q] = useQueryParam("q");
  const [order] = useQueryParam("order", "-created_at");
  const [group] = useQueryParam("group");
  const [hideParam, setHideParam] = useQueryParam("hide");
  const catalogue = useCall("get_catalogue", { path: { project } }, project);
  const runs = useProjectRuns(project, filter, order);
  // Live: rows are patched in place and charts of changed runs re-query (liveVersion bumps).
  const [liveVersion, setLiveVersion] = useState<Record<string, number>>({});
  // A run the table does not know yet (just started) reloads the list once things settle.
  const knownIds = useMemo(() => new Set(runs.runs.map((r) => r.id)), [runs.runs]);
  const known = useRef(knownIds);
  known.current = knownIds;
  const reloadTimer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  useEffect(() => () => clearTimeout(reloadTimer.current), []);
  const onLive = useCallback(
    (run: RunRead) => {
      // Each event is the whole run row, as list_runs gives it.
      if (run.project !== project) return;
      if (known.current.has(run.id)) runs.patch([run]);
      else {
        clearTimeout(reloadTimer.current);
        reloadTimer.current = setTimeout(runs.reload, 500);
      }
      setLiveVersion((v) => ({ ...v, [run.id]: (v[run.id] ?? 0) + 1 }));
    },
    [runs.patch, runs.reload, project],
  );
  useLiveUpdates(project, onLive);

  const hidden = useMemo(() => new Set(decodeList(hideParam)), [hideParam]);
  const shown = useMemo(() => quickSearch(runs.runs, q), [runs.runs, q]);
  const colors = useMemo(() => new Map(shown.map((r) => [r.id, colorFor(r.id)])), [shown]);
  const groups = useMemo(() => (group ? groupRuns(shown, group) : null), [shown, group]);
  const chartRuns: ChartRun[] = useMemo(() => {
    const groupOf = new Map<string, string>();
    for (const g of groups ?? []) for (const id of g.runIds) groupOf.set(id, g.key);
    return shown
      .filter((r) => !hidden.has(r.id))
      .map((r) => ({ id: r.id, name: r.name, color: colors.get(r.id) ?? "#888", group: groupOf.get(r.id), state: r.state }));
  }, [shown, hidden, colors, groups]);
  const setHidden = useCallback(
    (ids: string[], hide: boolean) => {
      // Read the URL now (not the rendered value) so that calls made back to back compose.
      const next = new Set(decodeList(new URLSearchParams(window.location.search).get("hide")));
      for (const id of ids) {
        if (hide) next.add(id);
        else next.delete(id);
      }
      setHideParam(next.size ? encodeList([...next].sort()) : undefined);
    },
    [setHideParam],
  );

  return (
    <div className="workspace" data-testid="workspace">
      <RunsTable
        project={project}
        runs={shown}
        total={runs.total}
        loading={runs.loading}
        error={runs.error}
        catalogue={catalogue.data}
        colors={colors}
        hidden={hidden}
        onSetHidden={setHidden}
        groups={groups}
      />
      <div className="workspace-main">
        <PanelGrid
          project={project}
          runs={chartRuns}
          groups={groups}
          catalogue={catalogue.data}
          theme={theme}
          liveVersion={liveVersion}
        />
        <WorkspaceMedia project={project} runs={chartRuns} />
      </div>
    </div>
  );
}
