import { useState, type MouseEvent, type ReactNode } from "react";
import { AuthPrompt } from "./components/AuthPrompt";
import { applyTheme, initialTheme, type Theme } from "./lib/theme";
import { hrefFor, navigate, parseRoute, useLocation, type Route } from "./lib/url";
import { ArtifactCollectionPage } from "./pages/ArtifactCollection";
import { ArtifactsPage } from "./pages/Artifacts";
import { ArtifactVersionPage } from "./pages/ArtifactVersion";
import { ComparePage } from "./pages/Compare";
import { ProjectsPage } from "./pages/Projects";
import { RegisteredModelPage, RegistryPage } from "./pages/Registry";
import { RunPage } from "./pages/RunPage";
import { WorkspacePage } from "./pages/Workspace";

/** An in-app link: a real <a href> (open in new tab works) that navigates without reloading. */
export function Link(props: { to: string; children: ReactNode; className?: string; title?: string; testId?: string }) {
  const onClick = (e: MouseEvent<HTMLAnchorElement>) => {
    if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(props.to);
    window.scrollTo(0, 0);
  };
  return (
    <a href={props.to} onClick={onClick} className={props.className} title={props.title} data-testid={props.testId}>
      {props.children}
    </a>
  );
}

function Breadcrumbs({ route }: { route: Route }) {
  const items: ReactNode[] = [
    <Link key="home" to="/">
      Projects
    </Link>,
  ];
  if ("project" in route) {
    items.push(
      <Link key="p" to={hrefFor({ name: "workspace", project: route.project })}>
        {route.project}
      </Link>,
    );
  }
  if (route.name === "run") items.push(<span key="r">{route.run}</span>);
  if (route.name === "compare") items.push(<span key="c">compare</span>);
  if (route.name === "artifacts" || route.name === "artifact" || route.name === "artifactVersion") {
    items.push(
      <Link key="a" to={hrefFor({ name: "artifacts", project: route.project })}>
        artifacts
      </Link>,
    );
  }
  if (route.name === "artifact") items.push(<span key="n">{route.artifact}</span>);
  if (route.name === "artifactVersion") {
    items.push(
      <Link key="n" to={hrefFor({ name: "artifact", project: route.project, artifact: route.artifact })}>
        {route.artifact}
      </Link>,
      <span key="v">{route.version}</span>,
    );
  }
  if (route.name === "registry" || route.name === "registryModel") {
    items.push(
      <Link key="reg" to={hrefFor({ name: "registry" })}>
        registry
      </Link>,
    );
  }
  if (route.name === "registryModel") items.push(<span key="m">{route.model}</span>);
  return (
    <nav className="crumbs" aria-label="Breadcrumb">
      {items.map((item, i) => (
        <span key={i}>
          {i > 0 && <span className="sep">/</span>}
          {item}
        </span>
      ))}
    </nav>
  );
}

export function App() {
  const { pathname } = useLocation();
  const route = parseRoute(pathname);
  const [theme, setTheme] = useState<Theme>(initialTheme);
  const toggle = () => {
    const next = theme === "dark" ? "light" : "dark";
    applyTheme(next);
    setTheme(next);
  };
  let page: ReactNode;
  switch (route.name) {
    case "projects":
      page = <ProjectsPage />;
      break;
    case "workspace":
      page = <WorkspacePage key={route.project} project={route.project} theme={theme} />;
      break;
    case "run":
      page = <RunPage key={`${route.project}/${route.run}`} project={route.project} runId={route.run} theme={theme} />;
      break;
    case "compare":
      page = <ComparePage key={route.project} project={route.project} theme={theme} />;
      break;
    case "artifacts":
      page = <ArtifactsPage key={route.project} project={route.project} />;
      break;
    case "artifact":
      page = <ArtifactCollectionPage key={`${route.project}/${route.artifact}`} project={route.project} name={route.artifact} />;
      break;
    case "artifactVersion":
      page = (
        <ArtifactVersionPage
          key={`${route.project}/${route.artifact}/${route.version}`}
          project={route.project}
          name={route.artifact}
          tag={route.version}
        />
      );
      break;
    case "registry":
      page = <RegistryPage />;
      break;
    case "registryModel":
      page = <RegisteredModelPage key={route.model} name={route.model} />;
      break;
    case "notfound":
      page = (
        <div className="empty">
          <h2>Nothing here</h2>
          <p>
            No page at <code>{route.path}</code>. <Link to="/">Go to the projects list.</Link>
          </p>
        </div>
      );
  }
  return (
    <div className="app">
      <header className="topbar">
        <Link to="/" className="brand" title="軌跡: trajectory">
          kiseki
        </Link>
        <Breadcrumbs route={route} />
        <span className="spacer" />
        {"project" in route && (
          <Link to={hrefFor({ name: "artifacts", project: route.project })} testId="nav-artifacts">
            Artifacts
          </Link>
        )}
        <Link to={hrefFor({ name: "registry" })} testId="nav-registry">
          Registry
        </Link>
        <button type="button" className="ghost" onClick={toggle} data-testid="theme-toggle" aria-label="Toggle theme">
          {theme === "dark" ? "☀ Light" : "☾ Dark"}
        </button>
      </header>
      <AuthPrompt />
      <main>{page}</main>
    </div>
  );
}
