// Pure helpers behind the charts: aligning series on one time axis, stacking, naming series
// from their labels, the level order and colours of the volume histogram, and number formats.
import type { MatrixResult } from "../../lib/api";
import { LEVELS, normalizeLevel } from "../../lib/level";
import { isBareSelector } from "../../lib/logql";
import { formatDuration } from "../../lib/time";
import type { ChartSeries } from "./types";

export interface Aligned {
  xs: number[]; // epoch ms, ascending
  ys: (number | null)[][]; // one array per series, the same length as xs
}

/** Align series on the sorted union of their timestamps; a series without a point there is null. */
export function align(series: ChartSeries[]): Aligned {
  const stamps = new Set<number>();
  for (const s of series) for (const [t] of s.points) stamps.add(t);
  const xs = [...stamps].sort((a, b) => a - b);
  const at = new Map(xs.map((t, i) => [t, i]));
  const ys = series.map((s) => {
    const row: (number | null)[] = new Array(xs.length).fill(null);
    for (const [t, v] of s.points) row[at.get(t)!] = v === null || Number.isNaN(v) ? null : v;
    return row;
  });
  return { xs, ys };
}

/**
 * Running sums for a stacked chart: row i is ys[0] + ... + ys[i], a missing value counting as 0
 * (a stack has no holes). The last row is the total.
 */
export function stack(ys: (number | null)[][]): number[][] {
  const out: number[][] = [];
  let acc: number[] | null = null;
  for (const row of ys) {
    const sums: number[] = row.map((v, i) => (acc ? acc[i] : 0) + (v ?? 0));
    out.push(sums);
    acc = sums;
  }
  return out;
}

/**
 * A grid of bucket timestamps `step` apart covering [start, end], in phase with `anchor` (a
 * timestamp the server returned), so that the buckets it left out (no lines) show as zero.
 */
export function bucketGrid(start: number, end: number, step: number, anchor: number): number[] {
  if (step <= 0 || end < start) return [];
  const first = anchor - Math.floor((anchor - start) / step) * step;
  const out: number[] = [];
  for (let t = first; t <= end && out.length < 100_000; t += step) out.push(t);
  return out;
}

/** A series' legend name from its labels: the value alone for one label, else `{a="x", b="y"}`. */
export function seriesName(labels: Record<string, string>): string {
  const keys = Object.keys(labels).filter((k) => !k.startsWith("__"));
  if (keys.length === 0) return "{}";
  if (keys.length === 1) return labels[keys[0]];
  return `{${keys.map((k) => `${k}=${JSON.stringify(labels[k])}`).join(", ")}}`;
}

/** A Loki/Prometheus matrix (timestamps in seconds, values as strings) as chart series. */
export function seriesFromMatrix(result: MatrixResult[]): ChartSeries[] {
  return result.map((r) => ({
    name: seriesName(r.metric),
    labels: r.metric,
    points: r.values.map(([t, v]) => [Math.round(t * 1000), Number(v)] as [number, number | null]),
  }));
}

const LEVEL_COLOUR: Record<string, string> = {
  critical: "--level-critical",
  error: "--level-error",
  warn: "--level-warn",
  info: "--level-info",
  debug: "--level-debug",
  trace: "--level-trace",
  unknown: "--level-unknown",
};

/** The colour (a CSS variable name) for a detected_level value. */
export function levelColour(level: string): string {
  const l = normalizeLevel(level) ?? (level === "unknown" || level === "" ? "unknown" : null);
  return l ? LEVEL_COLOUR[l] : "--level-unknown";
}

/** Sort key for detected_level values: the most severe first (at the bottom of the stack). */
export function levelRank(level: string): number {
  const l = normalizeLevel(level) ?? level;
  const i = LEVELS.indexOf(l as (typeof LEVELS)[number]);
  return i === -1 ? LEVELS.length - 1 : i;
}

/** `1234567` → `1.2M`; small numbers stay exact. */
export function formatCount(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e9) return `${trim(v / 1e9)}G`;
  if (a >= 1e6) return `${trim(v / 1e6)}M`;
  if (a >= 1e4) return `${trim(v / 1e3)}k`;
  return Number.isInteger(v) ? String(v) : trim(v, 3);
}

/** Bytes in decimal units as Grafana shows volumes: `1.5 kB`, `12 MB`. */
export function formatBytes(v: number): string {
  const units = ["B", "kB", "MB", "GB", "TB", "PB"];
  let i = 0;
  let x = Math.abs(v);
  while (x >= 1000 && i < units.length - 1) {
    x /= 1000;
    i++;
  }
  return `${v < 0 ? "-" : ""}${i === 0 ? trim(x, 3) : trim(x)} ${units[i]}`;
}

function trim(v: number, digits = 1): string {
  return String(Number(v.toFixed(digits)));
}

export function formatValue(v: number, unit?: string): string {
  if (unit === "bytes") return formatBytes(v);
  const s = formatCount(v);
  return unit && unit !== "count" ? `${s} ${unit}` : s;
}

/** Totals per series over the whole range (missing points count as 0). */
export function totals(ys: (number | null)[][]): number[] {
  return ys.map((row) => row.reduce<number>((a, v) => a + (v ?? 0), 0));
}

/**
 * The metric query behind the histogram for a log query and a step (ms). `drop __error__` as
 * Grafana's own volume query has it: lines a parser stage fails on still count, under their
 * level, rather than as extra series. A bare selector has no stage that can fail, and without
 * a stage the server counts from the chunks without running lines through a pipeline.
 */
export function volumeQuery(query: string, step: number): string {
  const q = query.trim();
  const drop = isBareSelector(q) ? "" : " | drop __error__";
  return `sum by (detected_level) (count_over_time(${q}${drop} [${formatDuration(step)}]))`;
}

export interface LevelSeries {
  name: string;
  color: string;
  values: (number | null)[];
}

/** A `sum by (detected_level)` matrix as bucket rows over [start, end], most severe first. */
export function levelSeries(result: MatrixResult[], start: number, end: number, step: number): { xs: number[]; series: LevelSeries[] } {
  const anchor = result.find((r) => r.values.length)?.values[0][0];
  const xs = anchor === undefined ? [] : bucketGrid(start, end, step, Math.round(anchor * 1000));
  const at = new Map(xs.map((t, i) => [t, i]));
  const byLevel = new Map<string, (number | null)[]>();
  for (const r of result) {
    const level = r.metric.detected_level || "unknown";
    const row = byLevel.get(level) ?? new Array<number | null>(xs.length).fill(0);
    for (const [t, v] of r.values) {
      const i = at.get(Math.round(t * 1000));
      if (i !== undefined) row[i] = (row[i] ?? 0) + Number(v);
    }
    byLevel.set(level, row);
  }
  const series = [...byLevel.entries()]
    .sort(([a], [b]) => levelRank(a) - levelRank(b) || a.localeCompare(b))
    .map(([name, values]) => ({ name, color: levelColour(name), values }));
  return { xs, series };
}

