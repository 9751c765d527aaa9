// Light and dark themes: follows the system unless the user picked one (kept in localStorage).
export type Theme = "light" | "dark";

export function initialTheme(): Theme {
  const saved = localStorage.getItem("kiseki.theme");
  if (saved === "light" || saved === "dark") return saved;
  return window.matchMedia?.("(prefers-color-scheme: dark)").matches ? "dark" : "light";
}

export function applyTheme(theme: Theme): void {
  document.documentElement.dataset["theme"] = theme;
  localStorage.setItem("kiseki.theme", theme);
}

/** A CSS variable's current value (charts draw on canvas and need real colours). */
export function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}
