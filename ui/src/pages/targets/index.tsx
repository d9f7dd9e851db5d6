// The Targets page (`/targets`): scrape pools and their targets from /api/v1/targets, with
// health, labels, last scrape and last error; filtered by health and searched by label or URL
// (both in the URL), refreshed every 10 s while the tab is visible.
import { useCallback, useRef, useState } from "preact/hooks";
import { RefreshHead } from "../../components/refreshhead";
import { useVisibleInterval } from "../../lib/refresh";
import { updateParams, useLocation } from "../../lib/router";
import {
  fetchTargets,
  formatAgo,
  formatScrapeDuration,
  groupPools,
  HEALTH_FILTERS,
  matchesDropped,
  parseHealth,
  podLogsLink,
  scrapeTime,
  searchWords,
  sortedLabels,
  type ActiveTarget,
  type DroppedTarget,
  type HealthFilter,
  type Labels,
  type Pool,
  type TargetsData,
} from "./data";
import "./targets.css";

const REFRESH_MS = 10_000;
// A cluster can drop thousands of discovered targets; the page draws this many and says so.
const DROPPED_SHOWN = 200;
// A pool with more targets shows this many (failing ones first) until asked for all: a
// thousand-pod pool would otherwise redraw thousands of rows at every refresh and keystroke.
const ROWS_SHOWN = 100;

interface Snapshot {
  data?: TargetsData;
  error?: string;
  at: number; // epoch ms of the last answer (the "now" that ages are measured from)
}

function useTargets(): { snap: Snapshot | null; refresh: () => void; busy: boolean } {
  const [snap, setSnap] = useState<Snapshot | null>(null);
  const [busy, setBusy] = useState(false);
  const ctrl = useRef<AbortController | null>(null);
  const refresh = useCallback(() => {
    ctrl.current?.abort();
    const c = new AbortController();
    ctrl.current = c;
    setBusy(true);
    fetchTargets(c.signal).then(
      (data) => {
        if (c.signal.aborted) return;
        setBusy(false);
        setSnap({ data, at: Date.now() });
      },
      (e: unknown) => {
        if (c.signal.aborted) return;
        setBusy(false);
        // A failed refresh keeps the last good answer beside its error, so a blip blanks nothing.
        const error = e instanceof Error ? e.message : String(e);
        setSnap((prev) => ({ data: prev?.data, error, at: prev?.at ?? Date.now() }));
      },
    );
  }, []);
  // A hidden tab asks nothing; coming back, it catches up at once if it skipped a refresh.
  useVisibleInterval(refresh, REFRESH_MS, () => ctrl.current?.abort());
  return { snap, refresh, busy };
}

const HEALTH_TEXT: Record<HealthFilter, string> = { all: "All", up: "Up", down: "Down", unknown: "Unknown" };

function HealthBadge({ health }: { health: ActiveTarget["health"] }) {
  return (
    <span class={`targets-health targets-health-${health}`}>
      <span class="targets-health-dot" aria-hidden="true" />
      {health.toUpperCase()}
    </span>
  );
}

function Chips({ labels, label }: { labels: Labels; label: string }) {
  const pairs = sortedLabels(labels);
  if (pairs.length === 0) return <span class="muted">no labels</span>;
  return (
    <ul class="targets-chips" aria-label={label}>
      {pairs.map(([k, v]) => (
        <li class="targets-chip mono">
          <span class="targets-chip-name">{k}</span>="{v}"
        </li>
      ))}
    </ul>
  );
}

function LastScrape({ t, now }: { t: ActiveTarget; now: number }) {
  const ms = scrapeTime(t.lastScrape);
  if (ms === null) return <span class="muted">never</span>;
  return (
    <time dateTime={t.lastScrape} title={new Date(ms).toLocaleString()}>
      {formatAgo(ms, now)}
    </time>
  );
}

