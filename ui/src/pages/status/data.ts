// The status APIs' shapes (docs/api.md, "Heron's status"), their fetchers, and the page's
// pure logic: the settings filter and the ingest-rate chart series.
import { getJSON } from "../../lib/api";
import type { ChartSeries } from "../../components/chart";

export interface BuildInfo {
  version: string; // the Prometheus release whose API Heron follows (for Grafana's feature detection)
  heronVersion: string; // Heron's own
  pythonVersion: string;
  pythonImplementation: string;
}

export interface RuntimeInfo {
  startTime: string;
  serverTime: string;
  uptimeSeconds: number;
  hostname: string;
  storageRetention: string;
  ready: boolean;
}

export interface StorageInfo {
  series: number;
  logStreams: number;
  metricSeries: number;
  headSeries: number;
  headBytes: number;
  blocks: number;
  blocksBytes: number;
  walBytes: number;
  diskBytes: number;
  dataDirFreeBytes: number;
  retentionSeconds: number;
  retentionBytes: number;
  logEntriesTotal: number;
  logBytesTotal: number;
  samplesTotal: number;
  rejectedTotal: number;
}

export interface RatePoint {
  start: number; // Unix seconds
  end: number;
  entriesPerSecond: number;
  bytesPerSecond: number;
  samplesPerSecond: number;
}

export interface Ingestion {
  intervalSeconds: number;
  rangeSeconds: number;
  totals: { entries: number; bytes: number; samples: number };
  rates: RatePoint[];
}

export interface Agent {
  node: string;
  userAgent: string;
  remoteAddr: string;
  firstSeen: number;
  lastContact: number;
  pushes: number;
  linesPerSecond: number;
  bytesPerSecond: number;
}

export interface Agents {
  windowSeconds: number;
  keepSeconds: number;
  total: number;
  agents: Agent[];
}

export interface SettingRow {
  name: string;
  value: string;
  default: string;
  flag: string;
  env: string;
  help: string;
}

interface Envelope<T> {
  status: string;
  data: T;
}

export async function status<T>(name: string, signal?: AbortSignal): Promise<T> {
  const body = await getJSON<Envelope<T>>(`/api/v1/status/${name}`, {}, signal);
  return body.data;
}

/** Settings whose name, value, flag, variable or help contains every word (any case). */
export function filterSettings(rows: SettingRow[], text: string): SettingRow[] {
  const words = text.toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) return rows;
  return rows.filter((r) => {
    const hay = `${r.name} ${r.value} ${r.flag} ${r.env} ${r.help}`.toLowerCase();
    return words.every((w) => hay.includes(w));
  });
}

/** Chart series for one rate: a point at each interval's end (epoch ms). */
export function rateSeries(rates: RatePoint[], key: "entriesPerSecond" | "bytesPerSecond", name: string): ChartSeries {
  return { name, labels: {}, points: rates.map((r) => [Math.round(r.end * 1000), r[key]]) };
}

/** The newest interval's rate and the average over all of them (weighted by length). */
export function rateSummary(rates: RatePoint[], key: "entriesPerSecond" | "bytesPerSecond"): { latest: number; average: number } | null {
  if (rates.length === 0) return null;
  let total = 0;
  let seconds = 0;
  for (const r of rates) {
    total += r[key] * (r.end - r.start);
    seconds += r.end - r.start;
  }
  return { latest: rates[rates.length - 1][key], average: seconds > 0 ? total / seconds : 0 };
}
