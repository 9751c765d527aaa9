// Chart panels for every metric, in sections by key prefix. (Basic version.)
import type { Catalogue } from "../api/client";
import type { Theme } from "../lib/theme";
import type { ChartRun, RunGroup } from "../lib/types";
import { MetricPanel } from "./MetricPanel";

export interface PanelGridProps {
  project: string;
  runs: ChartRun[];
  groups: RunGroup[] | null;
  catalogue: Catalogue | undefined;
  theme: Theme;
  liveVersion: Record<string, number>;
}

export function sectionOf(key: string): string {
  const i = key.indexOf("/");
  return i > 0 ? key.slice(0, i) : "Charts";
}

export function PanelGrid(props: PanelGridProps) {
  const keys = props.catalogue?.metrics ?? [];
  const sections = new Map<string, string[]>();
  for (const key of keys) {
    const s = sectionOf(key);
    sections.set(s, [...(sections.get(s) ?? []), key]);
  }
  return (
    <section className="panels" data-testid="panels">
      {[...sections.entries()].map(([name, sectionKeys]) => (
        <div key={name} className="section" data-section={name}>
          <h3>{name}</h3>
          <div className="panel-row">
            {sectionKeys.map((key) => (
              <MetricPanel key={key} project={props.project} metric={key} runs={props.runs} theme={props.theme} />
            ))}
          </div>
        </div>
      ))}
    </section>
  );
}
