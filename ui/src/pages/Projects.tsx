import { Link } from "../App";
import { formatAgo, formatTime } from "../lib/format";
import { useCall } from "../lib/data";
import { hrefFor } from "../lib/url";

export function ProjectsPage() {
  const projects = useCall("list_projects", {}, "projects");
  if (projects.error) return <div className="error">Could not load projects: {projects.error}</div>;
  if (!projects.data) return <div className="loading">Loading projects…</div>;
  if (projects.data.length === 0)
    return (
      <div className="empty">
        <h2>No projects yet</h2>
        <p>
          Log a run with <code>kiseki.init(project="my-project")</code>, or run <code>kiseki demo</code>.
        </p>
      </div>
    );
  return (
    <section className="page">
      <h1>Projects</h1>
      <table className="grid" data-testid="projects-table">
        <thead>
          <tr>
            <th>Project</th>
            <th className="num">Runs</th>
            <th>Last activity</th>
            <th>Created</th>
          </tr>
        </thead>
        <tbody>
          {projects.data.map((p) => (
            <tr key={p.name} data-project={p.name}>
              <td>
                <Link to={hrefFor({ name: "workspace", project: p.name })}>{p.name}</Link>
              </td>
              <td className="num" data-testid="run-count">
                {p.run_count}
              </td>
              <td title={formatTime(p.last_activity)}>{formatAgo(p.last_activity)}</td>
              <td>{formatTime(p.created_at)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
