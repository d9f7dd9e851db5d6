// Dark and light themes: the system setting by default, with a manual choice kept in
// localStorage. The choice is applied as data-theme on <html>; CSS variables do the rest.
export type ThemeChoice = "system" | "light" | "dark";

const KEY = "heron-theme";

export function storedTheme(): ThemeChoice {
  const v = localStorage.getItem(KEY);
  return v === "light" || v === "dark" ? v : "system";
}

export function effectiveTheme(choice: ThemeChoice = storedTheme()): "light" | "dark" {
  if (choice !== "system") return choice;
  return window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
}

export function applyTheme(choice: ThemeChoice): void {
  if (choice === "system") localStorage.removeItem(KEY);
  else localStorage.setItem(KEY, choice);
  document.documentElement.dataset.theme = effectiveTheme(choice);
  window.dispatchEvent(new Event("heron:theme"));
}

/** Charts read colours from CSS variables; this gives one by name for the current theme. */
export function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}
