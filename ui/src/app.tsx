// The application shell: header with navigation and theme switch, the server-down banner,
// and the current page. Everything else lives in pages/.
import type { ComponentType } from "preact";
import { useEffect, useState } from "preact/hooks";
import { useServerUp } from "./lib/health";
import { onLinkClick, useLocation } from "./lib/router";
import { applyTheme, storedTheme, type ThemeChoice } from "./lib/theme";
import { PAGES, pageFor } from "./pages";

function ThemeSwitch() {
  const [choice, setChoice] = useState<ThemeChoice>(storedTheme);
  return (
    <label class="theme-switch">
      <span class="sr-only">Theme</span>
      <select
        aria-label="Theme"
        value={choice}
        onChange={(e) => {
          const v = (e.target as HTMLSelectElement).value as ThemeChoice;
          setChoice(v);
          applyTheme(v);
        }}
      >
        <option value="system">System theme</option>
        <option value="light">Light</option>
        <option value="dark">Dark</option>
      </select>
    </label>
  );
}

function ServerBanner() {
  const up = useServerUp();
  if (up) return null;
  return (
    <div class="banner" role="alert">
      The Heron server cannot be reached. It may be restarting; retrying…
    </div>
  );
}

function NotFound({ path }: { path: string }) {
  return (
    <main class="page">
      <h1>Not found</h1>
      <p>
        There is no page at <code>{path}</code>. <a href="/">Go to the overview</a>.
      </p>
    </main>
  );
}

export function App() {
  const loc = useLocation();
  const page = pageFor(loc.path);
  const [loaded, setLoaded] = useState<{ path: string; Component: ComponentType } | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);

  useEffect(() => {
    if (!page || loaded?.path === page.path) return;
    let live = true;
    setLoadError(null);
    page
      .load()
      .then((m) => live && setLoaded({ path: page.path, Component: m.default }))
      .catch((e) => live && setLoadError(String(e)));
    return () => {
      live = false;
    };
  }, [page?.path]);

  useEffect(() => {
    document.title = page ? `${page.title} · Heron` : "Heron";
  }, [page?.path]);

  useEffect(() => {
    // `/` focuses the query editor, wherever the page put it.
    const onKey = (e: KeyboardEvent) => {
      if (e.key !== "/" || e.ctrlKey || e.metaKey || e.altKey) return;
      const t = e.target as HTMLElement;
      if (t.closest("input, textarea, select, [contenteditable=true]")) return;
      const target =
        document.querySelector<HTMLElement>("[data-query-editor] .cm-content") ??
        document.querySelector<HTMLElement>("[data-query-editor]");
      if (target) {
        e.preventDefault();
        target.focus();
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);

  const Current = page && loaded?.path === page.path ? loaded.Component : null;
  return (
    <div class="shell" onClick={(e) => onLinkClick(e as unknown as MouseEvent)}>
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <header class="topbar">
        <a class="brand" href="/" aria-label="Heron overview">
          <img src="/favicon.svg" alt="" width="22" height="22" />
          <span>Heron</span>
        </a>
        <nav aria-label="Pages">
          {PAGES.map((p) => (
            <a href={p.path} aria-current={page === p ? "page" : undefined}>
              {p.title}
            </a>
          ))}
        </nav>
        <ThemeSwitch />
      </header>
      <ServerBanner />
      <div id="main" class="content">
        {!page ? (
          <NotFound path={loc.path} />
        ) : loadError ? (
          <main class="page">
            <p role="alert" class="error">
              This page could not be loaded ({loadError}). Reload to try again.
            </p>
          </main>
        ) : Current ? (
          <Current />
        ) : (
          <main class="page" aria-busy="true">
            <p class="muted">Loading…</p>
          </main>
        )}
      </div>
    </div>
  );
}
