// The run page's Artifacts tab: the versions the run produced and those it used, then the
// lineage graph centred on the run.
import { formatTime } from "../../lib/format";
import { useAsync } from "../media/hooks";
import { runArtifacts, type VersionInfo } from "./api";
import { AliasChips, MetadataSummary, VersionLink } from "./common";
import { formatBytes } from "./files";
import { LineageGraph } from "./LineageGraph";
import "./artifacts.css";

function VersionsTable({ project, versions, testId, empty }: { project: string; versions: VersionInfo[]; testId: string; empty: string }) {
  if (versions.length === 0)
    return (
      <p className="muted" data-testid={`${testId}-empty`}>
        {empty}
      </p>
    );
  return (
    <table className="grid" data-testid={testId}>
      <thead>
        <tr>
          <th>Version</th>
          <th>Type</th>
          <th>Aliases</th>
          <th className="num">Size</th>
          <th>Metadata</th>
          <th>Created</th>
        </tr>
      </thead>
      <tbody>
        {versions.map((v) => (
          <tr key={v.id} data-testid="run-artifact" data-name={v.name} data-version={v.version}>
            <td>
              <VersionLink project={v.project ?? project} name={v.name} version={v.version} />
            </td>
            <td>{v.type}</td>
            <td>
              <AliasChips aliases={v.aliases} />
            </td>
            <td className="num">{formatBytes(v.size)}</td>
            <td>
              <MetadataSummary metadata={v.metadata} />
            </td>
            <td>{formatTime(v.created_at)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function RunArtifacts({ project, runId }: { project: string; runId: string }) {
  const loaded = useAsync(`${project}\n${runId}`, async (signal) => {
    const [produced, used] = await Promise.all([runArtifacts(project, runId, "produced", signal), runArtifacts(project, runId, "used", signal)]);
    return { produced, used };
  });
  if (loaded.error) return <div className="error">{loaded.error}</div>;
  if (!loaded.data) return <div className="loading">Loading artifacts…</div>;
  const { produced, used } = loaded.data;
  return (
    <div className="run-artifacts" data-testid="run-artifacts">
      <div className="two-col">
        <section className="card">
          <h3>Used ({used.length})</h3>
          <VersionsTable project={project} versions={used} testId="run-artifacts-used" empty="This run used no artifact." />
        </section>
        <section className="card">
          <h3>Produced ({produced.length})</h3>
          <VersionsTable project={project} versions={produced} testId="run-artifacts-produced" empty="This run logged no artifact." />
        </section>
      </div>
      <section className="card">
        <h3>Lineage</h3>
        <LineageGraph key={runId} centre={{ kind: "run", project, runId }} />
      </section>
    </div>
  );
}
