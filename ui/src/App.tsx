import { useState, type MouseEvent, type ReactNode } from "react";
import { AuthPrompt } from "./components/AuthPrompt";
import { applyTheme, initialTheme, type Theme } from "./lib/theme";
import { hrefFor, navigate, parseRoute, useLocation, type Route } from "./lib/url";
import { ComparePage } from "./pages/Compare";
import { ProjectsPage } from "./pages/Projects";
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
  if (route.name === "workspace" || route.name === "run" || route.name === "compare") {
    items.push(
      <Link key="p" to={hrefFor({ name: "workspace", project: route.project })}>
        {route.project}
      </Link>,
    );
  }
  if (route.name === "run") items.push(<span key="r">{route.run}</span>);
  if (route.name === "compare") items.push(<span key="c">compare</span>);
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
        <button type="button" className="ghost" onClick={toggle} data-testid="theme-toggle" aria-label="Toggle theme">
          {theme === "dark" ? "☀ Light" : "☾ Dark"}
        </button>
      </header>
      <AuthPrompt />
      <main>{page}</main>
    </div>
  );
}
