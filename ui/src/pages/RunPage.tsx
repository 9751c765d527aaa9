import type { Theme } from "../lib/theme";
import { useCall } from "../lib/data";

export function RunPage({ project, runId }: { project: string; runId: string; theme: Theme }) {
  const run = useCall("get_run", { path: { project, run_id: runId } }, `${project}/${runId}`);
  if (run.error) return <div className="error">{run.error}</div>;
  if (!run.data) return <div className="loading">Loading run…</div>;
  return (
    <section className="page" data-testid="run-page">
      <h1>{run.data.name}</h1>
      <p>{run.data.state}</p>
    </section>
  );
}
