// uPlot is loaded on first use (a chart on screen), so the first page load stays small.
import type uPlotType from "uplot";

export type UPlot = typeof uPlotType;

let loading: Promise<UPlot> | null = null;

export function loadUPlot(): Promise<UPlot> {
  loading ??= Promise.all([import("uplot"), import("uplot/dist/uPlot.min.css")]).then(([m]) => m.default);
  // A failed load (a new deploy replaced the chunk) may succeed on the next try.
  loading.catch(() => {
    loading = null;
  });
  return loading;
}
