// The overview (`/`): log volume by namespace, metric panels (CPU, memory, error log lines,
// restarts, targets down: MetricPanels.tsx) and the newest error lines, over 1h, 6h or 24h (the
// `range` URL parameter), refreshed every 10 seconds.
import { TimeSeriesChart, seriesFromMatrix, type ChartSeries } from "../../components/chart";
import { getJSON, msToNs, queryLogs, type QueryResponse } from "../../lib/api";
import { flattenStreams, type LogEntry } from "../../lib/entries";
import { updateParams, useLocation } from "../../lib/router";
import { formatDuration, formatTimestamp, pickStep } from "../../lib/time";
import {
  ALL_LOGS,
  ERRORS_QUERY,
  newestErrors,
  RANGES,
  RANGE_MS,
  rangeFromParam,
  streamLink,
  streamTitle,
  UNDETECTED_ERRORS_QUERY,
} from "./overview";
import { useFetch, useTick } from "./hooks";
import { MetricPanels, MetricListPanels } from "./MetricPanels";
import "./overview.css";

const REFRESH_MS = 10_000;

interface Volume {
  series: ChartSeries[];
  start: number;
  end: number;
  step: number;
}

function pushUrl(): string {
  return `${window.location.origin}/loki/api/v1/push`;
}

function EmptyLogs() {
  return (
    <p class="overview-empty">
      No logs yet: point an agent or Grafana Alloy at <code>{pushUrl()}</code> (Loki's push API), or run{" "}
      <code>heron demo</code> to see Heron with simulated pods.
    </p>
  );
}

export default function Page() {
  const loc = useLocation();
  const range = rangeFromParam(loc.params.get("range"));
  const tick = useTick(REFRESH_MS);

  const volume = useFetch<Volume>(
    async (signal) => {
      const end = Date.now();
      const start = end - RANGE_MS[range];
      const step = pickStep(start, end);
      const r = await getJSON<QueryResponse>(
        "/loki/api/v1/index/volume_range",
        { query: ALL_LOGS, targetLabels: "namespace", start: msToNs(start), end: msToNs(end), step: step / 1000 },
        signal,
      );
      if (r.data.resultType !== "matrix") throw new Error(`unexpected ${r.data.resultType} result`);
      const series = seriesFromMatrix(r.data.result).sort((a, b) => a.name.localeCompare(b.name));
      return { series, start, end, step };
    },
    [range, tick],
  );

  const errors = useFetch<LogEntry[]>(
    async (signal) => {
      const end = Date.now();
      const start = end - RANGE_MS[range];
      const run = async (query: string) => {
        const r = await queryLogs(
          { query, startNs: msToNs(start), endNs: msToNs(end + 1), limit: 20, direction: "backward" },
          signal,
        );
        if (r.data.resultType !== "streams") throw new Error(`unexpected ${r.data.resultType} result`);
        return flattenStreams(r.data.result);
      };
      const [detected, undetected] = await Promise.all([run(ERRORS_QUERY), run(UNDETECTED_ERRORS_QUERY)]);
      return newestErrors(detected, undetected, 20);
    },
    [range, tick],
  );

  const stepText = volume.state === "ok" ? ` per ${formatDuration(volume.value.step)}` : "";
  return (
    <main class="page overview">
      <div class="overview-head">
        <h1>Overview</h1>
        <div class="overview-range" role="group" aria-label="Time range">
          {RANGES.map((r) => (
            <button
              type="button"
              aria-pressed={r === range}
              aria-label={`Last ${r}`}
              onClick={() => updateParams({ range: r === "1h" ? undefined : r })}
            >
              {r}
            </button>
          ))}
        </div>
      </div>

      <section class="overview-card" aria-labelledby="overview-volume">
        <h2 id="overview-volume">Log volume by namespace (bytes{stepText})</h2>
        {volume.state === "loading" ? (
          <p class="muted" role="status">
            Loading…
          </p>
        ) : volume.state === "error" ? (
          <p class="error" role="alert">
            The log volume could not be loaded: {volume.message}
          </p>
        ) : volume.value.series.length === 0 ? (
          <EmptyLogs />
        ) : (
          <TimeSeriesChart
            series={volume.value.series}
            start={volume.value.start}
            end={volume.value.end}
            step={volume.value.step}
            stacked
            unit="bytes"
            height={220}
            ariaLabel={`Log volume by namespace over the last ${range}, bytes${stepText}`}
          />
        )}
      </section>

      <MetricPanels range={range} tick={tick} />
      <MetricListPanels range={range} tick={tick} />

      <section class="overview-card" aria-labelledby="overview-errors">
        <h2 id="overview-errors">Recent error lines</h2>
        {errors.state === "loading" ? (
          <p class="muted" role="status">
            Loading…
          </p>
        ) : errors.state === "error" ? (
          <p class="error" role="alert">
            The error lines could not be loaded: {errors.message}
          </p>
        ) : errors.value.length === 0 ? (
          <p class="overview-empty">
            No error lines in the last {range}.{" "}
            {volume.state === "ok" && volume.value.series.length === 0 ? "No logs have arrived yet either." : ""}
          </p>
        ) : (
          <ol class="overview-errors" aria-label={`The ${errors.value.length} newest error lines`}>
            {errors.value.map((e) => (
              <li key={e.id} class="overview-error">
                <div class="overview-error-meta">
                  <time dateTime={new Date(e.tsMs).toISOString()}>{formatTimestamp(e.tsMs, false)}</time>
                  <a href={streamLink(e.stream, range)} aria-label={`Logs of ${streamTitle(e.stream)}`}>
                    {streamTitle(e.stream)}
                  </a>
                  <span class={`overview-level overview-level-${e.level}`}>{e.level}</span>
                </div>
                <div class="overview-error-line mono">{e.line}</div>
              </li>
            ))}
          </ol>
        )}
      </section>
    </main>
  );
}
