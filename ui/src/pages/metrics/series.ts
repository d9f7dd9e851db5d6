// A result series for a person: its legend name as Prometheus writes it (`name{a="b"}`), and
// the links between metrics and logs (a series' pod logs; a log line's pod metrics).
import { quote } from "../../lib/logql";
import { href } from "../../lib/router";

/** Label values quoted as PromQL and Prometheus' UI write them (Go's %q for plain text). */
function promQuote(v: string): string {
  return JSON.stringify(v);
}

/**
 * `name{a="b", c="d"}` with the labels in name order; `name` alone without other labels, `{}`
 * for a series with no labels at all (a scalar turned vector, an aggregation over everything).
 */
export function seriesLabel(metric: Record<string, string>): string {
  const name = metric.__name__ ?? "";
  const keys = Object.keys(metric)
    .filter((k) => k !== "__name__")
    .sort();
  if (keys.length === 0) return name || "{}";
  return `${name}{${keys.map((k) => `${k}=${promQuote(metric[k])}`).join(", ")}}`;
}

/** The LogQL selector for a series' container (namespace and pod required, container if set). */
export function logsSelector(metric: Record<string, string>): string | null {
  if (!metric.namespace || !metric.pod) return null;
  const keys = ["namespace", "pod", "container"].filter((k) => metric[k]);
  return `{${keys.map((k) => `${k}=${quote(metric[k])}`).join(", ")}}`;
}

/** The logs explorer for a series' pod over the same range, or null if it names no pod. */
export function logsLink(metric: Record<string, string>, from: string, to: string): string | null {
  const selector = logsSelector(metric);
  return selector ? href("/logs", { query: selector, from, to }) : null;
}

/** The queries the explorer opens for one pod: CPU (cores) and memory (working set) by container. */
export function podQueries(namespace: string, pod: string): string[] {
  const sel = `namespace=${promQuote(namespace)}, pod=${promQuote(pod)}, container!=""`;
  return [
    `sum by (container) (rate(container_cpu_usage_seconds_total{${sel}}[5m]))`,
    `sum by (container) (container_memory_working_set_bytes{${sel}})`,
  ];
}

/** The metrics explorer for the pod a log line came from, or null without a pod label. */
export function podMetricsLink(labels: Record<string, string>, from: string, to: string): string | null {
  if (!labels.pod || !labels.namespace) return null;
  const q = new URLSearchParams();
  for (const query of podQueries(labels.namespace, labels.pod)) q.append("query", query);
  if (from) q.set("from", from);
  if (to) q.set("to", to);
  return `/metrics?${q}`;
}
