import type { ComponentChildren } from "preact";

/** One series: its legend name, its labels, and [epoch ms, value] points (NaN/null gaps allowed). */
export interface ChartSeries {
  name: string;
  labels: Record<string, string>;
  points: [number, number | null][];
  /** A CSS colour or a CSS variable name (`--level-error`); charts pick one when absent. */
  color?: string;
}

export interface VolumeChartProps {
  /** The query as the user wrote it; the chart asks /index/volume_range or runs count_over_time. */
  query: string;
  start: number; // epoch ms
  end: number; // epoch ms
  /** Called with the dragged-over range (epoch ms) to zoom into. */
  onZoom: (start: number, end: number) => void;
  /** Bumped by the page to refetch (refresh, new results). */
  refreshKey?: number;
  height?: number;
}

export interface TimeSeriesChartProps {
  series: ChartSeries[];
  start: number;
  end: number;
  step: number; // ms
  onZoom?: (start: number, end: number) => void;
  height?: number;
  ariaLabel: string;
  stacked?: boolean;
  /** "bytes" formats values as kB/MB; any other text is appended to the numbers. */
  unit?: string;
  /** Extra content after a series' legend entry (the metrics explorer's "Logs" link). */
  legendExtra?: (series: ChartSeries) => ComponentChildren;
}
