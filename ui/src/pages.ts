// The shell's pages: one folder under pages/ and one entry here each. Pages load lazily, so
// the first load carries only the shell and the page being opened.
import type { ComponentType } from "preact";

export interface Page {
  path: string; // the route; deep links under it (path + "/...") land on the same page
  title: string;
  load: () => Promise<{ default: ComponentType }>;
}

export const PAGES: Page[] = [
  { path: "/", title: "Overview", load: () => import("./pages/overview") },
  { path: "/logs", title: "Logs", load: () => import("./pages/logs") },
  { path: "/metrics", title: "Metrics", load: () => import("./pages/metrics") },
  { path: "/targets", title: "Targets", load: () => import("./pages/targets") },
  { path: "/status", title: "Status", load: () => import("./pages/status") },
];

export function pageFor(path: string): Page | undefined {
  if (path === "/" || path === "") return PAGES[0];
  return PAGES.find((p) => p.path !== "/" && (path === p.path || path.startsWith(p.path + "/")));
}
