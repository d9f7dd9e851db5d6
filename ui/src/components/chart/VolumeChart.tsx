// The logs page's hit histogram: lines per bucket stacked by detected_level, from
// `sum by (detected_level) (count_over_time(<query> [| drop __error__] [<step>]))`. (Heron's volume endpoints
// cannot group by detected_level: it is structured metadata, not an indexed label.)
import { useEffect, useMemo, useState } from "preact/hooks";
import { queryRange } from "../../lib/api";
import { isMetricQuery } from "../../lib/logql";
import { formatDuration, pickStep } from "../../lib/time";
import { formatCount, levelSeries, totals, volumeQuery } from "./data";
import { Plot, type PlotSeries } from "./Plot";
import type { VolumeChartProps } from "./types";

interface Loaded {
  xs: number[];
  series: PlotSeries[];
  step: number;
}

export function VolumeChart({ query, start, end, onZoom, refreshKey = 0, height = 120 }: VolumeChartProps) {
  const [data, setData] = useState<Loaded | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const q = query.trim();
  const metric = q !== "" && isMetricQuery(q);
  const step = pickStep(start, end);

  useEffect(() => {
    if (q === "" || metric) return;
    const ctl = new AbortController();
    setLoading(true);
    setError(null);
    queryRange({ query: volumeQuery(q, step), start, end, step }, ctl.signal)
      .then((r) => {
        if (r.data.resultType !== "matrix") throw new Error(`unexpected ${r.data.resultType} result`);
        setData({ step, ...levelSeries(r.data.result, start, end, step) });
        setLoading(false);
      })
      .catch((e: Error) => {
        if (ctl.signal.aborted) return;
        setError(e.message);
        setLoading(false);
      });
    return () => ctl.abort();
  }, [q, start, end, refreshKey]);

  const total = useMemo(() => (data ? totals(data.series.map((s) => s.values)).reduce((a, b) => a + b, 0) : 0), [data]);
  if (q === "" || metric) return null;

  const byLevel = data ? totals(data.series.map((s) => s.values)) : [];
  const summary = data
    ? `${total} lines from ${new Date(start).toISOString()} to ${new Date(end).toISOString()}, per ${formatDuration(data.step)}: ` +
      data.series.map((s, i) => `${s.name} ${byLevel[i]}`).join(", ")
    : "";
  return (
    <section class="chart-volume" aria-label="Log volume">
      <div class="chart-header">
        <span class="chart-total" aria-live="polite">
          {data ? `${total.toLocaleString("en-US")} ${total === 1 ? "line" : "lines"}` : loading ? "" : "—"}
        </span>
        {data && <span class="chart-status">per {formatDuration(data.step)} by level · drag to zoom</span>}
        {loading && (
          <span class="chart-status" role="status">
            Loading…
          </span>
        )}
      </div>
      {error ? (
        <p class="chart-message error" role="alert" style={{ minHeight: `${height}px` }}>
          The volume could not be loaded: {error}
        </p>
      ) : data && data.series.length === 0 ? (
        <p class="chart-message muted" style={{ minHeight: `${height}px` }}>
          No lines in this range.
        </p>
      ) : data ? (
        <Plot
          xs={data.xs}
          series={data.series}
          start={start}
          end={end}
          kind="bars"
          stacked
          step={data.step}
          onZoom={onZoom}
          height={height}
          ariaLabel={`Log volume by level, ${formatCount(total)} lines`}
          summary={summary}
        />
      ) : (
        <div style={{ minHeight: `${height}px` }} aria-busy="true" />
      )}
    </section>
  );
}
