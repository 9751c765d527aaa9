// One chart panel: fetches the bucketed series of its metric for the shown runs and draws them.
import { useEffect, useRef, useState } from "react";
import uPlot from "uplot";
import { call, type Series } from "../api/client";
import { errorText } from "../lib/data";
import type { Theme } from "../lib/theme";
import type { ChartRun } from "../lib/types";

export function MetricPanel(props: { project: string; metric: string; runs: ChartRun[]; theme: Theme }) {
  const { project, metric, runs } = props;
  const [series, setSeries] = useState<Series[]>([]);
  const [error, setError] = useState<string>();
  const host = useRef<HTMLDivElement>(null);
  const runKey = runs.map((r) => r.id).join(",");
  useEffect(() => {
    const ctrl = new AbortController();
    if (runs.length === 0) {
      setSeries([]);
      return;
    }
    call("query_series", {
      path: { project },
      body: { runs: runs.map((r) => r.id), keys: [metric], buckets: 500, x_axis: "step" },
      signal: ctrl.signal,
    })
      .then((res) => setSeries(res.series))
      .catch((err: unknown) => !ctrl.signal.aborted && setError(errorText(err)));
    return () => ctrl.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [project, metric, runKey]);
  useEffect(() => {
    const el = host.current;
    if (!el || series.length === 0) return;
    const xs = Array.from(new Set(series.flatMap((s) => s.x as number[]))).sort((a, b) => a - b);
    const data: uPlot.AlignedData = [
      xs,
      ...series.map((s) => {
        const at = new Map((s.x as number[]).map((x, i) => [x, s.mean[i] as number]));
        return xs.map((x) => at.get(x) ?? null);
      }),
    ];
    const color = new Map(runs.map((r) => [r.id, r.color]));
    const plot = new uPlot(
      {
        width: el.clientWidth || 400,
        height: 220,
        series: [{}, ...series.map((s) => ({ label: s.run, stroke: color.get(s.run) ?? "#888", spanGaps: true }))],
        legend: { show: false },
      },
      data,
      el,
    );
    return () => plot.destroy();
  }, [series, runs]);
  return (
    <div className="panel" data-testid={`panel-${metric}`} data-metric={metric}>
      <div className="panel-title">{metric}</div>
      {error && <div className="error">{error}</div>}
      <div ref={host} className="chart" />
    </div>
  );
}
