// The overview's pure parts: its range choices, the queries it runs, and the link from an
// error line to its stream on the logs page.
import type { LogEntry } from "../../lib/entries";
import { quote } from "../../lib/logql";
import { href } from "../../lib/router";

export const RANGES = ["1h", "6h", "24h"] as const;
export type OverviewRange = (typeof RANGES)[number];

export const RANGE_MS: Record<OverviewRange, number> = { "1h": 3_600_000, "6h": 21_600_000, "24h": 86_400_000 };

export function rangeFromParam(v: string | null): OverviewRange {
  return (RANGES as readonly string[]).includes(v ?? "") ? (v as OverviewRange) : "1h";
}

export const ALL_LOGS = '{namespace=~".+"}';
/** Lines whose detected_level says error (Loki's level names for the error end of the scale). */
export const ERRORS_QUERY = `${ALL_LOGS} | detected_level=~"error|critical|fatal"`;
/**
 * Lines Loki's level detection left `unknown` but that say ERROR (`ERROR: deadlock ...`: Loki
 * looks for `err:` or `[error]`, not `ERROR:`). The logs page's level column calls them errors
 * (lib/level.ts), so the overview does too.
 */
export const UNDETECTED_ERRORS_QUERY = String.raw`${ALL_LOGS} | detected_level="unknown" |~ "(?i)\\b(error|err|fatal|panic|critical)\\b"`;

/** The newest `n` error entries of both queries (each newest first), by the UI's own level. */
export function newestErrors(detected: LogEntry[], undetected: LogEntry[], n: number): LogEntry[] {
  const more = undetected.filter((e) => e.level === "error" || e.level === "critical");
  return [...detected, ...more]
    .sort((a, b) => (BigInt(b.tsNs) > BigInt(a.tsNs) ? 1 : BigInt(b.tsNs) < BigInt(a.tsNs) ? -1 : 0))
    .slice(0, n);
}

/** The labels that name a stream for a person: namespace, pod, container (else all of them). */
const STREAM_KEYS = ["namespace", "pod", "container"];

export function streamSelector(labels: Record<string, string>): string {
  const keys = STREAM_KEYS.filter((k) => labels[k]);
  const use = keys.length ? keys : Object.keys(labels).sort();
  return `{${use.map((k) => `${k}=${quote(labels[k])}`).join(", ")}}`;
}

/** The logs page for one stream over the overview's range. */
export function streamLink(labels: Record<string, string>, range: OverviewRange): string {
  return href("/logs", { query: streamSelector(labels), from: `now-${range}`, to: "now" });
}

/** "api / checkout-7d9f-abcde": where a line came from, shortest form first. */
export function streamTitle(labels: Record<string, string>): string {
  const parts = [labels.namespace, labels.pod ?? labels.app ?? labels.service_name].filter(Boolean);
  return parts.length ? parts.join(" / ") : streamSelector(labels);
}
