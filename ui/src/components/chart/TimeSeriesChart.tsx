// A time-series graph: lines, or stacked areas, with a legend (click to isolate a series),
// hover values and drag-to-zoom.
import { useMemo } from "preact/hooks";
import { align, formatValue, totals } from "./data";
import { Plot } from "./Plot";
import type { TimeSeriesChartProps } from "./types";

const PALETTE = Array.from({ length: 8 }, (_, i) => `--series-${i + 1}`);

export function TimeSeriesChart({ series, start, end, step, onZoom, height = 220, ariaLabel, stacked = false, unit, legendExtra }: TimeSeriesChartProps) {
  const { xs, plotSeries } = useMemo(() => {
    const a = align(series);
    return {
      xs: a.xs,
      plotSeries: series.map((s, i) => ({ name: s.name, color: s.color ?? PALETTE[i % PALETTE.length], values: a.ys[i] })),
    };
  }, [series]);
  if (xs.length === 0) {
    return (
      <p class="chart-message muted" style={{ minHeight: `${height}px` }}>
        No data in this range.
      </p>
    );
  }
  const sums = totals(plotSeries.map((s) => s.values));
  const summary =
    `${series.length} series from ${new Date(start).toISOString()} to ${new Date(end).toISOString()}` +
    `${stacked ? ", stacked" : ""}; totals: ` +
    plotSeries.map((s, i) => `${s.name} ${formatValue(sums[i], unit)}`).join(", ");
  return (
    <Plot
      xs={xs}
      series={plotSeries}
      start={start}
      end={end}
      kind="line"
      stacked={stacked}
      step={step}
      unit={unit}
      onZoom={onZoom}
      height={height}
      ariaLabel={ariaLabel}
      summary={summary}
      legendExtra={legendExtra ? (i) => legendExtra(series[i]) : undefined}
    />
  );
}
