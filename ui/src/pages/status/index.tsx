// The status page: build and storage, ingest rates, the agents that pushed lately, and the
// effective settings. Everything comes from /api/v1/status/* and refreshes every 10 s.
import type { ComponentChildren } from "preact";
import { useCallback, useRef, useState } from "preact/hooks";
import { TimeSeriesChart } from "../../components/chart";
import { RefreshHead } from "../../components/refreshhead";
import { useVisibleInterval } from "../../lib/refresh";
import { updateParams, useLocation } from "../../lib/router";
import {
  filterSettings,
  rateSeries,
  rateSummary,
  status,
  type Agents,
  type BuildInfo,
  type Ingestion,
  type RuntimeInfo,
  type SettingRow,
  type StorageInfo,
} from "./data";
import { formatAgo, formatBytes, formatCount, formatRate, formatSeconds } from "./format";
import "./status.css";

const REFRESH_MS = 10_000;

interface Loaded<T> {
  data?: T;
  error?: string;
}

interface Snapshot {
  build: Loaded<BuildInfo>;
  runtime: Loaded<RuntimeInfo>;
  storage: Loaded<StorageInfo>;
  ingestion: Loaded<Ingestion>;
  agents: Loaded<Agents>;
  settings: Loaded<SettingRow[]>;
  at: number; // epoch ms of the last refresh
}

const NAMES = ["buildinfo", "runtimeinfo", "storage", "ingestion", "agents", "settings"] as const;

function useStatus(): { snap: Snapshot | null; refresh: () => void; busy: boolean } {
  const [snap, setSnap] = useState<Snapshot | null>(null);
  const [busy, setBusy] = useState(false);
  const ctrl = useRef<AbortController | null>(null);
  const refresh = useCallback(() => {
    ctrl.current?.abort();
    const c = new AbortController();
    ctrl.current = c;
    setBusy(true);
    Promise.allSettled(NAMES.map((n) => status<unknown>(n, c.signal))).then((results) => {
      if (c.signal.aborted) return;
      setBusy(false);
      setSnap((prev) => {
        // A failed call keeps the last good data beside its error, so a blip blanks nothing.
        const pick = <T,>(i: number, old: Loaded<T> | undefined): Loaded<T> => {
          const r = results[i];
          return r.status === "fulfilled"
            ? { data: r.value as T }
            : { data: old?.data, error: r.reason instanceof Error ? r.reason.message : String(r.reason) };
        };
        return {
          build: pick(0, prev?.build),
          runtime: pick(1, prev?.runtime),
          storage: pick(2, prev?.storage),
          ingestion: pick(3, prev?.ingestion),
          agents: pick(4, prev?.agents),
          settings: pick(5, prev?.settings),
          at: Date.now(),
        };
      });
    });
  }, []);
  // A hidden tab asks nothing; coming back, it catches up at once if it skipped a refresh.
  useVisibleInterval(refresh, REFRESH_MS, () => ctrl.current?.abort());
  return { snap, refresh, busy };
}

function Failed({ what, error }: { what: string; error?: string }) {
  if (!error) return null;
  return (
    <p role="alert" class="error status-error">
      Could not load {what}: {error}
    </p>
  );
}

function Section({ id, title, children }: { id: string; title: string; children: ComponentChildren }) {
  return (
    <section class="status-section" aria-labelledby={`status-${id}`}>
      <h2 id={`status-${id}`}>{title}</h2>
      {children}
    </section>
  );
}

function Facts({ label, rows }: { label: string; rows: [string, ComponentChildren][] }) {
  return (
    <dl class="status-facts" aria-label={label}>
      {rows.map(([k, v]) => (
        <div class="status-fact">
          <dt>{k}</dt>
          <dd>{v}</dd>
        </div>
      ))}
    </dl>
  );
}