function TargetRows({ t, now }: { t: ActiveTarget; now: number }) {
  const logs = podLogsLink(t.labels);
  // What discovery gave the target before relabel_configs: how its labels came to be.
  const [discovered, setDiscovered] = useState(false);
  return (
    <>
      <tr class={`targets-row targets-row-${t.health}`} data-testid="target-row">
        <td data-label="Endpoint" class="targets-endpoint">
          <div>
            <a class="mono" href={t.scrapeUrl} rel="noreferrer" target="_blank">
              {t.scrapeUrl}
            </a>
            {logs && (
              <div>
                <a href={logs} aria-label={`Pod logs: ${t.labels.namespace}/${t.labels.pod}`}>
                  Pod logs
                </a>
              </div>
            )}
          </div>
        </td>
        <td data-label="Health">
          <HealthBadge health={t.health} />
        </td>
        <td data-label="Labels">
          <div>
            <Chips labels={t.labels} label={`Labels of ${t.scrapeUrl}`} />
            <button
              type="button"
              class="targets-discovered-toggle"
              aria-expanded={discovered}
              onClick={() => setDiscovered(!discovered)}
              onKeyDown={(e) => {
                if (e.key === "Escape" && discovered) {
                  e.preventDefault();
                  setDiscovered(false);
                }
              }}
            >
              {discovered ? "Hide discovered labels" : "Discovered labels"}
            </button>
            {discovered && (
              <div class="targets-discovered">
                <Chips labels={t.discoveredLabels} label={`Discovered labels of ${t.scrapeUrl}`} />
              </div>
            )}
          </div>
        </td>
        <td data-label="Last scrape" class="targets-nowrap">
          <div>
            <LastScrape t={t} now={now} />
            <div class="muted targets-every">every {t.scrapeInterval}</div>
          </div>
        </td>
        <td data-label="Duration" class="targets-num">
          <span>{scrapeTime(t.lastScrape) === null ? "—" : formatScrapeDuration(t.lastScrapeDuration)}</span>
        </td>
      </tr>
      {t.lastError && (
        <tr class="targets-error-row">
          <td colSpan={5}>
            <div class="targets-error">
              <span class="targets-error-title">Error:</span> <span class="mono">{t.lastError}</span>
            </div>
          </td>
        </tr>
      )}
    </>
  );
}

function PoolSection({ pool, open, onToggle, now }: { pool: Pool; open: boolean; onToggle: () => void; now: number }) {
  const id = `targets-pool-${encodeURIComponent(pool.name).replace(/[^A-Za-z0-9_-]/g, "_")}`;
  const allUp = pool.up === pool.total;
  const [everything, setEverything] = useState(false);
  const rows = everything ? pool.shown : pool.shown.slice(0, ROWS_SHOWN);
  return (
    <section class="targets-pool" aria-labelledby={`${id}-head`}>
      <h2 class="targets-pool-head" id={`${id}-head`}>
        <button type="button" aria-expanded={open} aria-controls={id} onClick={onToggle} class="targets-toggle">
          <span class="targets-caret" aria-hidden="true">
            {open ? "▾" : "▸"}
          </span>
          <span class="mono targets-pool-name">{pool.name}</span>{" "}
          <span class={`targets-count ${allUp ? "targets-count-ok" : "targets-count-bad"}`}>
            {pool.up}/{pool.total} up
          </span>
        </button>
      </h2>
      {open && (
        <div id={id} class="targets-scroll">
          <table class="targets-table">
            <caption class="sr-only">Targets of the scrape pool {pool.name}</caption>
            <thead>
              <tr>
                <th scope="col">Endpoint</th>
                <th scope="col">Health</th>
                <th scope="col">Labels</th>
                <th scope="col">Last scrape</th>
                <th scope="col" class="targets-num">
                  Duration
                </th>
              </tr>
            </thead>
            <tbody>
              {rows.map((t) => (
                <TargetRows key={`${t.scrapeUrl}|${t.labels.instance ?? ""}`} t={t} now={now} />
              ))}
            </tbody>
          </table>
          {rows.length < pool.shown.length && (
            <p class="targets-more">
              <span class="muted">
                Showing {rows.length} of {pool.shown.length}, failing ones first.
              </span>{" "}
              <button type="button" onClick={() => setEverything(true)}>
                Show all {pool.shown.length} targets of {pool.name}
              </button>
            </p>
          )}
        </div>
      )}
    </section>
  );
}

function Dropped({ dropped, words }: { dropped: DroppedTarget[]; words: string[] }) {
  const [open, setOpen] = useState(false);
  const shown = dropped.filter((d) => matchesDropped(d, words));
  if (dropped.length === 0) return null;
  return (
    <section class="targets-pool targets-dropped" aria-labelledby="targets-dropped-head">
      <h2 class="targets-pool-head" id="targets-dropped-head">
        <button type="button" aria-expanded={open} aria-controls="targets-dropped" onClick={() => setOpen(!open)} class="targets-toggle">
          <span class="targets-caret" aria-hidden="true">
            {open ? "▾" : "▸"}
          </span>
          <span>Dropped targets</span>{" "}
          <span class="targets-count">
            {words.length > 0 ? `${shown.length} of ${dropped.length}` : dropped.length}
          </span>
        </button>
      </h2>
      {open && (
        <div id="targets-dropped">
          <p class="muted">Discovered, then dropped by the scrape pool's relabel_configs. Their labels as discovery gave them:</p>
          {shown.length === 0 ? (
            <p class="muted">No dropped target matches the search.</p>
          ) : (
            <ol class="targets-dropped-list">
              {shown.slice(0, DROPPED_SHOWN).map((d) => (
                <li>
                  <Chips labels={d.discoveredLabels} label={`Discovered labels of ${d.discoveredLabels.__address__ ?? "a dropped target"}`} />
                </li>
              ))}
            </ol>
          )}
          {shown.length > DROPPED_SHOWN && (
            <p class="muted">
              Showing {DROPPED_SHOWN} of {shown.length}; search to narrow them down.
            </p>
          )}
        </div>
      )}
    </section>
  );
}

