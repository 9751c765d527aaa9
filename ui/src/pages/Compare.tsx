import type { Theme } from "../lib/theme";

export function ComparePage({ project }: { project: string; theme: Theme }) {
  return (
    <section className="page" data-testid="compare-page">
      <h1>Compare runs in {project}</h1>
    </section>
  );
}
