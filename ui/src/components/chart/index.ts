// uPlot charts for the whole UI: the stacked log-volume histogram and time-series graphs.
// uPlot itself loads on the first chart drawn.
export type { ChartSeries, VolumeChartProps, TimeSeriesChartProps } from "./types";
export { VolumeChart } from "./VolumeChart";
export { TimeSeriesChart } from "./TimeSeriesChart";
export { seriesFromMatrix, seriesName, formatBytes, formatCount, volumeQuery } from "./data";