function EmptyState() {
  return (
    <div class="targets-empty">
      <p>
        <strong>No scrape targets.</strong> Inside a Kubernetes cluster the agents scrape their node's kubelet and the
        pods annotated <code>prometheus.io/scrape: "true"</code> (honouring <code>prometheus.io/port</code>,{" "}
        <code>prometheus.io/path</code> and <code>prometheus.io/scheme</code>) with no configuration at all. Anywhere
        else, add a <code>scrape_configs</code> section to <code>heron.yaml</code>, as in a Prometheus config, and start
        with <code>heron server --config heron.yaml</code>:
      </p>
      <pre class="targets-example">{`scrape_configs:
  - job_name: node
    scrape_interval: 15s
    static_configs:
      - targets: ["127.0.0.1:9100"]`}</pre>
    </div>
  );
}

function Toolbar({ health, search, counts }: { health: HealthFilter; search: string; counts: Record<HealthFilter, number> }) {
  return (
    <div class="targets-toolbar">
      <div role="group" aria-label="Filter by health" class="targets-filters">
        {HEALTH_FILTERS.map((h) => (
          <button
            type="button"
            aria-pressed={health === h}
            onClick={() => updateParams({ health: h === "all" ? undefined : h })}
          >
            {HEALTH_TEXT[h]} <span class="targets-filter-count">({counts[h]})</span>
          </button>
        ))}
      </div>
      <label class="targets-search">
        <span>Search</span>
        <input
          type="search"
          aria-label="Search targets by label or URL"
          value={search}
          placeholder='label=value or URL, e.g. namespace=api'
          onInput={(e) => updateParams({ search: (e.target as HTMLInputElement).value }, { replace: true })}
          onKeyDown={(e) => {
            if (e.key === "Escape" && search) {
              e.preventDefault();
              updateParams({ search: undefined }, { replace: true });
            }
          }}
        />
      </label>
    </div>
  );
}

export default function TargetsPage() {
  const loc = useLocation();
  const { filter: health, invalid } = parseHealth(loc.params.get("health"));
  const search = loc.params.get("search") ?? "";
  const words = searchWords(search);
  const { snap, refresh, busy } = useTargets();
  const [collapsed, setCollapsed] = useState<Set<string>>(new Set());

  const data = snap?.data;
  const active = data?.activeTargets ?? [];
  const pools = data ? groupPools(active, health, words) : [];
  const counts: Record<HealthFilter, number> = { all: active.length, up: 0, down: 0, unknown: 0 };
  for (const t of active) counts[t.health] = (counts[t.health] ?? 0) + 1;
  const allCollapsed = pools.length > 0 && pools.every((p) => collapsed.has(p.name));
  const toggle = (name: string) =>
    setCollapsed((prev) => {
      const next = new Set(prev);
      if (next.has(name)) next.delete(name);
      else next.add(name);
      return next;
    });

  return (
    <main class="page targets-page" aria-busy={snap === null}>
      <RefreshHead title="Targets" at={snap?.at} every="10 s" busy={busy} onRefresh={refresh} label="Refresh targets now" />
      {snap?.error && (
        <p role="alert" class="error targets-alert">
          Could not load the targets: {snap.error}
        </p>
      )}
      {invalid !== undefined && (
        <p role="alert" class="error targets-alert">
          There is no health “{invalid}”: showing all targets. The filters are all, up, down and unknown.
        </p>
      )}
      {data && (
        <>
          <Toolbar health={health} search={search} counts={counts} />
          {active.length === 0 && data.droppedTargets.length === 0 && <EmptyState />}
          {active.length === 0 && data.droppedTargets.length > 0 && (
            <p class="muted">No active targets: relabeling dropped every discovered target (see below).</p>
          )}
          {active.length > 0 && pools.length === 0 && (
            <p class="targets-none">
              No target matches {health !== "all" ? `health “${health}”` : ""}
              {health !== "all" && words.length > 0 ? " and " : ""}
              {words.length > 0 ? `“${search}”` : ""}.{" "}
              <button type="button" onClick={() => updateParams({ health: undefined, search: undefined })}>
                Show all targets
              </button>
            </p>
          )}
          {pools.length > 1 && (
            <button
              type="button"
              class="targets-collapse-all"
              onClick={() => setCollapsed(allCollapsed ? new Set() : new Set(pools.map((p) => p.name)))}
            >
              {allCollapsed ? "Expand all pools" : "Collapse all pools"}
            </button>
          )}
          {pools.map((p) => (
            <PoolSection key={p.name} pool={p} open={!collapsed.has(p.name)} onToggle={() => toggle(p.name)} now={snap!.at} />
          ))}
          <Dropped dropped={data.droppedTargets} words={words} />
        </>
      )}
    </main>
  );
}