function BuildAndStorage({ snap }: { snap: Snapshot }) {
  const b = snap.build.data;
  const r = snap.runtime.data;
  const s = snap.storage.data;
  return (
    <Section id="build" title="Build and storage">
      <Failed what="the build info" error={snap.build.error} />
      <Failed what="the runtime info" error={snap.runtime.error} />
      <Failed what="the storage numbers" error={snap.storage.error} />
      <div class="status-cards">
        {b && r && (
          <Facts
            label="Build"
            rows={[
              ["Version", <span data-testid="status-version">Heron {b.heronVersion}</span>],
              ["Query API", `Prometheus ${b.version} compatible`],
              ["Python", `${b.pythonImplementation} ${b.pythonVersion}`],
              ["Started", new Date(r.startTime).toLocaleString()],
              ["Uptime", formatSeconds(r.uptimeSeconds)],
              ["Host", r.hostname],
              ["Retention", r.storageRetention],
            ]}
          />
        )}
        {s && (
          <Facts
            label="Storage"
            rows={[
              ["Series", `${formatCount(s.series)} (${formatCount(s.logStreams)} log streams, ${formatCount(s.metricSeries)} metric series)`],
              ["On disk", `${formatBytes(s.diskBytes)} (${formatBytes(s.dataDirFreeBytes)} free)`],
              ["Blocks", `${formatCount(s.blocks)} (${formatBytes(s.blocksBytes)})`],
              ["Head", `${formatCount(s.headSeries)} series, ${formatBytes(s.headBytes)}`],
              ["WAL", formatBytes(s.walBytes)],
              ["Retention", `${formatSeconds(s.retentionSeconds)}${s.retentionBytes ? ` or ${formatBytes(s.retentionBytes)}` : ", no size budget"}`],
              ["Stored since start", `${formatCount(s.logEntriesTotal)} lines (${formatBytes(s.logBytesTotal)}), ${formatCount(s.samplesTotal)} samples`],
              ["Refused since start", formatCount(s.rejectedTotal)],
            ]}
          />
        )}
      </div>
    </Section>
  );
}

function IngestionSection({ snap }: { snap: Snapshot }) {
  const ing = snap.ingestion.data;
  const lines = ing ? rateSummary(ing.rates, "entriesPerSecond") : null;
  const bytes = ing ? rateSummary(ing.rates, "bytesPerSecond") : null;
  const end = snap.at;
  const start = ing ? end - ing.rangeSeconds * 1000 : end;
  const step = ing ? ing.intervalSeconds * 1000 : 10_000;
  return (
    <Section id="ingestion" title="Ingestion">
      <Failed what="the ingestion rates" error={snap.ingestion.error} />
      {ing && (
        <>
          <Facts
            label="Ingest rates"
            rows={[
              ["Lines now", lines ? formatRate(lines.latest, "lines") : "—"],
              ["Bytes now", bytes ? formatRate(bytes.latest, "bytes") : "—"],
              [`Average, last ${formatSeconds(ing.rangeSeconds)}`, lines && bytes ? `${formatRate(lines.average, "lines")}, ${formatRate(bytes.average, "bytes")}` : "—"],
              ["Stored since start", `${formatCount(ing.totals.entries)} lines, ${formatBytes(ing.totals.bytes)}`],
            ]}
          />
          {ing.rates.length < 2 && (
            <p class="muted">The charts fill in as the server samples its counters, every {formatSeconds(ing.intervalSeconds)}.</p>
          )}
          <div class="status-charts">
            <div class="status-chart">
              <h3>Lines per second</h3>
              <TimeSeriesChart
                series={[rateSeries(ing.rates, "entriesPerSecond", "lines/s")]}
                start={start}
                end={end}
                step={step}
                height={150}
                ariaLabel="Lines ingested per second"
              />
            </div>
            <div class="status-chart">
              <h3>Bytes per second</h3>
              <TimeSeriesChart
                series={[rateSeries(ing.rates, "bytesPerSecond", "bytes/s")]}
                start={start}
                end={end}
                step={step}
                height={150}
                unit="bytes"
                ariaLabel="Log bytes ingested per second"
              />
            </div>
          </div>
        </>
      )}
    </Section>
  );
}

