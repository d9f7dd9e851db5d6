// uPlot charts for the whole UI: the stacked log-volume histogram and time-series graphs.
// (Contract; the implementation lands with the charts session.)
export type { ChartSeries, VolumeChartProps, TimeSeriesChartProps } from "./types";
