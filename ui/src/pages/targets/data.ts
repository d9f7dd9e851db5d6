// The targets API's shape (Prometheus' /api/v1/targets, docs/api.md) and the Targets page's
// pure logic: the health filter and label/URL search from the URL, grouping into scrape pools,
// the pod-logs link, and how ages and durations read.
import { getJSON } from "../../lib/api";
import { href } from "../../lib/router";

export type Labels = Record<string, string>;
export type Health = "up" | "down" | "unknown";

export interface ActiveTarget {
  discoveredLabels: Labels;
  labels: Labels;
  scrapePool: string;
  scrapeUrl: string;
  globalUrl: string;
  lastError: string;
  lastScrape: string; // RFC 3339; Go's zero time (year 1) before the first scrape
  lastScrapeDuration: number; // seconds
  health: Health;
  scrapeInterval: string;
  scrapeTimeout: string;
}

export interface DroppedTarget {
  discoveredLabels: Labels;
}

export interface TargetsData {
  activeTargets: ActiveTarget[];
  droppedTargets: DroppedTarget[];
}

/** Every target, active and dropped, in one call (`state=any`). */
export async function fetchTargets(signal?: AbortSignal): Promise<TargetsData> {
  const body = await getJSON<{ status: string; data: Partial<TargetsData> }>("/api/v1/targets", { state: "any" }, signal);
  return { activeTargets: body.data?.activeTargets ?? [], droppedTargets: body.data?.droppedTargets ?? [] };
}

export const HEALTH_FILTERS = ["all", "up", "down", "unknown"] as const;
export type HealthFilter = (typeof HEALTH_FILTERS)[number];

/** The `health` URL parameter: absent is "all"; anything else unknown is reported, not guessed. */
export function parseHealth(param: string | null): { filter: HealthFilter; invalid?: string } {
  if (param === null || param === "") return { filter: "all" };
  const p = param.toLowerCase();
  if ((HEALTH_FILTERS as readonly string[]).includes(p)) return { filter: p as HealthFilter };
  return { filter: "all", invalid: param };
}

/** The search box's words: every one must appear (any case) in one of the target's
 *  `key=value` label pairs or in its scrape URL. Quotes around a value are optional, so both
 *  `pod=web` and `pod="web` match `pod="web-1"` the way it reads on screen. */
export function searchWords(text: string): string[] {
  return text.toLowerCase().split(/\s+/).filter(Boolean);
}

function labelHaystack(labels: Labels): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(labels)) {
    const key = k.toLowerCase();
    const value = v.toLowerCase();
    out.push(`${key}=${value}`, `${key}="${value}"`);
  }
  return out;
}

function matchesWords(hay: string[], words: string[]): boolean {
  return words.every((w) => hay.some((h) => h.includes(w)));
}

export function matchesTarget(t: ActiveTarget, words: string[]): boolean {
  if (words.length === 0) return true;
  return matchesWords([...labelHaystack(t.labels), t.scrapeUrl.toLowerCase()], words);
}

export function matchesDropped(t: DroppedTarget, words: string[]): boolean {
  if (words.length === 0) return true;
  return matchesWords(labelHaystack(t.discoveredLabels), words);
}

export interface Pool {
  name: string;
  up: number; // over all of the pool's targets, whatever the filter shows
  total: number;
  shown: ActiveTarget[]; // the targets the filter and search let through, in a stable order
}

const HEALTH_ORDER: Record<Health, number> = { down: 0, unknown: 1, up: 2 };

function targetKey(t: ActiveTarget): string {
  return `${HEALTH_ORDER[t.health] ?? 1}\u0000${t.scrapeUrl}\u0000${t.labels.instance ?? ""}`;
}

/** Scrape pools by name, each with its up/total counts and the targets the filter lets
 *  through: failing ones first (a long pool shows its first rows only), then by URL, so a
 *  refresh does not shuffle rows. A pool with none left out is kept out only while a filter
 *  or search is set: with neither, every pool shows. */
export function groupPools(targets: ActiveTarget[], health: HealthFilter, words: string[]): Pool[] {
  const byName = new Map<string, Pool>();
  for (const t of targets) {
    let p = byName.get(t.scrapePool);
    if (!p) {
      p = { name: t.scrapePool, up: 0, total: 0, shown: [] };
      byName.set(t.scrapePool, p);
    }
    p.total++;
    if (t.health === "up") p.up++;
    if ((health === "all" || t.health === health) && matchesTarget(t, words)) p.shown.push(t);
  }
  const filtering = health !== "all" || words.length > 0;
  const pools = [...byName.values()].filter((p) => !filtering || p.shown.length > 0);
  for (const p of pools) p.shown.sort((a, b) => (targetKey(a) < targetKey(b) ? -1 : targetKey(a) > targetKey(b) ? 1 : 0));
  return pools.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Labels in display order: `job` and `instance` first, then by name. */
export function sortedLabels(labels: Labels): [string, string][] {
  const first = ["job", "instance"];
  return Object.entries(labels).sort(([a], [b]) => {
    const ia = first.indexOf(a);
    const ib = first.indexOf(b);
    if (ia !== -1 || ib !== -1) return (ia === -1 ? 99 : ia) - (ib === -1 ? 99 : ib);
    return a < b ? -1 : a > b ? 1 : 0;
  });
}

/** A target of a pod (it has `namespace` and `pod` labels) links to that pod's logs: the
 *  labels are the same names and values the log streams carry (docs/metrics-labels.md). */
export function podLogsLink(labels: Labels): string | null {
  const ns = labels.namespace;
  const pod = labels.pod;
  if (!ns || !pod) return null;
  return href("/logs", { query: `{namespace=${JSON.stringify(ns)}, pod=${JSON.stringify(pod)}}` });
}

/** Epoch ms of a `lastScrape`, or null before the first scrape (Go's zero time, or garbage). */
export function scrapeTime(rfc3339: string): number | null {
  const ms = Date.parse(rfc3339);
  if (!Number.isFinite(ms) || ms <= 0) return null;
  return ms;
}

/** How long ago, for the table: `just now`, `12s ago`, `3m 5s ago`, `2h 1m ago`. */
export function formatAgo(ms: number, nowMs: number): string {
  const s = Math.floor((nowMs - ms) / 1000);
  if (s < 1) return "just now";
  const units: [string, number][] = [
    ["d", 86400],
    ["h", 3600],
    ["m", 60],
    ["s", 1],
  ];
  const parts: string[] = [];
  let rest = s;
  for (const [u, size] of units) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${u}`);
      rest %= size;
      if (parts.length === 2) break;
    } else if (parts.length > 0) {
      break;
    }
  }
  return `${parts.join(" ")} ago`;
}

/** A scrape's duration: `850µs`, `12.3ms`, `1.52s`. */
export function formatScrapeDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "—";
  if (seconds < 0.001) return `${Math.round(seconds * 1_000_000)}µs`;
  if (seconds < 1) {
    const ms = seconds * 1000;
    return `${ms >= 100 ? Math.round(ms) : Number(ms.toFixed(1))}ms`;
  }
  return `${Number(seconds.toFixed(2))}s`;
}