function AgentsSection({ snap }: { snap: Snapshot }) {
  const a = snap.agents.data;
  return (
    <Section id="agents" title="Agents">
      <Failed what="the agents" error={snap.agents.error} />
      {a && a.agents.length === 0 && (
        <p class="muted">No agent has pushed in the last {formatSeconds(a.keepSeconds)}.</p>
      )}
      {a && a.agents.length > 0 && (
        <div class="status-scroll" role="region" aria-label="Agents table" tabIndex={0}>
          <table class="status-table">
            <caption class="sr-only">
              Agents that pushed in the last {formatSeconds(a.keepSeconds)}; rates over the last{" "}
              {formatSeconds(a.windowSeconds)}
            </caption>
            <thead>
              <tr>
                <th scope="col">Node</th>
                <th scope="col">Source</th>
                <th scope="col">Last contact</th>
                <th scope="col" class="status-num">Lines/s</th>
                <th scope="col" class="status-num">Bytes/s</th>
                <th scope="col" class="status-num status-wide">Pushes</th>
              </tr>
            </thead>
            <tbody>
              {a.agents.map((g) => (
                <tr key={`${g.node}|${g.userAgent}|${g.remoteAddr}`}>
                  <td class="mono status-node">{g.node || <span class="muted">no node label</span>}</td>
                  <td>
                    {g.userAgent || <span class="muted">no User-Agent</span>}
                    <span class="muted"> from {g.remoteAddr || "unknown"}</span>
                  </td>
                  <td title={new Date(g.lastContact * 1000).toLocaleString()}>{formatAgo(g.lastContact, snap.at)}</td>
                  <td class="status-num">{formatCount(g.linesPerSecond)}</td>
                  <td class="status-num">{formatBytes(g.bytesPerSecond)}/s</td>
                  <td class="status-num status-wide">{formatCount(g.pushes)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {a.total > a.agents.length && (
            <p class="muted">
              Showing {formatCount(a.agents.length)} of {formatCount(a.total)} agents.
            </p>
          )}
        </div>
      )}
    </Section>
  );
}

function SettingsSection({ snap }: { snap: Snapshot }) {
  const loc = useLocation();
  const filter = loc.params.get("filter") ?? "";
  const rows = snap.settings.data;
  const shown = rows ? filterSettings(rows, filter) : [];
  return (
    <Section id="settings" title="Settings">
      <Failed what="the settings" error={snap.settings.error} />
      {rows && (
        <>
          <div class="status-filter">
            <label for="status-filter">Filter settings</label>
            <input
              id="status-filter"
              type="search"
              value={filter}
              placeholder="name, value or description"
              onInput={(e) => updateParams({ filter: (e.target as HTMLInputElement).value }, { replace: true })}
              onKeyDown={(e) => {
                if (e.key === "Escape" && filter) {
                  e.preventDefault();
                  updateParams({ filter: undefined }, { replace: true });
                }
              }}
            />
            <span class="muted" aria-live="polite">
              {shown.length} of {rows.length}
            </span>
          </div>
          {shown.length === 0 ? (
            <p class="muted">No setting matches “{filter}”.</p>
          ) : (
            <div class="status-scroll" role="region" aria-label="Settings table" tabIndex={0}>
              <table class="status-table status-settings">
                <caption class="sr-only">Effective settings; secrets are never shown</caption>
                <thead>
                  <tr>
                    <th scope="col">Setting</th>
                    <th scope="col">Value</th>
                    <th scope="col">Default</th>
                    <th scope="col">Meaning</th>
                  </tr>
                </thead>
                <tbody>
                  {shown.map((r) => (
                    <tr key={r.name} data-changed={r.value !== r.default ? "true" : undefined}>
                      <th scope="row" class="mono">
                        {r.name}
                      </th>
                      <td class="mono status-value">
                        {r.value === "" ? <span class="muted">(empty)</span> : r.value}
                        {r.value !== r.default && <span class="status-badge">changed</span>}
                      </td>
                      <td class="mono status-value muted">{r.default === "" ? "(empty)" : r.default}</td>
                      <td>
                        {r.help}
                        <div class="muted status-how">
                          <code>{r.flag}</code>, <code>{r.env}</code>
                        </div>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </>
      )}
    </Section>
  );
}

export default function StatusPage() {
  const { snap, refresh, busy } = useStatus();
  return (
    <main class="page status-page" aria-busy={snap === null}>
      <RefreshHead title="Status" at={snap?.at} every="10 s" busy={busy} onRefresh={refresh} label="Refresh status now" />
      {snap && (
        <>
          <BuildAndStorage snap={snap} />
          <IngestionSection snap={snap} />
          <AgentsSection snap={snap} />
          <SettingsSection snap={snap} />
        </>
      )}
    </main>
  );
}
