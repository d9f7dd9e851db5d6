// The URL is the UI's state: every page reads its parameters from location.search, and every
// change that a user would want to share or go back to is a history entry (navigate), while
// transient refinements replace the current entry (navigate with replace).
import { useEffect, useState } from "preact/hooks";

export interface Location {
  path: string;
  params: URLSearchParams;
}

const EVENT = "heron:navigate";

function current(): Location {
  return { path: window.location.pathname, params: new URLSearchParams(window.location.search) };
}

/** Build `/path?k=v` from a path and parameters, skipping empty values (shorter shared links). */
export function href(path: string, params: Record<string, string | undefined> = {}): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== "") q.set(k, v);
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

export function navigate(url: string, opts: { replace?: boolean } = {}): void {
  const now = window.location.pathname + window.location.search;
  if (url === now) return;
  if (opts.replace) window.history.replaceState(null, "", url);
  else window.history.pushState(null, "", url);
  window.dispatchEvent(new Event(EVENT));
}

/** Merge parameters into the current URL (undefined or "" removes one). */
export function updateParams(changes: Record<string, string | undefined>, opts: { replace?: boolean } = {}): void {
  const params = new URLSearchParams(window.location.search);
  for (const [k, v] of Object.entries(changes)) {
    if (v === undefined || v === "") params.delete(k);
    else params.set(k, v);
  }
  const s = params.toString();
  navigate(window.location.pathname + (s ? `?${s}` : ""), opts);
}

/** The current location; re-renders on back/forward and on navigate(). */
export function useLocation(): Location {
  const [loc, setLoc] = useState(current);
  useEffect(() => {
    const on = () => setLoc(current());
    window.addEventListener("popstate", on);
    window.addEventListener(EVENT, on);
    return () => {
      window.removeEventListener("popstate", on);
      window.removeEventListener(EVENT, on);
    };
  }, []);
  return loc;
}

/** Left clicks on in-app links navigate without a page load; modified clicks open tabs as usual. */
export function onLinkClick(e: MouseEvent): void {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const a = (e.target as HTMLElement).closest("a");
  if (!a || a.target || a.origin !== window.location.origin || a.hasAttribute("download")) return;
  e.preventDefault();
  navigate(a.pathname + a.search);
}
