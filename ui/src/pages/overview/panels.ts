// The overview's metric panels: the queries behind them, built from what Heron collects with
// no configuration (the kubelet's cAdvisor and resource endpoints, every target's `up`) and
// from the logs, and the explorer link each panel opens.
import { href } from "../../lib/router";
import { ALL_LOGS } from "./overview";
import type { OverviewRange } from "./overview";

/**
 * cAdvisor's per-container series: `image` is set on containers only (the pod's own cgroup and
 * the node's have none), and the kubelet's resource endpoint, which repeats CPU and memory,
 * has no `image` label at all, so the same usage is not counted twice.
 */
const CONTAINERS = 'image!=""';

export interface RangePanel {
  id: string;
  title: string;
  query: string;
  unit?: string;
  /** The query's language: PromQL opens the metrics explorer, LogQL the logs explorer. */
  language: "promql" | "logql";
}

export const CPU_BY_NAMESPACE = `sum by (namespace) (rate(container_cpu_usage_seconds_total{${CONTAINERS}}[5m]))`;
export const MEMORY_BY_NAMESPACE = `sum by (namespace) (container_memory_working_set_bytes{${CONTAINERS}})`;
export const CPU_BY_POD = `sum by (namespace, pod) (rate(container_cpu_usage_seconds_total{${CONTAINERS}}[5m]))`;
export const MEMORY_BY_POD = `sum by (namespace, pod) (container_memory_working_set_bytes{${CONTAINERS}})`;
/** Error lines per second by namespace, by Loki's detected level (as the error list's first query). */
export const ERROR_LOG_RATE = `sum by (namespace) (rate(${ALL_LOGS} | detected_level=~"error|critical|fatal" [5m]))`;

export const RANGE_PANELS: RangePanel[] = [
  { id: "cpu-ns", title: "CPU by namespace (cores)", query: CPU_BY_NAMESPACE, language: "promql" },
  { id: "mem-ns", title: "Memory by namespace (working set)", query: MEMORY_BY_NAMESPACE, unit: "bytes", language: "promql" },
  { id: "cpu-pod", title: "CPU by pod (cores)", query: CPU_BY_POD, language: "promql" },
  { id: "mem-pod", title: "Memory by pod (working set)", query: MEMORY_BY_POD, unit: "bytes", language: "promql" },
  { id: "err-rate", title: "Error log lines by namespace (per second)", query: ERROR_LOG_RATE, language: "logql" },
];

/**
 * Restarts per container over the range. The demo (and a plain cluster) has no
 * kube-state-metrics, so there is no `kube_pod_container_status_restarts_total`; what Heron's
 * own collection can answer is the container's start time: the kubelet's resource endpoint
 * keeps one series per container whose value moves at every restart, so `changes()` counts
 * them. (cAdvisor's series carry the container id, so a restart starts a new series there and
 * adds no change: the sum counts each restart once.)
 */
export function restartsQuery(range: OverviewRange): string {
  return `sum by (namespace, pod, container) (changes(container_start_time_seconds{container!=""}[${range}])) > 0`;
}

export const TARGETS_DOWN = "up == 0";

/** The explorer a panel's query came from, over the overview's range. */
export function panelLink(query: string, language: "promql" | "logql", range: OverviewRange, table = false): string {
  if (language === "logql") return href("/logs", { query, from: `now-${range}`, to: "now" });
  return href("/metrics", { query, from: `now-${range}`, table: table ? "0" : undefined });
}
